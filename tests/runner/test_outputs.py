"""What a run writes: grids, metrics, run record, TensorBoard, progress; and its hooks."""

from __future__ import annotations

import json
import threading

import pytest
import torch
from PIL import Image

import genzoo
from genzoo.errors import ConfigError
from genzoo.data import InMemoryLoader
from genzoo.runner.outputs import LossMeans
from genzoo.runner.outputs import save_sample_grid


@pytest.fixture
def loader(mnist_train):
    return InMemoryLoader(mnist_train[:256], batch_size=64)  # 4 steps per epoch


def test_grids_every_n_epochs_plus_final_and_reconstructions_for_encoders(tmp_path, loader):
    vae = genzoo.build("vae", hidden_dim=32, seed=0)
    result = vae.fit(loader, epochs=4, out=tmp_path / "vae", grid_every=2, grid_size=16, progress=False)
    names = sorted(p.name for p in (tmp_path / "vae" / "grids").iterdir())
    assert names == ["reconstructions_epoch_0002.png", "reconstructions_final.png",
                     "samples_epoch_0002.png", "samples_final.png"]
    assert [p.name for p in result.grids] == ["samples_epoch_0002.png", "reconstructions_epoch_0002.png",
                                              "samples_final.png", "reconstructions_final.png"]
    with Image.open(tmp_path / "vae" / "grids" / "samples_final.png") as grid:
        assert grid.size == (4 * 30 + 2, 4 * 30 + 2)  # 4×4 images of 28 px with 2 px padding
    with Image.open(tmp_path / "vae" / "grids" / "reconstructions_final.png") as grid:
        assert grid.size[1] > grid.size[0] / 2  # real rows interleaved with reconstructions

    gan = genzoo.build("gan", seed=0)
    gan.fit(loader, epochs=1, out=tmp_path / "gan", progress=False)
    assert sorted(p.name for p in (tmp_path / "gan" / "grids").iterdir()) == ["samples_final.png"]


def test_sample_grids_use_the_same_latents_every_time(tmp_path):
    gan = genzoo.build("gan", seed=0)
    torch.manual_seed(1)
    a = save_sample_grid(gan, tmp_path / "a.png", 16, seed=0).read_bytes()
    torch.manual_seed(2)  # the global state does not matter
    b = save_sample_grid(gan, tmp_path / "b.png", 16, seed=0).read_bytes()
    assert a == b


def test_metrics_log_and_run_record(tmp_path, loader):
    vae = genzoo.build("vae", hidden_dim=32, seed=0)
    vae.fit(loader, epochs=3, out=tmp_path, progress=False, seed=4)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    assert [line["step"] for line in lines] == [4, 8, 12]
    for line in lines:
        assert {"loss", "reconstruction", "kl", "seconds", "samples_per_s"} <= set(line)
        assert line["samples_per_s"] > 0
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["model"] == "vae" and record["config"]["hidden_dim"] == 32
    assert record["run"]["seed"] == 4 and record["epochs"] == 3


def test_nothing_is_written_without_out(tmp_path, loader, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, progress=False)
    assert list(tmp_path.iterdir()) == [] and result.checkpoint is None and result.out is None


def test_losses_are_read_back_once_per_logging_interval(loader, monkeypatch):
    calls = []
    real = LossMeans.read_interval
    monkeypatch.setattr(LossMeans, "read_interval",
                        lambda self: calls.append(self.pending) or real(self))
    genzoo.build("vae", hidden_dim=32).fit(loader, epochs=2, log_every=3, progress=False)
    assert calls == [3, 1, 3, 1]  # an interval, and the epoch's rest (no further read for its mean)


def test_progress_bar_shows_losses_when_asked(loader, capsys):
    genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, progress=True, log_every=1)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "loss=" in err and "4/4" in err


def test_progress_off_prints_nothing(loader, capsys):
    genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, progress=False)
    assert capsys.readouterr().err == ""


def test_tensorboard_logs_scalars(tmp_path, loader):
    genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, out=tmp_path, tensorboard=True,
                                           log_every=2, progress=False)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"epoch/loss", "step/loss", "epoch/kl"} <= set(tags)
    assert [e.step for e in events.Scalars("step/loss")] == [2, 4]


