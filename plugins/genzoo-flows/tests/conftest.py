"""Fixtures of genzoo-flows' tests: a tiny MNIST-layout data folder (random 8-bit images)."""

from __future__ import annotations

from pathlib import Path

from collections.abc import Iterator

import numpy as np
import pytest

import genzoo
from genzoo.data import write_idx


@pytest.fixture(autouse=True, scope="module")
def _flows_discovered() -> Iterator[None]:
    """Discover plugins afresh (genzoo's own tests hide this distribution from discovery)."""
    genzoo.reload_plugins()
    yield


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root whose ``MNIST/raw`` holds 64 training and 32 test images of blobs."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    for split, n in (("train", 64), ("t10k", 32)):
        centres = rng.uniform(8, 20, size=(n, 2, 1, 1))
        blobs = np.exp(-((yy - centres[:, 0]) ** 2 + (xx - centres[:, 1]) ** 2) / 18.0)
        write_idx(raw / f"{split}-images-idx3-ubyte", (blobs * 255).astype(np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8))
    return root
