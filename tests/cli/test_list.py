"""``genzoo list``: the model table, ``--json``, patterns, plugin selection and broken plugins."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest

import genzoo
from tests.cli import invoke, ok
from tests.plugin_packages import fresh_plugins, install_plugin  # noqa: F401


def _rows(stdout: str) -> dict[str, list[str]]:
    """The table's rows by model name, each split on runs of two or more spaces."""
    import re

    lines = stdout.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["MODEL", "PLUGIN", "FROM", "SUMMARY"]
    rows = {}
    for line in lines[1:]:
        if line.startswith(("broken plugin", "no model")):
            continue
        cells = re.split(r"\s{2,}", line)
        rows[cells[0]] = cells
    return rows


def test_list_table_shows_models_with_plugin_version_and_summary() -> None:
    result = ok(invoke("list"))
    rows = _rows(result.stdout)
    assert {"gan", "vae"} <= rows.keys()
    summaries = {i.name: i.summary for i in genzoo.model_infos()}
    for name in ("gan", "vae"):
        assert rows[name] == [name, name, f"genzoo {version('genzoo')}", summaries[name]]
    assert "VAE" in rows["vae"][3] and "GAN" in rows["gan"][3]
    assert "broken plugin" not in result.stdout


def test_list_json() -> None:
    data = json.loads(ok(invoke("list", "--json")).stdout)
    assert set(data) == {"models", "broken"}
    models = {m["name"]: m for m in data["models"]}
    assert {"gan", "vae"} <= models.keys()
    assert models["vae"] == {"name": "vae", "plugin": "vae", "distribution": "genzoo",
                             "version": version("genzoo"), "summary": models["vae"]["summary"]}
    assert models["vae"]["summary"].startswith("MLP VAE")
    assert data["broken"] == []


def test_list_datasets_names_every_set_with_its_splits_and_folder(tmp_path: Path) -> None:
    from genzoo.data import dataset_names

    result = ok(invoke("list", "--datasets", env={"GENZOO_DATA": str(tmp_path)}))
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["DATA", "SET", "IMAGES", "CLASSES", "SPLITS", "FOLDER"]
    names = [line.split()[0] for line in lines[1:] if not line.startswith(("*", "data root"))]
    assert names == dataset_names() and "celeba" in names and "cifar10" in names
    assert "3×64×64" in result.stdout and "unlabeled 100,000*" in result.stdout
    assert f"data root: {tmp_path}" in result.stdout
    data = json.loads(ok(invoke("list", "--datasets", "cifar*", "--json")).stdout)
    assert [d["name"] for d in data["datasets"]] == ["cifar10", "cifar100"]
    assert data["datasets"][0]["splits"] == {"train": 50000, "test": 10000}
    assert data["datasets"][0]["folder"] == "cifar-10-batches-py"


def test_list_pattern_filters_and_says_when_nothing_matches() -> None:
    assert list(_rows(ok(invoke("list", "v*")).stdout)) == ["vae"]
    data = json.loads(ok(invoke("list", "g?n", "--json")).stdout)
    assert [m["name"] for m in data["models"]] == ["gan"]
    result = ok(invoke("list", "zz*"))
    assert _rows(result.stdout) == {}
    assert "no model matches 'zz*'" in result.stdout


def test_block_and_select_plugins(fresh_plugins, tmp_path: Path) -> None:  # noqa: F811
    by_plugin: dict[str, list[str]] = {}
    for info in genzoo.model_infos():
        by_plugin.setdefault(info.plugin, []).append(info.name)
    assert {"gan", "vae"} <= by_plugin.keys() and "vae" in by_plugin["vae"]

    def names(*args: str, env: dict[str, str] | None = None) -> list[str]:
        genzoo.reload_plugins()  # plugins are discovered once per process
        return [m["name"] for m in json.loads(ok(invoke(*args, env=env)).stdout)["models"]]

    all_but = lambda plugin: sorted(n for p, ns in by_plugin.items() if p != plugin for n in ns)  # noqa: E731
    assert names("--block-plugins", "vae", "list", "--json") == all_but("vae")
    assert names("list", "--json", env={"GENZOO_BLOCK_PLUGINS": "gan"}) == all_but("gan")
    assert names("--plugins", "gan", "list", "--json") == sorted(by_plugin["gan"])
    assert names("list", "--json", env={"GENZOO_PLUGINS": "vae"}) == sorted(by_plugin["vae"])
    # a blocked plugin's models are gone for training too, with a message naming what is left
    result = invoke("--block-plugins", "vae", "train", "vae", "--out", tmp_path / "run")
    assert result.exit_code == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error: no model named 'vae'.")
    assert "Available models: " + ", ".join(all_but("vae")) in error
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def _broken_site(tmp_path: Path) -> Path:
    """A site folder holding an installed distribution whose genzoo plugin fails to import
    (its metadata written by hand: what pip would install, without running pip)."""
    site = tmp_path / "site"
    (site / "gzt_cli_fragile").mkdir(parents=True)
    (site / "gzt_cli_fragile" / "__init__.py").write_text(
        "raise ImportError('gz-fragile needs torchfoo, which is not installed')\n")
    meta = site / "gz_fragile-0.3.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: gz-fragile\nVersion: 0.3\n")
    (meta / "entry_points.txt").write_text("[genzoo]\nfragile = gzt_cli_fragile\n")
    return site


def test_list_names_a_broken_plugin_and_why(install_plugin, tmp_path: Path) -> None:  # noqa: F811
    install_plugin.prepend_site(_broken_site(tmp_path))
    result = ok(invoke("list"))
    assert {"gan", "vae"} <= _rows(result.stdout).keys()  # the others still work
    reason = "ImportError: gz-fragile needs torchfoo, which is not installed"
    assert f"broken plugin fragile (gz-fragile 0.3): {reason}" in result.stdout.splitlines()
    assert "Warning" not in result.output  # listed once, not warned about as well

    data = json.loads(ok(invoke("list", "--json")).stdout)
    assert data["broken"] == [{"plugin": "fragile", "distribution": "gz-fragile",
                               "version": "0.3", "reason": reason}]

    # training a model of the broken plugin says why instead of a traceback
    result = invoke("train", "fragile", "--out", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error == [f"Error: plugin 'fragile' (gz-fragile 0.3) failed to load, so its models "
                     f"cannot be used: {reason}"]


@pytest.mark.parametrize("args", [["list", "--bogus"], ["list", "a", "b"]])
def test_list_bad_usage(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error:")
    assert "Traceback" not in result.output
