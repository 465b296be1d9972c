"""``genzoo eval`` on a small saved checkpoint."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

import genzoo
from genzoo.cli import main
from genzoo.metrics import classifier_cache_path
from genzoo.metrics.classifier_cache import write_cache


@pytest.fixture
def user_cache(classifier, tmp_path, monkeypatch):
    """A user cache (``$XDG_CACHE_HOME``) holding the session's classifier as the default one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_cache(classifier_cache_path("mnist"), classifier.payload())
    return tmp_path / "cache"


def test_eval_prints_the_metrics_beside_the_floor_and_writes_json(user_cache, tmp_path, mnist_root):
    checkpoint = tmp_path / "vae.pt"
    genzoo.build("vae", hidden_dim=32, seed=0).save(checkpoint)
    result = CliRunner().invoke(main, ["eval", str(checkpoint), "--data", "mnist", "-n", "200",
                                       "--data-root", str(mnist_root), "--no-download"])
    assert result.exit_code == 0, result.output
    assert "real-data floor" in result.output and "FID" in result.output
    record = json.loads((tmp_path / "eval.json").read_text())
    assert record["model"] == "vae" and record["n"] == 200 and record["dataset"] == "mnist"
    assert set(record["floor"]) == {"fid", "classifier_score", "precision", "recall"}
    assert record["fid"] > record["floor"]["fid"]

    out = tmp_path / "elsewhere" / "m.json"
    again = CliRunner().invoke(main, ["eval", str(checkpoint), "-n", "200", "--json", str(out),
                                      "--data-root", str(mnist_root), "--no-download"])
    assert again.exit_code == 0, again.output
    assert json.loads(out.read_text())["fid"] == record["fid"]  # same seed, same numbers


def test_eval_reports_errors_in_one_line(user_cache, tmp_path):
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "missing.pt")])
    assert result.exit_code == 2
    assert "Error: no checkpoint file at" in result.output

    checkpoint = tmp_path / "vae.pt"
    genzoo.build("vae", hidden_dim=32).save(checkpoint)
    result = CliRunner().invoke(main, ["eval", str(checkpoint), "--data", "cifar"])
    assert result.exit_code == 2 and "Known: fashion-mnist, mnist" in result.output


def test_eval_with_inception_but_without_torch_fidelity_says_what_to_install(user_cache, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    checkpoint = tmp_path / "vae.pt"
    genzoo.build("vae", hidden_dim=32).save(checkpoint)
    result = CliRunner().invoke(main, ["eval", str(checkpoint), "--inception"])
    assert result.exit_code == 2 and "pip install 'torchmetrics[image]'" in result.output
    assert not (tmp_path / "eval.json").exists()


def test_eval_help_has_examples():
    result = CliRunner().invoke(main, ["eval", "--help"])
    assert result.exit_code == 0 and "genzoo eval runs/vae/checkpoints/last.pt" in result.output
