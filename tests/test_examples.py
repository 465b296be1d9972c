"""The scripts in ``examples/`` (which the documentation includes) run and write their files.

Each runs in its own process on a small slice of MNIST, all of them side by side; the tests
then check each one's exit status, output and files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@dataclass
class Run:
    args: list[str]
    returncode: int
    output: str
    out: Path

    def check(self) -> None:
        assert self.returncode == 0, f"{' '.join(self.args)} failed:\n{self.output[-4000:]}"


def _runs(base: Path) -> dict[str, list[str]]:
    """Each example's command line on a small data slice, writing under ``base``."""
    return {
        "train_gan": ["--epochs", "1", "--limit", "256", "--batch-size", "64"],
        "train_vae": ["--epochs", "2", "--limit", "256", "--device", "cpu"],
        "resume": ["--epochs", "2", "--limit", "320", "--stop-after", "3", "--check"],
        "custom_folder": [str(base / "digits"), "--demo", "48", "--channels", "3",
                          "--image-size", "16", "--epochs", "1", "--batch-size", "16"],
        "write_a_plugin": ["--epochs", "1", "--limit", "512", "--components", "8"],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("examples")
    env = {**os.environ, "GENZOO_DATA": str(mnist_root), "OMP_NUM_THREADS": "1"}
    started = {}
    for name, args in _runs(base).items():
        out = base / name
        command = [sys.executable, str(EXAMPLES / f"{name}.py"), *args, "--out", str(out)]
        log = (base / f"{name}.log").open("w")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=base)
        started[name] = (process, log, command, out)
    done = {}
    for name, (process, log, command, out) in started.items():
        returncode = process.wait(timeout=600)
        log.close()
        done[name] = Run(command, returncode, (base / f"{name}.log").read_text(), out)
    return done


def test_every_example_is_tested() -> None:
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    assert scripts == set(_runs(Path("."))), "add the new example to _runs()"


def test_train_gan(runs: dict[str, Run]) -> None:
    run = runs["train_gan"]
    run.check()
    assert "trained to epoch 1 (4 steps)" in run.output
    for name in ("checkpoints/last.pt", "grids/samples_final.png", "metrics.jsonl", "run.json"):
        assert (run.out / name).is_file(), name


def test_train_vae(runs: dict[str, Run]) -> None:
    run = runs["train_vae"]
    run.check()
    assert "trained to epoch 2 (4 steps)" in run.output
    for name in ("checkpoints/last.pt", "grids/samples_epoch_0001.png", "grids/samples_final.png",
                 "grids/reconstructions_final.png", "test_real.png", "test_reconstructed.png",
                 "samples_seed1.png"):
        assert (run.out / name).is_file(), name


def test_resume_ends_where_an_uninterrupted_run_does(runs: dict[str, Run]) -> None:
    run = runs["resume"]
    run.check()
    assert "stopped after step 3 (0 epochs complete)" in run.output
    assert "resumed to epoch 2 (6 steps)" in run.output
    assert "identical to the uninterrupted run: True" in run.output
    assert (run.out / "run" / "checkpoints" / "last.pt").is_file()


def test_custom_folder(runs: dict[str, Run]) -> None:
    run = runs["custom_folder"]
    run.check()
    digits = run.out.parent / "digits"
    assert len(list(digits.rglob("*.png"))) == 48
    assert "48 images of shape (3, 16, 16)" in run.output
    assert "trained vae to epoch 1 (3 steps)" in run.output
    assert (run.out / "checkpoints" / "last.pt").is_file()
    assert (run.out / "grids" / "samples_final.png").is_file()


def test_write_a_plugin(runs: dict[str, Run]) -> None:
    run = runs["write_a_plugin"]
    run.check()
    assert "bernoulli-mixture" in run.output.splitlines()[0]  # the models list
    assert "trained to epoch 1 (4 steps)" in run.output
    for name in ("checkpoints/last.pt", "grids/samples_final.png", "components.png"):
        assert (run.out / name).is_file(), name
