"""MLflow tracking against a real ``mlflow server`` on 127.0.0.1: what a run logs, how it ends
(finished, failed, killed), a resumed run, a server that dies mid-run, and one that never
answers."""

from __future__ import annotations

import json
import os
import signal
import warnings
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

import genzoo
from genzoo.devices import resolve_precision
from genzoo.errors import ConfigError, TrackerError
from genzoo.runner.trackers import log_to_recorded_runs
from tests.cli import FAST, TINY_VAE, invoke, ok, tiny_root, user_error  # noqa: F401
from tests.conftest import crashing_at

from .conftest import QUICK, MlflowServer, free_port, tiny_vae


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def recorded_run(out: Path, server: MlflowServer):
    """The MLflow run the run folder's run.json records, read back from the server."""
    entry = json.loads((out / "run.json").read_text())["trackers"]["mlflow"]
    assert entry["uri"] == server.uri
    return MlflowClient(server.uri).get_run(entry["run_id"])


def artifacts(server: MlflowServer, run_id: str, folder: str = "") -> list[str]:
    return sorted(f.path for f in MlflowClient(server.uri).list_artifacts(run_id, folder or None))


class Callback:
    """Does ``action(epoch)`` at each epoch's end."""

    def __init__(self, action):
        self.action = action

    @genzoo.hookimpl
    def genzoo_epoch_end(self, epoch: int) -> None:
        self.action(epoch)


def test_a_run_logs_its_settings_metrics_grids_run_files_and_model(server, batches, tmp_path):
    out = tmp_path / "vae-run"
    tiny_vae().fit(batches, epochs=2, out=out, mlflow=server.uri, **QUICK)
    run = recorded_run(out, server)
    client = MlflowClient(server.uri)
    assert run.info.status == "FINISHED" and run.info.run_name == "vae-run"
    assert run.data.tags["genzoo.run_folder"] == str(out.resolve())
    params = run.data.params
    assert (params["model"], params["epochs"], params["config.hidden_dim"], params["log_every"],
            params["mlflow"], params["precision"]) == ("vae", "2", "8", "2", server.uri,
                                                        resolve_precision("auto", torch.device("cpu")))
    steps = lines(out / "steps.jsonl")
    history = client.get_metric_history(run.info.run_id, "step/loss")
    assert [(m.step, m.value) for m in history] == [(s["step"], pytest.approx(s["loss"])) for s in steps]
    epochs = client.get_metric_history(run.info.run_id, "epoch/loss")
    assert [(m.step, m.value) for m in epochs] == [(e["step"], pytest.approx(e["loss"]))
                                                   for e in lines(out / "metrics.jsonl")]
    assert artifacts(server, run.info.run_id, "grids") == sorted(
        f"grids/{p.name}" for p in (out / "grids").iterdir())
    assert artifacts(server, run.info.run_id, "model") == [
        "model/README.md", "model/config.json", "model/model.safetensors", "model/samples.png"]
    assert artifacts(server, run.info.run_id, "run") == ["run/run.json"]  # no train.toml: fit()
    folder = Path(client.download_artifacts(run.info.run_id, "model", str(tmp_path / "download")))
    assert genzoo.from_pretrained(folder).sample(2, seed=0).shape == (2, 1, 28, 28)


def test_a_resumed_run_continues_its_mlflow_run_and_logs_eval_json(server, batches, tmp_path):
    out = tmp_path / "run"
    tiny_vae().fit(batches, epochs=1, out=out, mlflow=server.uri, **QUICK)
    first = recorded_run(out, server)
    (out / "checkpoints" / "eval.json").write_text('{"scores": {}}\n')  # as genzoo eval leaves it
    tiny_vae().fit(batches, epochs=2, out=out, mlflow=server.uri, resume="auto", **QUICK)
    run = recorded_run(out, server)
    assert run.info.run_id == first.info.run_id and run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "1"  # MLflow's parameters never change...
    assert run.data.tags["genzoo.resumed_with"] == "epochs=2"  # ...the resume says so
    assert run.data.params["resume"] == "auto"  # a setting the first run left unset
    history = MlflowClient(server.uri).get_metric_history(run.info.run_id, "step/loss")
    assert [m.step for m in history] == [2, 4, 6, 8]
    assert "eval/eval.json" in artifacts(server, run.info.run_id, "eval")


def test_a_failing_run_is_marked_failed_with_its_run_files(server, batches, tmp_path):
    def fail(epoch):
        raise RuntimeError("a callback broke")

    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="a callback broke"):
        tiny_vae().fit(batches, epochs=2, out=out, mlflow=server.uri, callbacks=[Callback(fail)],
                       **QUICK)
    run = recorded_run(out, server)
    assert run.info.status == "FAILED"
    assert artifacts(server, run.info.run_id) == ["run"]  # its settings; no model of a failed run
    assert artifacts(server, run.info.run_id, "run") == ["run/run.json"]
    assert [m.step for m in MlflowClient(server.uri).get_metric_history(run.info.run_id, "step/loss")] == [2, 4]


