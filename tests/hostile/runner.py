"""Running :class:`~tests.hostile.Case` rows, and the tiny trained run they share.

A case's ``setup(tmp, fixtures)`` gets its own temporary folder (also the working folder of the
call) and a dict of shared fixtures: ``run`` (a trained tiny VAE run folder, never modified: copy
it with :func:`copy_run`) and ``data_root`` (a tiny MNIST root).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli import FAST, TINY_VAE, invoke, ok, user_error

from . import Case, fill


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> dict[str, Any]:
    """A tiny VAE trained for one epoch (4 steps) on ``tiny_root``: ``{"run", "data_root"}``."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    ok(invoke("train", "vae", "--data-root", tiny_root, "--epochs", "1", "--out", out,
              *TINY_VAE, *FAST))
    return {"run": out, "data_root": tiny_root}


def copy_run(fixtures: dict[str, Any], where: Path) -> Path:
    """A copy of the shared tiny run at ``where`` (cases may change or damage it)."""
    shutil.copytree(fixtures["run"], where)
    return where


def run_case(case: Case, tmp: Path, fixtures: dict[str, Any], monkeypatch: pytest.MonkeyPatch
             ) -> None:
    """Set the case up in ``tmp`` (the working folder), run it, and check its outcome."""
    monkeypatch.chdir(tmp)
    values: dict[str, Any] = {"tmp": tmp, **fixtures}
    if case.setup is not None:
        values.update(case.setup(tmp, fixtures) or {})
    result = invoke(*fill(case.argv, values), env=case.env or None)
    if case.expect == "error":
        user_error(result, *(fragment.format(**values) for fragment in case.says))
    else:
        ok(result)
        for fragment in case.says:
            assert fragment.format(**values) in result.output, result.output
    if case.after is not None:
        case.after(tmp, values)
