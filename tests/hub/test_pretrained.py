"""The pretrained models genzoo ships (``pretrained:NAME``): each folder loads with no network
and samples, its card shows the scores its ``eval.json`` holds, ``genzoo list --pretrained``
lists them, a plugin ships its own through the same hook, and one command re-trains and
re-exports them."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import genzoo
from genzoo.cli import main as cli
from genzoo.hub import CARD_FILE, CONFIG_FILE, EVAL_FILE, WEIGHTS_FILE, export
from tests.hub.conftest import TINY

REPO_ROOT = Path(__file__).resolve().parents[2]

#: What genzoo and its plugin distributions ship, and the model each one is.
SHIPPED = {"mnist-vae": "vae", "mnist-gan": "gan", "mnist-dcgan": "dcgan", "mnist-ddpm": "ddpm",
           "mnist-flow-matching": "flow-matching", "mnist-distilled-flow": "distilled-flow",
           "mnist-glow": "glow"}
#: The most the folders may weigh together.
MAX_MEGABYTES = 30


def test_every_shipped_model_is_listed_with_a_folder_in_its_distribution():
    infos = {info.name: info for info in genzoo.list_pretrained()}
    assert set(infos) == set(SHIPPED)
    for name, info in infos.items():
        assert info.folder.is_dir() and (info.folder / CONFIG_FILE).is_file(), name
        assert info.distribution is not None and info.summary
    total = sum(p.stat().st_size for i in infos.values() for p in i.folder.iterdir())
    assert total < MAX_MEGABYTES * 2**20


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_model_loads_offline_and_samples_seeded(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = genzoo.from_pretrained(f"pretrained:{name}")
    assert model.registry_name == SHIPPED[name]
    first, again = model.sample(3, seed=4), model.sample(3, seed=4)
    assert first.shape == (3, 1, 28, 28) and torch.equal(first, again)
    assert 0 <= float(first.min()) and float(first.max()) <= 1


def _card_rows(card: str) -> dict[str, str]:
    """The card's evaluation table: metric label → its value as written."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| ([^|]+?) \| ([^|]+?) \| \[", card,
                                                          re.MULTILINE)}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_card_shows_the_scores_of_its_eval_json(name):
    from genzoo.report.collect import EVAL_METRICS

    folder = genzoo.list_pretrained(name)[0].folder
    result = json.loads((folder / EVAL_FILE).read_text())
    config = json.loads((folder / CONFIG_FILE).read_text())
    card = (folder / CARD_FILE).read_text()
    assert result["model"] == config["model"] == SHIPPED[name]
    assert result["card"]["n"] == 10_000 and result["card"]["data"]["name"] == "mnist"
    assert result["checkpoint"] == "last.pt"  # not a path of the machine that trained it
    rows = _card_rows(card)
    assert set(result["scores"]) <= {key for key in EVAL_METRICS}
    for key, score in result["scores"].items():
        assert rows[EVAL_METRICS[key]] == f"{score['value']:.4g}", key
    index = next(line for line in card.splitlines() if line.startswith("model-index: "))
    metrics = json.loads(index.removeprefix("model-index: "))[0]["results"][0]["metrics"]
    assert {m["type"]: m["value"] for m in metrics} == {k: s["value"] for k, s in
                                                       result["scores"].items()}
    assert f'genzoo.from_pretrained("pretrained:{name}")' in card
    if result.get("bits_per_dim"):
        assert f"bits/dim ↓: {result['bits_per_dim']['bits_per_dim']:.4g}" in card


def test_list_pretrained_shows_each_with_its_scores():
    result = CliRunner().invoke(cli, ["list", "--pretrained"])
    assert result.exit_code == 0, result.output
    for name, model in SHIPPED.items():
        (line,) = [row for row in result.output.splitlines() if row.startswith(f"pretrained:{name} ")]
        assert f" {model} " in line and "×)" in line  # FID beside the floor
    listed = json.loads(CliRunner().invoke(cli, ["list", "--pretrained", "--json", "*glow"]).output)
    (glow,) = listed["pretrained"]
    assert glow["name"] == "pretrained:mnist-glow" and glow["bits_per_dim"] > 0
    assert 0 < glow["megabytes"] < MAX_MEGABYTES and glow["distribution"] == "genzoo-flows"
    both = CliRunner().invoke(cli, ["list", "--pretrained", "--datasets"])
    assert both.exit_code == 2 and "give one" in both.output


