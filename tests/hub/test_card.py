"""The model card: the Hub's metadata (as huggingface_hub reads it), and what the run folder
knows: the data and settings (without the training machine's paths), the training time, the
evaluation of the exported weights with its intervals and protocol card, bits/dim."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from genzoo.hub import CARD_FILE, CONFIG_FILE, EVAL_FILE, GRID_FILE, export
from genzoo.metrics.results import Metrics, ProtocolCard, Scores
from genzoo.training import TrainSpec, spec_to_toml

huggingface_hub = pytest.importorskip("huggingface_hub")


def _eval_record(checkpoint: Path, model: str, *, bits: bool = False) -> dict:
    """A result as ``genzoo eval`` writes it (its classes, its JSON)."""
    numbers = {"fid": 12.5, "kid": 0.0123, "precision": 0.61, "recall": 0.52, "density": 0.93,
               "coverage": 0.71, "classifier_score": 8.1}
    scores = Scores(**numbers, intervals={k: (v * 0.9, v * 1.1) for k, v in numbers.items()})
    floor = Scores(**{k: v / 10 for k, v in numbers.items()})
    card = ProtocolCard(n=2000, floor_n=2000,
                        data={"name": "mnist", "fingerprint": "ab12cd", "image_shape": [1, 28, 28],
                              "reference_split": "test", "reference_images": 10000,
                              "floor_split": "train"},
                        samples={"seed": 0, "block": 500},
                        features={"kind": "classifier", "weights_sha256": "ee11", "dim": 128},
                        metrics={"k": 5}, bootstrap={"resamples": 200, "level": 0.9, "seed": 0},
                        software={"genzoo": "0.1.0", "torchmetrics": "1.9.0"})
    record = {"checkpoint": str(checkpoint), "model": model,
              **Metrics(scores=scores, floor=floor, card=card).as_dict(),
              "environment": {"device": "cpu", "torch": "2.14.1"}}
    if bits:
        record["bits_per_dim"] = {"bits_per_dim": 1.2345, "stderr": 0.0021, "kind": "exact",
                                  "n": 10000, "samples": 1, "dataset": "mnist", "split": "test"}
    return record


@pytest.fixture
def glow_run(tiny_runs: Path, tmp_path: Path) -> Path:
    """The tiny glow run as ``genzoo train`` leaves one: with its train.toml (naming paths of
    the training machine) and an evaluation of its checkpoint."""
    run = shutil.copytree(tiny_runs / "glow", tmp_path / "glow-run")
    spec = replace(TrainSpec.from_settings({"model": "glow", "data": "mnist", "epochs": 1,
                                            "data_root": "/home/someone/data",
                                            "out": "/home/someone/runs/glow"}),
                   config={"levels": 2, "steps": 2, "hidden": 8})
    (run / "train.toml").write_text(spec_to_toml(spec))
    checkpoint = run / "checkpoints" / "last.pt"
    (run / "checkpoints" / "eval.json").write_text(
        json.dumps(_eval_record(checkpoint, "glow", bits=True)))
    return run


def test_the_card_carries_the_hub_metadata(glow_run, tmp_path):
    folder = export(glow_run, tmp_path / "glow", license="cc-by-4.0")
    card = huggingface_hub.ModelCard.load(folder / CARD_FILE)
    assert card.data.library_name == "genzoo"
    assert card.data.license == "cc-by-4.0"
    assert {"genzoo", "glow", "unconditional-image-generation"} <= set(card.data.tags)
    assert card.data.datasets == ["ylecun/mnist"]
    assert card.data.pipeline_tag == "unconditional-image-generation"
    assert json.loads((folder / CONFIG_FILE).read_text())["data"] == "mnist"
    # the evaluation, as the Hub's model-index (huggingface_hub reads it into eval_results)
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results == {"fid": 12.5, "kid": 0.0123, "precision": 0.61, "recall": 0.52,
                       "density": 0.93, "coverage": 0.71, "classifier_score": 8.1}
    assert {r.dataset_type for r in card.data.eval_results} == {"ylecun/mnist"}
    assert {r.task_type for r in card.data.eval_results} == {"unconditional-image-generation"}
    # and the result itself travels with the folder, naming its checkpoint without the
    # training machine's path
    shipped = json.loads((folder / EVAL_FILE).read_text())
    written = json.loads((glow_run / "checkpoints" / "eval.json").read_text())
    assert str(glow_run) in written["checkpoint"] and shipped["checkpoint"] == "last.pt"
    assert str(glow_run) not in (folder / EVAL_FILE).read_text()
    assert {**shipped, "checkpoint": written["checkpoint"]} == written


def test_the_card_says_how_it_was_trained_without_the_machines_paths(glow_run, tmp_path):
    text = (export(glow_run, tmp_path / "glow") / CARD_FILE).read_text()
    assert "genzoo train --config train.toml" in text and 'model = "glow"' in text
    assert "hidden = 8" in text and "training time:" in text and "1 epoch, 2 steps" in text
    assert "/home/someone" not in text and "data_root" not in text
    assert f"![Samples of glow]({GRID_FILE})" in text
    assert 'pip install "genzoo[hub]" genzoo-flows' in text


def test_the_card_has_the_evaluation_with_intervals_floor_protocol_card_and_bits_per_dim(
        glow_run, tmp_path):
    text = (export(glow_run, tmp_path / "glow") / CARD_FILE).read_text()
    assert "| metric | value | 90% interval | real-data floor |" in text
    assert "| FID ↓ | 12.5 | [11.25, 13.75] | 1.25 |" in text
    assert "| classifier score ↑ | 8.1 |" in text
    assert "bits/dim ↓: 1.234 ± 0.0021 (exact) on 10000 mnist test images" in text
    assert "- data.fingerprint: ab12cd" in text and "- bootstrap.resamples: 200" in text


def test_an_evaluation_of_other_weights_or_another_checkpoint_is_not_shown(tiny_runs, tmp_path):
    run = shutil.copytree(tiny_runs / "gan", tmp_path / "gan-run")  # a run with a weight EMA
    (run / "checkpoints" / "eval.json").write_text(
        json.dumps(_eval_record(run / "checkpoints" / "last.pt", "gan")))
    (run / "checkpoints" / "old.json").write_text(
        json.dumps(_eval_record(run / "checkpoints" / "epoch_1.pt", "gan")))
    text = (export(run, tmp_path / "ema") / CARD_FILE).read_text()
    assert text.count("| FID ↓ |") == 1  # eval.json, evaluated with the EMA exported here
    shipped = json.loads((tmp_path / "ema" / EVAL_FILE).read_text())
    assert shipped == {**json.loads((run / "checkpoints" / "eval.json").read_text()),
                       "checkpoint": "last.pt"}
    text = (export(run, tmp_path / "raw", weights="raw") / CARD_FILE).read_text()
    assert "| FID ↓ |" not in text and not (tmp_path / "raw" / EVAL_FILE).exists()
    assert "model-index" not in text
    assert "eval.json in the run evaluated its EMA weights, not the ones exported here" in text


def test_a_run_trained_from_python_shows_its_run_options(tiny_runs, tmp_path):
    text = (export(tiny_runs / "vae", tmp_path / "vae") / CARD_FILE).read_text()
    assert "Trained with `fit` from Python" in text and '"device": "cpu"' in text
    assert str(tiny_runs) not in text  # the run folder's path is the training machine's
    assert "Not evaluated" in text
