"""Weights & Biases in offline mode: the run's transaction log (``run-ID.wandb``), read back
record by record with the SDK's own protobuf messages, holds the settings, the metrics, the
grids, the model artifact and how the run ended."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import wandb
from wandb.proto import wandb_internal_pb2

import genzoo
from tests.conftest import crashing_at

from .conftest import QUICK, tiny_vae


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Iterator[Path]:
    """W&B offline, its files in ``tmp_path/wandb``."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    wandb.teardown()  # W&B reads its settings once a process; read this test's
    yield tmp_path / "wandb"
    wandb.teardown()


def records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    """The records of a ``.wandb`` file: W&B's header (``:W&B``, magic, version), then LevelDB
    log blocks of 32 KiB, each record in chunks with a 7-byte header (CRC, length, type)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", data[:7]
    position, pending = 7, b""
    while position + 7 <= len(data):
        if 32768 - position % 32768 < 7:  # a block's tail too short for a header: padding
            position += 32768 - position % 32768
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position:position + 7])
        if kind == 0:
            break
        pending += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or a record's last chunk
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def offline_run(offline: Path, out: Path) -> tuple[Path, dict[str, list]]:
    """The offline run folder of the run that ``out/run.json`` records, and its records by kind."""
    wandb.teardown()  # W&B's service writes the run's file in the background: let it finish
    entry = json.loads((out / "run.json").read_text())["trackers"]["wandb"]
    [folder] = offline.glob(f"offline-run-*-{entry['run_id']}")
    kinds: dict[str, list] = {}
    for record in records(folder / f"run-{entry['run_id']}.wandb"):
        kinds.setdefault(record.WhichOneof("record_type"), []).append(record)
    return folder, kinds


def history(kinds: dict[str, list]) -> list[dict[str, object]]:
    return [{item.key or "/".join(item.nested_key): json.loads(item.value_json)
             for item in record.history.item} for record in kinds.get("history", [])]


def test_an_offline_run_holds_the_settings_metrics_grids_and_model(offline, batches, tmp_path):
    out = tmp_path / "vae-run"
    tiny_vae().fit(batches, epochs=2, out=out, wandb="genzoo-tests", **QUICK)
    folder, kinds = offline_run(offline, out)
    [run] = kinds["run"]
    assert (run.run.project, run.run.display_name) == ("genzoo-tests", "vae-run")
    config = {item.key: json.loads(item.value_json) for item in run.run.config.update}
    assert (config["model"], config["epochs"], config["config.hidden_dim"], config["log_every"],
            config["genzoo_run_folder"]) == ("vae", 2, 8, 2, str(out.resolve()))
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    logged = history(kinds)
    assert [(h["_step"], h["step/loss"]) for h in logged] == [
        (s["step"], pytest.approx(s["loss"])) for s in steps]
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(h["_step"], h["epoch/loss"]) for h in logged if "epoch/loss" in h] == [
        (e["step"], pytest.approx(e["loss"])) for e in epochs]
    grids = sorted(path.name.rsplit("_", 1)[0] for path in (folder / "files" / "media").rglob("*.png"))
    assert grids == ["reconstructions_4", "reconstructions_8", "samples_4", "samples_8"]  # by step
    [artifact] = kinds["artifact"]
    assert (artifact.artifact.type, artifact.artifact.name) == ("model", "vae-run-model")
    assert sorted(entry.path for entry in artifact.artifact.manifest.contents) == [
        "README.md", "config.json", "model.safetensors", "samples.png"]
    assert (folder / "files" / "run.json").is_file()
    assert [record.exit.exit_code for record in kinds["exit"]] == [0]


def test_a_failing_run_ends_its_offline_run_with_a_failure(offline, batches, tmp_path):
    class Fail:
        @genzoo.hookimpl
        def genzoo_epoch_end(self) -> None:
            raise RuntimeError("a callback broke")

    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="a callback broke"):
        tiny_vae().fit(batches, epochs=2, out=out, wandb="genzoo-tests", callbacks=[Fail()], **QUICK)
    _folder, kinds = offline_run(offline, out)
    assert [record.exit.exit_code for record in kinds["exit"]] == [1]
    assert "artifact" not in kinds  # no model of a failed run


def test_a_run_resumed_after_a_crash_logs_each_step_once_as_an_uninterrupted_run(offline, batches,
                                                                                  tmp_path):
    whole = tmp_path / "whole"
    tiny_vae().fit(batches, epochs=2, out=whole, seed=0, **QUICK)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="crashed"):  # after step 6 is logged; checkpoint: 4
        crashing_at(tiny_vae(), 6).fit(batches, epochs=2, out=out, wandb="genzoo-tests", seed=0,
                                       **QUICK)
    tiny_vae().fit(batches, epochs=2, out=out, wandb="genzoo-tests", resume="auto", **QUICK)
    run_id = json.loads((out / "run.json").read_text())["trackers"]["wandb"]["run_id"]
    wandb.teardown()  # as in offline_run
    logged = []  # what `wandb sync` sends of the run: each offline part, the resumed one after
    for folder in sorted(offline.glob(f"offline-run-*-{run_id}*")):  # -1: in the same second
        kinds: dict[str, list] = {}
        for record in records(folder / f"run-{run_id}.wandb"):
            kinds.setdefault(record.WhichOneof("record_type"), []).append(record)
        logged += history(kinds)
    steps = [json.loads(line) for line in (whole / "steps.jsonl").read_text().splitlines()]
    assert [(h["_step"], h["step/loss"]) for h in logged if "step/loss" in h] == [
        (s["step"], pytest.approx(s["loss"])) for s in steps]
    epochs = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [(h["_step"], h["epoch/loss"]) for h in logged if "epoch/loss" in h] == [
        (e["step"], pytest.approx(e["loss"])) for e in epochs]
