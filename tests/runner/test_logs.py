"""What a run logs: interval means (steps.jsonl, TensorBoard), epoch lines, plain progress lines."""

from __future__ import annotations

import io
import json

import pytest
import torch

import genzoo
from genzoo.data import InMemoryLoader
from genzoo.runner import fit, outputs
from genzoo.runner.outputs import LossMeans, Progress
from tests.conftest import crashing_at


def StepCounter():  # noqa: N802 - reads like the model it makes
    """A tiny VAE that reports the loss k at step k, so interval and epoch means are known."""
    model = genzoo.build("vae", hidden_dim=8, latent_dim=2, seed=0)
    train = model.training_step

    def training_step(batch, step):
        train(batch, step)
        return {"loss": float(step.index)}

    model.training_step = training_step
    return model


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def loader():
    return InMemoryLoader(torch.zeros(16, 1, 28, 28, dtype=torch.uint8), batch_size=4)  # 4 steps


def test_step_log_holds_the_means_of_each_interval_not_since_the_epoch_start(tmp_path, loader):
    fit(StepCounter(), loader, epochs=2, out=tmp_path, log_every=2, progress=False)
    steps = lines(tmp_path / "steps.jsonl")
    assert [(s["epoch"], s["step"], s["steps"], s["loss"]) for s in steps] == [
        (1, 2, 2, 0.5), (1, 4, 2, 2.5), (2, 6, 2, 4.5), (2, 8, 2, 6.5)]
    assert all(s["lr_vae"] == 1e-3 and s["samples_per_s"] > 0 for s in steps)  # the VAE's Adam
    assert [e["loss"] for e in lines(tmp_path / "metrics.jsonl")] == [1.5, 5.5]


def test_an_epochs_last_short_interval_is_logged_too(tmp_path, loader):
    fit(StepCounter(), loader, epochs=1, out=tmp_path, log_every=3, progress=False)
    assert [(s["step"], s["steps"], s["loss"]) for s in lines(tmp_path / "steps.jsonl")] == [
        (3, 3, 1.0), (4, 1, 3.0)]


def test_tensorboard_step_scalars_are_interval_means(tmp_path, loader):
    fit(StepCounter(), loader, epochs=1, out=tmp_path, log_every=2, tensorboard=True, progress=False)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("step/loss")] == [(2, 0.5), (4, 2.5)]


def test_a_resumed_run_keeps_one_line_per_step_and_epoch(tmp_path, loader):
    out = tmp_path / "run"
    fit(StepCounter(), loader, epochs=2, out=out, log_every=3, max_steps=2, progress=False)
    fit(StepCounter(), loader, epochs=2, out=out, log_every=3, max_steps=3, resume="auto",
                      progress=False)
    partial = lines(out / "metrics.jsonl")
    assert [(m["epoch"], m.get("partial")) for m in partial] == [(0, True)]  # not two epoch-0 lines
    fit(StepCounter(), loader, epochs=2, out=out, log_every=3, resume="auto", progress=False)
    assert [(m["epoch"], m.get("partial")) for m in lines(out / "metrics.jsonl")] == [
        (1, None), (2, None)]
    steps = lines(out / "steps.jsonl")
    assert [s["step"] for s in steps] == sorted({s["step"] for s in steps})
    assert sum(s["steps"] for s in steps) == 8  # every step counted once


def tensorboard_scalars(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_a_run_resumed_after_a_crash_logs_each_step_once_to_tensorboard(tmp_path, loader):
    whole = tmp_path / "whole"
    fit(StepCounter(), loader, epochs=2, out=whole, log_every=1, tensorboard=True, progress=False)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="crashed"):  # logged 1 to 6; checkpoint: 4
        fit(crashing_at(StepCounter(), 6), loader, epochs=2, out=out, log_every=1,
            tensorboard=True, progress=False)
    assert [s["step"] for s in lines(out / "steps.jsonl")] == [1, 2, 3, 4, 5, 6]
    fit(StepCounter(), loader, epochs=2, out=out, log_every=1, tensorboard=True, resume="auto",
        progress=False)
    assert [s["step"] for s in lines(out / "steps.jsonl")] == list(range(1, 9))
    for tag in ("step/loss", "epoch/loss"):
        assert tensorboard_scalars(out, tag) == tensorboard_scalars(whole, tag), tag  # 5, 6 once


def test_a_second_crash_before_the_first_ones_step_still_logs_each_step_once(tmp_path, loader):
    whole = tmp_path / "whole"
    fit(StepCounter(), loader, epochs=2, out=whole, log_every=1, tensorboard=True, progress=False)
    out = tmp_path / "run"
    options = dict(epochs=2, out=out, log_every=1, tensorboard=True, progress=False)
    with pytest.raises(RuntimeError, match="crashed"):  # logged 1 to 6; checkpoint: 4
        fit(crashing_at(StepCounter(), 6), loader, **options)
    with pytest.raises(RuntimeError, match="crashed"):  # resumed at 4, logged 5 again: the
        fit(crashing_at(StepCounter(), 5), loader, resume="auto", **options)  # lines end at 5
    assert [s["step"] for s in lines(out / "steps.jsonl")] == [1, 2, 3, 4, 5]
    fit(StepCounter(), loader, resume="auto", **options)
    assert [s["step"] for s in lines(out / "steps.jsonl")] == list(range(1, 9))
    for tag in ("step/loss", "epoch/loss"):  # step 6 once, though the lines had lost it
        assert tensorboard_scalars(out, tag) == tensorboard_scalars(whole, tag), tag


def test_loss_means_read_once_per_interval_and_sum_the_epoch():
    means = LossMeans(torch.device("cpu"))
    for value in (1.0, 2.0, 3.0):
        means.add({"loss": torch.tensor(value)})
    assert means.pending == 3 and means.read_interval() == {"loss": 2.0}
    means.add({"loss": 10.0})
    assert means.epoch_means() == {"loss": 4.0} and means.pending == 0
    with pytest.raises(genzoo.GenzooError, match="dict of losses by name, got list"):
        means.add([1.0])


def test_without_a_terminal_progress_is_one_plain_line_per_epoch(loader, capsys):
    fit(StepCounter(), loader, epochs=2, log_every=1)  # capsys's stderr is not a terminal
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith("epoch 1/2  step 4  loss 1.5  lr_vae 0.001  samples/s ")
    assert err[1].startswith("epoch 2/2  step 8  loss 5.5") and err[1].endswith(" s")


def test_plain_lines_within_a_long_epoch_come_at_most_every_few_seconds(monkeypatch):
    stream = io.StringIO()
    progress = Progress(None, stream=stream)
    assert progress.mode == "lines"
    progress.start_epoch(1, 3, total=100)
    progress.update(10, {"loss": 2.0}, step=10, position=10)
    assert stream.getvalue() == ""  # too soon
    monkeypatch.setattr(outputs, "LINE_SECONDS", 0.0)
    progress.update(10, {"loss": 1.0}, step=20, position=20)
    progress.end_epoch({"epoch": 1, "step": 100, "loss": 1.5, "seconds": 2.0})
    assert stream.getvalue().splitlines() == ["epoch 1/3  step 20 (20/100 of the epoch)  loss 1",
                                              "epoch 1/3  step 100  loss 1.5  2.0 s"]


def test_progress_modes():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert Progress(None, stream=Tty()).mode == "bar"
    assert Progress(True, stream=io.StringIO()).mode == "bar"
    assert Progress(False, stream=Tty()).mode == "off" and not Progress(False).enabled
