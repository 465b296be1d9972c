"""The small trained runs the hostile tables share (``from tests.hostile.casework import
hostile_base``): ``hostile_run``, a tiny VAE trained on MNIST-style files, and ``hostile_base``,
one trained on a colour folder by a relative path. The
trained runs are made once per session, tiny (a few steps on a handful of images), and each
case that changes a run works on its own copy (:func:`copy_run`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from tests.cli import FAST, TINY_VAE, invoke, ok, tiny_root, write_pngs  # noqa: F401 (a fixture)

@pytest.fixture(scope="session")
def hostile_base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The session's shared data and runs, made in one folder ``base``:

    * ``color40``: ``base/data/color40``, 24 colour 40×40 images (no labels);
    * ``vae_run``: a tiny vae trained one epoch on it, launched from ``base`` with the
      *relative* ``--data data/color40``.
    """
    base = tmp_path_factory.mktemp("hostile")
    write_pngs(base / "data" / "color40", 24, size=40, seed=3)
    with contextlib.chdir(base):
        ok(invoke("train", "vae", "--data", "data/color40", "--epochs", "1", "--out", "vae_run",
                  "--grid-every", "0", *FAST, *TINY_VAE))
    return {"base": base, "color40": base / "data" / "color40", "vae_run": base / "vae_run"}


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> dict[str, Any]:
    """A tiny VAE trained for one epoch (4 steps) on ``tiny_root``: ``{"run", "data_root"}``."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    ok(invoke("train", "vae", "--data-root", tiny_root, "--epochs", "1", "--out", out,
              *TINY_VAE, *FAST))
    return {"run": out, "data_root": tiny_root}

