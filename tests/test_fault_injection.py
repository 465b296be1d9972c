"""The fault-injection script (benchmarks/fault_injection.py) in its quick mode: training killed
at random points and restarted ends with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_injection.py"


@pytest.mark.slow
def test_killed_and_restarted_training_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--seed", "1", "--work",
                           str(tmp_path)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("round ") for line in lines) == 3
    assert lines[-1].startswith("ok: 3 killed rounds, final weights equal the uninterrupted run's")


def test_a_difference_is_reported(tmp_path: Path) -> None:
    """The comparison fails on weights that differ and on a leftover temporary file."""
    import importlib.util

    import genzoo

    spec = importlib.util.spec_from_file_location("fault_injection", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, seed in (("a", 0), ("b", 1)):
        out = tmp_path / name
        (out / "checkpoints").mkdir(parents=True)
        genzoo.build("vae", hidden_dim=4, latent_dim=2, seed=seed).save(out / "checkpoints" / "last.pt")
        (out / "metrics.jsonl").write_text('{"epoch": 1}\n')
    (tmp_path / "b" / "checkpoints" / ".last.pt.1@host.x.tmp").write_bytes(b"")
    failures = module._compare(tmp_path / "a", tmp_path / "b")
    assert any("weights differ" in f for f in failures)
    assert any("temporary files" in f for f in failures)
    assert module._compare(tmp_path / "a", tmp_path / "a") == []
