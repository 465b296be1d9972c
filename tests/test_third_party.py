"""The plugin distributions under ``plugins/`` (``genzoo-diffusion``, ``genzoo-flow-matching``),
as a user installs them (``pip install -e plugins/<dist>``; ``make venv`` does): found through
their own entry points, selected and blocked like any plugin, trained, sampled and scored from
the command line in a fresh process.
"""

from __future__ import annotations

from collections.abc import Iterator

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import genzoo
import genzoo.plugins
from genzoo.cli import main
from genzoo.runner import LAST_CHECKPOINT


@pytest.fixture(autouse=True)
def _only_builtin_plugins() -> Iterator[None]:
    """These tests are about the plugin distributions: unlike the core's tests (see
    ``tests/conftest.py``), they see them."""
    genzoo.reload_plugins()
    yield

_SELECTION = ("GENZOO_PLUGINS", "GENZOO_BLOCK_PLUGINS")
DISTRIBUTIONS = {"ddpm": ("genzoo-diffusion", "genzoo_diffusion"),
                 "flow-matching": ("genzoo-flow-matching", "genzoo_flow_matching")}
ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SELECTION}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_each_model_comes_from_its_own_distribution(name):
    dist_name, module = DISTRIBUTIONS[name]
    dist = importlib.metadata.distribution(dist_name)
    assert [(ep.name, ep.value) for ep in dist.entry_points if ep.group == "genzoo"] == [(name, module)]
    requires = " ".join(dist.requires or [])
    assert "genzoo" in requires and "genzoo_gan" not in requires
    info = {i.name: i for i in genzoo.model_infos()}[name]
    assert (info.plugin, info.distribution, info.version) == (name, dist_name, dist.version)
    plugin = importlib.import_module(module)
    assert plugin.GENZOO_PLUGIN_API == genzoo.plugins.PLUGIN_API_VERSION
    assert Path(plugin.__file__).resolve().is_relative_to(ROOT / "plugins" / dist_name)


def test_listing_imports_no_model_code_and_shows_both():
    for module in [m for m in sys.modules if m.startswith(("genzoo_diffusion.", "genzoo_flow_matching."))]:
        del sys.modules[module]
    genzoo.reload_plugins()
    assert {"ddpm", "flow-matching"} <= set(genzoo.list_models())
    assert not [m for m in sys.modules if m.startswith(("genzoo_diffusion.", "genzoo_flow_matching."))]
    listed = CliRunner().invoke(main, ["list"], env=dict.fromkeys(_SELECTION))
    rows = {line.split()[0]: line for line in listed.output.splitlines()[1:]}
    assert "genzoo-diffusion" in rows["ddpm"] and "genzoo-flow-matching" in rows["flow-matching"]


def test_block_and_select_the_plugins(monkeypatch):
    runner = CliRunner()
    unset = dict.fromkeys(_SELECTION)
    result = runner.invoke(main, ["--block-plugins", "ddpm", "list", "--json"], env=unset)
    names = [m["name"] for m in json.loads(result.output)["models"]]
    assert "ddpm" not in names and {"flow-matching", "gan"} <= set(names)
    result = runner.invoke(main, ["--plugins", "flow-matching", "list", "--json"], env=unset)
    assert [m["name"] for m in json.loads(result.output)["models"]] == ["flow-matching"]
    monkeypatch.setenv("GENZOO_BLOCK_PLUGINS", "flow-matching")
    genzoo.reload_plugins()
    with pytest.raises(genzoo.UnknownModelError):
        genzoo.build("flow-matching")
    monkeypatch.delenv("GENZOO_BLOCK_PLUGINS")
    genzoo.reload_plugins()
    assert "flow-matching" in genzoo.list_models()


@pytest.mark.parametrize("name, settings", [
    ("ddpm", ["timesteps=50", "sampler=ddpm"]),
    ("flow-matching", ["sampler=midpoint"]),
])
def test_cli_trains_resumes_and_samples(name, settings, mnist_root, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "genzoo", "train", name, "--data", "mnist",
               "--data-root", str(mnist_root), "--no-download", "--batch-size", "16",
               "--seed", "0", "--no-progress", "--out", str(out), "--set", "base_width=8",
               "--set", "num_classes=10", "--set", "sample_steps=2"]
    for setting in settings:
        command += ["--set", setting]
    done = subprocess.run([*command, "--max-steps", "2"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"trained {name}" in done.stdout
    checkpoint = out / LAST_CHECKPOINT
    assert (out / "grids" / "samples_final.png").is_file()
    done = subprocess.run([*command, "--max-steps", "3", "--resume"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert torch.load(checkpoint, weights_only=True)["step"] == 3
    record = json.loads((out / "run.json").read_text())
    assert record["model"] == name and record["config"]["num_classes"] == 10

    samples = tmp_path / "sevens.png"
    result = CliRunner().invoke(main, ["sample", str(checkpoint), "-n", "4", "-o", str(samples),
                                       "--seed", "1", "--label", "7"])
    assert result.exit_code == 0, result.output
    assert samples.is_file() and "4 samples" in result.output
    model = genzoo.load(checkpoint)
    assert (model.config.base_width, model.config.sample_steps) == (8, 2)
    fewer = tmp_path / "fewer.png"
    result = CliRunner().invoke(main, ["sample", str(checkpoint), "-n", "4", "-o", str(fewer),
                                       "--steps", "1", "--set", "guidance=3"])
    assert result.exit_code == 0, result.output
    assert fewer.is_file() and fewer.read_bytes() != samples.read_bytes()
