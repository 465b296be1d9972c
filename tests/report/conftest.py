"""Run folders to report on, and a real headless Chromium to look at the pages with."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import genzoo
from genzoo.data import InMemoryLoader

#: The Chromium to drive: ``$CHROMIUM``, else one on ``PATH`` (the system package; ``make test``
#: installs it when none is found), else ``None`` for playwright's own (``playwright install``).
CHROMIUM = (os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
            or None)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, mnist_train) -> dict[str, Path]:
    """Two small finished runs, a VAE (with an evaluation beside its checkpoint) and a GAN."""
    base = tmp_path_factory.mktemp("runs")
    loader = InMemoryLoader(mnist_train[:256], batch_size=64)  # 4 steps per epoch
    vae = genzoo.build("vae", hidden_dim=32, latent_dim=4, seed=0)
    vae.fit(loader, epochs=3, out=base / "vae", log_every=2, grid_size=16, progress=False)
    gan = genzoo.build("gan", seed=0, generator_widths=(16, 16, 16, 16), discriminator_widths=(16, 16))
    gan.fit(loader, epochs=2, out=base / "gan", log_every=2, grid_size=16, progress=False,
            grid_every_steps=3)
    evaluation = {"checkpoint": str(base / "vae" / "checkpoints" / "last.pt"), "model": "vae",
                  "fid": {"value": 412.5, "low": 398.25, "high": 427.0},
                  "classifier_score": 3.25, "precision": 0.5, "recall": 0.25,
                  "intervals": {"precision": [0.45, 0.55]},
                  "n": 1000, "dataset": "mnist", "seed": 0,
                  "floor": {"fid": 6.5, "classifier_score": 9.5, "precision": 0.875, "recall": 0.875},
                  "protocol": {"samples": 1000, "bootstrap": 200}}
    (base / "vae" / "checkpoints" / "eval.json").write_text(json.dumps(evaluation))
    return {"vae": base / "vae", "gan": base / "gan"}


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium driven by playwright (never downloaded: the system's browser)."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as err:
            pytest.fail(f"no Chromium to run ({err}): 'make test' installs one, or set CHROMIUM=PATH")
        yield browser
        browser.close()


def copy_run(source: Path, target: Path) -> Path:
    """A copy of a run folder to change without touching the shared one."""
    shutil.copytree(source, target)
    return target
