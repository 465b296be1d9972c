"""Shared pieces of the model folder tests: tiny runs of every shipped model, each trained for
two steps into a run folder of its own, and the folders exported from them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import genzoo
from tests.conftest import built_once

#: Every shipped model, at a size whose steps take milliseconds.
TINY: dict[str, dict[str, object]] = {
    "gan": {"latent_dim": 8, "generator_widths": (16, 16, 16, 16), "discriminator_widths": (16, 16)},
    "dcgan": {"channels": 8, "latent_dim": 8},
    "vae": {"hidden_dim": 32, "latent_dim": 4},
    "conv-vae": {"channels": 8, "hidden_dim": 32, "latent_dim": 4},
    "ddpm": {"base_width": 8, "sample_steps": 3, "timesteps": 100},
    "flow-matching": {"base_width": 8, "sample_steps": 3},
    "glow": {"levels": 2, "steps": 2, "hidden": 8},
    "realnvp": {"levels": 2, "steps": 2, "hidden": 8},
}
#: Models trained with a weight EMA (the others keep none): the folder gets the average.
WITH_EMA = frozenset({"gan", "ddpm"})


@pytest.fixture(autouse=True)
def _only_builtin_plugins() -> Iterator[None]:
    """Model folders are for every model: unlike the core's tests (see ``tests/conftest.py``),
    these see the plugin distributions too."""
    genzoo.reload_plugins()
    yield


def images(n: int = 32, seed: int = 0) -> torch.Tensor:
    """``n`` random 1×28×28 ``uint8`` images: enough for two steps of any model."""
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def train_tiny(name: str, out: Path, *, seed: int = 0) -> Path:
    """Train the tiny ``name`` for two steps into the run folder ``out``; return ``out``."""
    model = genzoo.build(name, seed=seed, **TINY[name])
    batches = list(images(32, seed).split(16))
    model.fit(batches, epochs=1, out=out, device="cpu", progress=False, seed=seed,
              ema=0.9 if name in WITH_EMA else 0.0)
    return out


@pytest.fixture(scope="session")
def tiny_runs(shared_dir: Path) -> Path:
    """A folder holding one tiny run folder per shipped model (``tiny_runs / name``), trained
    once per test session (shared by the workers)."""
    def build(folder: Path) -> None:
        genzoo.reload_plugins()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for name in TINY:
                train_tiny(name, folder / name)
        finally:
            torch.set_num_threads(threads)

    return built_once(shared_dir, "hub-tiny-runs", build)
