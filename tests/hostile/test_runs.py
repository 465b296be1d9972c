"""Hostile inputs: runs that fail and are retried, runs moved or resumed from elsewhere.

A run that failed before its first checkpoint holds no run yet (its ``train.toml`` and
``run.json`` are not settings to replay); ``train.toml`` records a data folder by its absolute
path, and an equivalent path is the same setting; a checkpoint of another run is not resumed
into a run folder, and the error says so.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.cli import FAST, TINY_VAE, invoke, user_error

from . import Case, copy_run, files_of, run_case
from .casework import hostile_base  # noqa: F401 (a fixture)

_TRAIN = ("train", "vae", "--data", "{color40}", "--epochs", "1", "--out", "run",
          "--grid-every", "0", *FAST, *TINY_VAE)


def _failed_first_step(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    """A run that fails at its first step: class-conditional on a folder without labels."""
    user_error(invoke(*[a.replace("{color40}", str(fx["color40"])) for a in _TRAIN],
                      "--set", "num_classes=10"), "labelled batches")
    assert (tmp / "run" / "train.toml").is_file() and not (tmp / "run" / "checkpoints").exists()
    return {"color40": fx["color40"]}


def _trained_classless(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert (tmp / "run" / "checkpoints" / "last.pt").is_file()
    assert json.loads((tmp / "run" / "run.json").read_text())["config"]["num_classes"] == 0
    assert "num_classes" not in tomllib.loads((tmp / "run" / "train.toml").read_text())["config"]


def _moved_run(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    """The shared vae run (trained from another directory with a relative --data) in ``run``."""
    copy_run(fx["vae_run"], tmp / "run")
    return {"color40": fx["color40"], "relative": os.path.relpath(fx["color40"], tmp),
            "dotted": f"{fx['color40']}/../{fx['color40'].name}/"}


def _to_epoch_2(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert "to epoch 2" in result.stdout
    recorded = tomllib.loads((tmp / "run" / "train.toml").read_text())["data"]
    assert Path(recorded).is_absolute() and Path(recorded) == Path(values["color40"]).resolve()


def _two_runs(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    copy_run(fx["vae_run"], tmp / "run")
    (tmp / "evil").mkdir()
    shutil.copy(fx["vae_run"] / "checkpoints" / "last.pt", tmp / "evil" / "config.pt")
    return {"before": files_of(tmp / "run")}


def _run_unchanged(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert files_of(tmp / "run") == values["before"]
    assert "continue it with --resume" not in result.stderr


CASES = [
    Case("first-step-fails-then-corrected-command", _TRAIN, "ok", ("run folder: run",),
         setup=_failed_first_step, after=_trained_classless),
    Case("first-step-fails-then-resume-auto", (*_TRAIN, "--resume", "auto"), "ok",
         ("No checkpoint in run yet",), setup=_failed_first_step, after=_trained_classless),
    Case("resume-a-run-trained-from-another-directory",
         ("train", "--resume", "run", "--epochs", "2"), "ok", setup=_moved_run, after=_to_epoch_2),
    Case("resume-with-the-absolute-data-path",
         ("train", "--resume", "run", "--epochs", "2", "--data", "{color40}"), "ok",
         setup=_moved_run, after=_to_epoch_2),
    Case("resume-with-an-equivalent-relative-data-path",
         ("train", "--resume", "run", "--epochs", "2", "--data", "{relative}"), "ok",
         setup=_moved_run, after=_to_epoch_2),
    Case("resume-with-a-dotted-data-path",
         ("train", "--resume", "run", "--epochs", "2", "--data", "{dotted}"), "ok",
         setup=_moved_run, after=_to_epoch_2),
    Case("resume-another-runs-checkpoint-into-a-run",
         ("train", "--resume", "evil/config.pt", "--out", "run", "--epochs", "2"), "error",
         ("run already holds a run", "evil/config.pt is not its checkpoint", "--resume run",
          "new --out"), setup=_two_runs, after=_run_unchanged),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_runs(case: Case, tmp_path: Path, hostile_base: dict[str, Any],  # noqa: F811
              monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, tmp_path, hostile_base, monkeypatch)