class Recorder:
    def __init__(self):
        self.events = []

    @genzoo.hookimpl
    def genzoo_fit_start(self, model, run):
        self.events.append(("start", run.epochs, run.out))

    @genzoo.hookimpl
    def genzoo_epoch_end(self, epoch, metrics):
        self.events.append(("epoch", epoch, round(metrics["loss"], 3) > 0))

    @genzoo.hookimpl
    def genzoo_checkpoint_saved(self, path):
        self.events.append(("checkpoint", path.name))

    @genzoo.hookimpl
    def genzoo_fit_end(self, model):
        self.events.append(("end",))


def test_runner_events_reach_callbacks_for_that_run_only(tmp_path, loader):
    recorder = Recorder()
    vae = genzoo.build("vae", hidden_dim=32)
    vae.fit(loader, epochs=2, out=tmp_path, callbacks=[recorder], progress=False)
    assert recorder.events == [
        ("start", 2, tmp_path), ("epoch", 1, True), ("checkpoint", "last.pt"),
        ("epoch", 2, True), ("checkpoint", "last.pt"), ("end",),
    ]
    vae.fit(loader, epochs=1, progress=False)
    assert len(recorder.events) == 6  # unregistered after its run


def test_callbacks_with_misspelled_hooks_are_refused(loader):
    class Typo:
        @genzoo.hookimpl
        def genzoo_epoch_end(self, epoch, metrcs):
            pass

    class NoSuchHook:
        @genzoo.hookimpl
        def genzoo_epoch_ended(self, epoch):
            pass

    with pytest.raises(ConfigError, match="metrcs"):
        genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, callbacks=[Typo()], progress=False)
    with pytest.raises(ConfigError, match="genzoo_epoch_ended, which is not a genzoo hook"):
        genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, callbacks=[NoSuchHook()], progress=False)


def test_a_callback_that_implements_no_hook_is_refused(loader):
    class Unmarked:
        def genzoo_epoch_end(self, epoch, metrics):  # no @genzoo.hookimpl
            pass

    for callback in (3, Unmarked()):
        with pytest.raises(ConfigError, match="implements no genzoo hook.*@genzoo.hookimpl"):
            genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, callbacks=[callback],
                                                   progress=False)


def test_a_callback_of_a_refused_run_reaches_no_later_run(loader):
    class Typo:
        @genzoo.hookimpl
        def genzoo_epoch_end(self, epoch, metrcs):
            pass

    recorder = Recorder()
    with pytest.raises(ConfigError):  # the recorder registered, then the run was refused
        genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, callbacks=[recorder, Typo()],
                                               progress=False)
    genzoo.build("vae", hidden_dim=32).fit(loader, epochs=1, progress=False)
    assert recorder.events == []


def test_runs_in_threads_each_call_only_their_own_callbacks(tmp_path, loader):
    recorders = {name: Recorder() for name in ("a", "b")}
    failures = []

    def run(name):
        try:
            genzoo.build("vae", hidden_dim=16).fit(loader, epochs=2, out=tmp_path / name,
                                                   callbacks=[recorders[name]], progress=False)
        except BaseException as err:  # pragma: no cover - reported below
            failures.append(err)

    threads = [threading.Thread(target=run, args=(name,)) for name in recorders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for name, recorder in recorders.items():
        assert recorder.events[0] == ("start", 2, tmp_path / name)
        assert [e[0] for e in recorder.events] == ["start", "epoch", "checkpoint", "epoch",
                                                   "checkpoint", "end"]


def test_seed_makes_a_cpu_run_repeat_exactly(loader):
    runs = []
    for fit_seed in (7, 7, 8):
        model = genzoo.build("gan", seed=1)
        model.fit(loader, epochs=1, seed=fit_seed, progress=False)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_build_seed_fixes_the_initial_weights_without_touching_global_rng():
    state = torch.get_rng_state()
    a, b = genzoo.build("vae", seed=3), genzoo.build("vae", seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_max_steps_stops_early(loader):
    result = genzoo.build("vae", hidden_dim=32).fit(loader, epochs=5, max_steps=6, progress=False)
    assert result.steps == 6 and result.epochs == 1


@pytest.mark.parametrize("bad, message", [
    ({"grid_every": -1}, "grid_every must be 0 or a positive"),
    ({"log_every": 0}, "log_every must be at least 1"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"learning_rate": 1}, "fit\\(\\) has no option 'learning_rate'"),
    ({"resume": "auto"}, "resume='auto' needs out="),
])
def test_bad_run_options(loader, bad, message):
    with pytest.raises(genzoo.ConfigError, match=message):
        genzoo.build("vae", hidden_dim=32).fit(loader, **{"epochs": 1, "progress": False, **bad})
