"""The installed ``genzoo`` script and ``python -m genzoo``, run as real processes: exit codes,
messages on the right stream, and the files they write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from PIL import Image

from tests.cli import FAST, TINY_VAE, tiny_root  # noqa: F401

_SCRIPT = Path(sys.executable).with_name("genzoo")
#: The two ways to start the command line.
STYLES = {"script": [str(_SCRIPT)], "module": [sys.executable, "-m", "genzoo"]}


def run(style: str, *args: object, cwd: Path, data: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GENZOO_PLUGINS", "GENZOO_BLOCK_PLUGINS", "GENZOO_DATA")}
    if data is not None:
        env["GENZOO_DATA"] = str(data)
    return subprocess.run([*STYLES[style], *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _user_error(done: subprocess.CompletedProcess) -> str:
    """Assert exit status 2, nothing on stdout, no traceback; return the ``Error:`` text."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    [start] = [i for i, line in enumerate(done.stderr.splitlines()) if line.startswith("Error:")]
    return "\n".join(done.stderr.splitlines()[start:])


def test_console_script_is_installed() -> None:
    assert _SCRIPT.is_file() and os.access(_SCRIPT, os.X_OK)


def test_train_sample_info_from_the_shell(tiny_root: Path, tmp_path: Path) -> None:  # noqa: F811
    done = run("script", "train", "vae", "--epochs", "2", "--out", "runs/vae", *FAST, *TINY_VAE,
               cwd=tmp_path, data=tiny_root)
    assert done.returncode == 0, done.stderr
    assert "trained vae to epoch 2 (step 8)" in done.stdout
    assert "Traceback" not in done.stderr
    run_dir = tmp_path / "runs" / "vae"
    for name in ("train.toml", "run.json", "metrics.jsonl", "checkpoints/last.pt"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "grids").glob("*.png"))

    done = run("module", "sample", "runs/vae/checkpoints/last.pt", "-n", "16", "-o", "grid.png",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrote a grid of 16 samples to grid.png"
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (4 * 28 + 5 * 2,) * 2

    done = run("script", "info", "runs/vae/checkpoints/last.pt", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert (info["model"], info["epochs"], info["steps"]) == ("vae", 2, 8)
    assert info["config"]["hidden_dim"] == 32


@pytest.mark.parametrize(("style", "args", "fragment"), [
    ("script", ["train", "vae", "--set", "nope=1"], "no option 'nope'"),  # genzoo's own error
    ("module", ["train", "vae", "--precision", "64"], "'64' is not one of"),  # click's
])
def test_bad_usage_exits_2_with_one_line(tmp_path: Path, style: str, args: list[str],
                                         fragment: str) -> None:
    message = _user_error(run(style, *args, cwd=tmp_path))
    assert "\n" not in message and fragment in message
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_missing_data_set_names_the_expected_files(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    message = _user_error(run("module", "train", "vae", "--data", "fashion-mnist", "--no-download",
                              "--out", "run", cwd=tmp_path, data=empty))
    raw = empty / "FashionMNIST" / "raw"
    assert message.startswith("Error: ") and "not found" in message.splitlines()[0]
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        assert str(raw / stem) in message
    assert "GENZOO_DATA" in message
    assert not (tmp_path / "run").exists()


def test_version_and_help(tmp_path: Path) -> None:
    done = run("module", "--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"genzoo, version {version('genzoo')}"
    done = run("script", "train", "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("Usage: genzoo train")
    assert "Examples:" in done.stdout and done.stderr == ""
