"""Running :class:`~tests.hostile.Case` rows, and the small trained runs the rows share.

The runs, tests, sampling, evaluation and memory tables import :func:`run_case` and the
session fixtures here (``from tests.hostile.casework import hostile_base, run_case``). The
trained runs are made once per session, tiny (a few steps on a handful of images), and each
case that changes a run works on its own copy (:func:`copy_run`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.cli import FAST, TINY_VAE, invoke, ok, user_error, write_pngs

from . import Case, fill

@contextmanager
def working_directory(folder: Path) -> Iterator[None]:
    """Run the block in ``folder``."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_case(case: Case, tmp_path: Path, fixtures: dict[str, Any],
             monkeypatch: pytest.MonkeyPatch) -> None:
    """Set ``case`` up in ``tmp_path`` (also the working directory), run its command and check
    what must happen: a one-line user error with the words it must say, or success.

    ``case.setup`` gets ``tmp_path`` and ``fixtures`` with ``monkeypatch`` added.
    """
    monkeypatch.chdir(tmp_path)
    values: dict[str, Any] = {"tmp": tmp_path}
    if case.setup is not None:
        values.update(case.setup(tmp_path, {**fixtures, "monkeypatch": monkeypatch}) or {})
    for name, value in case.env.items():
        monkeypatch.setenv(name, fill((value,), values)[0])
    result = invoke(*fill(case.argv, values))
    if case.expect == "error":
        user_error(result, *case.says)
    else:
        ok(result)
        for fragment in case.says:
            assert fragment in result.output, f"{fragment!r} not in {result.output!r}"
    if case.after is not None:
        case.after(tmp_path, values, result)


def copy_run(run: Path, to: Path) -> Path:
    """A copy of the run folder ``run`` at ``to`` (without its lock folder)."""
    shutil.copytree(run, to, ignore=shutil.ignore_patterns(".genzoo"))
    return to


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes), to check that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".genzoo" not in p.parts}


@pytest.fixture(scope="session")
def hostile_base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The session's shared data and runs, made in one folder ``base``:

    * ``color40``: ``base/data/color40``, 24 colour 40×40 images (no labels);
    * ``vae_run``: a tiny vae trained one epoch on it, launched from ``base`` with the
      *relative* ``--data data/color40``.
    """
    base = tmp_path_factory.mktemp("hostile")
    write_pngs(base / "data" / "color40", 24, size=40, seed=3)
    with working_directory(base):
        ok(invoke("train", "vae", "--data", "data/color40", "--epochs", "1", "--out", "vae_run",
                  "--grid-every", "0", *FAST, *TINY_VAE))
    return {"base": base, "color40": base / "data" / "color40", "vae_run": base / "vae_run"}