def test_genzoo_sample_draws_a_label_from_a_shipped_model_with_no_network(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    out = tmp_path / "threes.png"
    done = subprocess.run([sys.executable, "-m", "genzoo", "sample", "pretrained:mnist-flow-matching",
                           "--label", "3", "-n", "16", "-o", str(out)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = genzoo.from_pretrained("pretrained:mnist-flow-matching")
    threes = model.sample(4, seed=0, labels=torch.full((4,), 3))
    assert not torch.equal(threes, model.sample(4, seed=0, labels=torch.full((4,), 7)))


def test_a_misspelled_or_pinned_shipped_name_gets_one_line():
    with pytest.raises(genzoo.UnknownModelError, match=r"Did you mean 'pretrained:mnist-gan'\?"):
        genzoo.from_pretrained("pretrained:mnist-ganz")
    with pytest.raises(genzoo.ConfigError, match="revision='v1' is for Hub repositories"):
        genzoo.from_pretrained("pretrained:mnist-gan", revision="v1")
    result = CliRunner().invoke(cli, ["sample", "pretrained:nope", "-o", "x.png"])
    assert result.exit_code != 0 and "no pretrained model named 'nope'" in result.output
    assert len(result.output.strip().splitlines()) == 1


class _Shipping:
    """A plugin that ships a model folder, as a third-party distribution would."""

    def __init__(self, folder: Path, name: str = "tiny-vae") -> None:
        self.folder, self.name = folder, name

    @genzoo.hookimpl
    def genzoo_register_pretrained(self, register):
        register(self.name, self.folder, summary="a tiny VAE\nsecond line dropped")


def test_a_plugin_ships_folders_through_the_same_hook(tiny_runs, tmp_path):
    with pytest.raises(genzoo.ConfigError, match="'not an id' is not a Hub repository id"):
        export(tiny_runs / "vae", tmp_path / "never", repo_id="not an id")
    assert not (tmp_path / "never").exists()
    folder = export(tiny_runs / "vae", tmp_path / "tiny-vae")
    genzoo.register_plugin(_Shipping(folder), name="shipping-test")
    try:
        (info,) = genzoo.list_pretrained("tiny-*")
        assert info.summary == "a tiny VAE" and info.plugin == "shipping-test"
        model = genzoo.from_pretrained("pretrained:tiny-vae")
        assert torch.equal(model.sample(2, seed=1), genzoo.from_pretrained(folder).sample(2, seed=1))
        assert model.config.latent_dim == TINY["vae"]["latent_dim"]
        genzoo.register_plugin(_Shipping(tmp_path / "elsewhere"), name="shipping-twice")
        with pytest.raises(genzoo.DuplicateModelError, match="shipped by more than one"):
            genzoo.from_pretrained("pretrained:tiny-vae")
    finally:
        genzoo.unregister_plugin("shipping-test")
        genzoo.unregister_plugin("shipping-twice")
    assert genzoo.list_pretrained("tiny-*") == []
    with pytest.raises(genzoo.PluginError, match="invalid pretrained name"):
        genzoo.register_plugin(_Shipping(folder, name="user/tiny"), name="shipping-bad")


def test_a_missing_shipped_folder_says_to_reinstall(tmp_path):
    genzoo.register_plugin(_Shipping(tmp_path / "gone", name="gone"), name="shipping-gone")
    try:
        with pytest.raises(genzoo.CheckpointError, match="is missing; reinstall"):
            genzoo.from_pretrained("pretrained:gone")
    finally:
        genzoo.unregister_plugin("shipping-gone")


def test_one_command_retrains_evaluates_and_reexports_them(mnist_root, tmp_path):
    env = {**os.environ, "GENZOO_DATA": str(mnist_root), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(REPO_ROOT / "benchmarks" / "pretrained.py"), "--quick",
               "--no-eval", "--only", "mnist-vae", "--out", str(tmp_path / "runs")]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--quick goes with --dest" in refused.stderr
    done = subprocess.run([*command, "--dest", str(tmp_path / "shipped")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "shipped" / "mnist-vae"
    assert {p.name for p in folder.iterdir()} >= {CONFIG_FILE, WEIGHTS_FILE, CARD_FILE}
    assert 'from_pretrained("pretrained:mnist-vae")' in (folder / CARD_FILE).read_text()
    model = genzoo.from_pretrained(folder)
    assert model.registry_name == "vae" and model.config.num_classes == 10
    assert json.loads((tmp_path / "runs" / "mnist-vae" / "zoo.json").read_text())["config"][
        "max_steps"] == 3


def test_the_docs_table_of_shipped_models_is_their_eval_json():
    with (REPO_ROOT / "docs" / "guide" / "pretrained.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["name"] for row in rows] == [f"``pretrained:{name}``" for name in SHIPPED]
    for row in rows:
        name = row["name"].strip("`").removeprefix("pretrained:")
        result = json.loads((genzoo.list_pretrained(name)[0].folder / EVAL_FILE).read_text())
        assert row["FID ↓"] == f"{result['scores']['fid']['value']:.2f}", name
        assert row["precision ↑"] == f"{result['scores']['precision']['value']:.3f}", name
        assert row["recall ↑"] == f"{result['scores']['recall']['value']:.3f}", name


def test_remaking_the_table_keeps_the_training_times_of_runs_not_on_this_machine(tmp_path,
                                                                                 monkeypatch):
    """The table's training times come from the runs; re-making one model on a machine without
    the others' runs keeps theirs as the table had them instead of blanking them."""
    spec = importlib.util.spec_from_file_location("benchmarks_pretrained",
                                                  REPO_ROOT / "benchmarks" / "pretrained.py")
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # its dataclasses look themselves up
    spec.loader.exec_module(script)
    table = tmp_path / "pretrained.csv"
    table.write_bytes((REPO_ROOT / "docs" / "guide" / "pretrained.csv").read_bytes())
    runs = tmp_path / "runs"
    (runs / "mnist-vae").mkdir(parents=True)
    (runs / "mnist-vae" / "zoo.json").write_text(json.dumps({"seconds": 125.0}))
    script.write_table(runs, table)
    with table.open(encoding="utf-8") as file:
        times = {row["name"]: row["training"] for row in csv.DictReader(file)}
    assert times["``pretrained:mnist-vae``"] == "2:05"  # its run is here
    assert times["``pretrained:mnist-glow``"] == "17:43"  # as the table had it
    assert all(times.values())