def test_a_run_stopped_by_a_signal_is_marked_killed(server, batches, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        tiny_vae().fit(batches, epochs=3, out=out, mlflow=server.uri,
                       callbacks=[Callback(lambda epoch: os.kill(os.getpid(), signal.SIGINT))],
                       **QUICK)
    run = recorded_run(out, server)
    assert run.info.status == "KILLED"
    assert (out / "checkpoints" / "last.pt").is_file()


def test_a_server_gone_mid_run_costs_one_warning_never_the_run(servers, batches, tmp_path):
    doomed = servers[1]

    def kill_server(epoch):
        if epoch == 1:
            doomed.kill()

    out = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tiny_vae().fit(batches, epochs=3, out=out, mlflow=doomed.uri,
                                callbacks=[Callback(kill_server)], **QUICK)
    assert result.epochs == 3 and (out / "checkpoints" / "last.pt").is_file()
    assert [m["epoch"] for m in lines(out / "metrics.jsonl")] == [1, 2, 3]
    stopped = [str(w.message) for w in caught if "MLflow" in str(w.message)]
    assert len(stopped) == 1, stopped
    assert stopped[0].startswith("MLflow tracking stopped: ") and stopped[0].endswith("; the run goes on")
    assert "\n" not in stopped[0]


def test_a_server_that_does_not_answer_stops_the_run_before_its_first_step(batches, tmp_path, monkeypatch,
                                                                           tiny_root):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the user's settings win
    out = tmp_path / "run"
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TrackerError) as caught:
        tiny_vae().fit(batches, epochs=1, out=out, mlflow=nowhere, **QUICK)
    message = str(caught.value)
    assert message.startswith("MLflow tracking could not start: ") and "\n" not in message
    assert message.endswith("or leave out --mlflow (mlflow=)")
    assert not (out / "steps.jsonl").exists() and not (out / "checkpoints").exists()
    cli = tmp_path / "cli-run"
    user_error(invoke("train", "vae", "--data", "mnist", "--data-root", tiny_root, *FAST, *TINY_VAE,
                      "--epochs", "1", "--mlflow", nowhere, "--out", cli),
               "Error: MLflow tracking could not start: ")
    assert not (cli / "checkpoints").exists()


def test_trackers_need_a_run_folder_and_a_target(batches):
    with pytest.raises(ConfigError, match=r"mlflow= needs a run folder \(out=\)"):
        tiny_vae().fit(batches, epochs=1, mlflow="http://127.0.0.1:5000", **QUICK)
    with pytest.raises(ConfigError, match="mlflow is empty"):
        tiny_vae().fit(batches, epochs=1, out="unused", mlflow=" ", **QUICK)


def test_genzoo_train_logs_to_mlflow_with_its_train_toml(server, tiny_root, tmp_path):
    out = tmp_path / "cli-run"
    ok(invoke("train", "vae", "--data", "mnist", "--data-root", tiny_root, *FAST, *TINY_VAE,
              "--epochs", "1", "--grid-every", "0", "--mlflow", server.uri, "--out", out))
    run = recorded_run(out, server)
    assert run.info.status == "FINISHED" and run.data.params["config.latent_dim"] == "4"
    assert artifacts(server, run.info.run_id, "run") == ["run/run.json", "run/train.toml"]
    assert f'mlflow = "{server.uri}"' in (out / "train.toml").read_text()  # --resume keeps logging


def test_an_eval_json_goes_to_the_mlflow_run_its_run_folder_records(server, batches, tmp_path):
    out = tmp_path / "run"
    tiny_vae().fit(batches, epochs=1, out=out, mlflow=server.uri, **QUICK)
    result = out / "checkpoints" / "eval.json"
    result.write_text('{"scores": {}}\n')
    said = log_to_recorded_runs(out, result, "eval")
    run = recorded_run(out, server)
    assert said == f"logged eval.json to MLflow run {run.info.run_id} at {server.uri}"
    assert artifacts(server, run.info.run_id, "eval") == ["eval/eval.json"]
    assert log_to_recorded_runs(tmp_path, result, "eval") is None  # no run.json: nothing to do


def test_a_run_resumed_after_a_crash_logs_each_step_once_as_an_uninterrupted_run(batches, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)  # the store's artifacts go to ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # a local store: no server needed
    whole = tmp_path / "whole"
    tiny_vae().fit(batches, epochs=2, out=whole, seed=0, **QUICK)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="crashed"):  # after step 6 is logged; checkpoint: 4
        crashing_at(tiny_vae(), 6).fit(batches, epochs=2, out=out, mlflow=uri, seed=0, **QUICK)
    first = json.loads((out / "run.json").read_text())["trackers"]["mlflow"]["run_id"]
    tiny_vae().fit(batches, epochs=2, out=out, mlflow=uri, resume="auto", **QUICK)
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_run(first).info.experiment_id])  # not a second run
    assert run.info.run_id == first and run.info.status == "FINISHED"  # the same MLflow run
    for name, log in (("step/loss", "steps.jsonl"), ("epoch/loss", "metrics.jsonl")):
        history = client.get_metric_history(first, name)
        assert [(m.step, m.value) for m in history] == [
            (s["step"], pytest.approx(s["loss"])) for s in lines(whole / log)], name
