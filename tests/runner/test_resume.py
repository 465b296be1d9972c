"""Exact resume: stopping and resuming gives bit-for-bit the weights of one uninterrupted run."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import genzoo
from genzoo.data import InMemoryLoader
from genzoo.runner import LAST_CHECKPOINT


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs"


def small(name: str) -> genzoo.GenerativeModel:
    if name == "gan":
        return genzoo.build("gan", seed=0, generator_widths=(32, 64, 64, 128),
                            discriminator_widths=(64, 32))
    return genzoo.build("vae", seed=0, hidden_dim=64)


@pytest.fixture(params=["in-memory", "dataloader"])
def loader_factory(request, mnist_train):
    images = mnist_train[:512]

    def make():
        if request.param == "in-memory":
            return InMemoryLoader(images, batch_size=64)
        return DataLoader(TensorDataset(images.float() / 255), batch_size=64, shuffle=True)

    return make


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_two_plus_two_epochs_equal_four(tmp_path, name, loader_factory):
    whole = small(name)
    whole.fit(loader_factory(), epochs=4, seed=11, out=tmp_path / "whole", progress=False)

    first = small(name)
    first.fit(loader_factory(), epochs=2, seed=11, out=tmp_path / "split", progress=False)
    resumed = small(name)  # a fresh process would start from fresh weights and RNG too
    torch.manual_seed(12345)
    result = resumed.fit(loader_factory(), epochs=4, out=tmp_path / "split", resume="auto",
                         progress=False)

    assert result.epochs == 4 and [h["epoch"] for h in result.history] == [3, 4]
    assert_same_weights(whole, resumed)
    assert_same_weights(whole, genzoo.load(tmp_path / "split" / LAST_CHECKPOINT))


def test_resume_mid_epoch_after_max_steps(tmp_path, mnist_train):
    loader = InMemoryLoader(mnist_train[:512], batch_size=64)  # 8 steps per epoch
    whole = small("gan")
    whole.fit(loader, epochs=3, seed=5, progress=False)

    part = small("gan")
    out = tmp_path / "run"
    stopped = part.fit(loader, epochs=3, seed=5, out=out, max_steps=13, progress=False)
    assert stopped.steps == 13 and stopped.epochs == 1
    payload = torch.load(out / LAST_CHECKPOINT, weights_only=True)
    assert payload["batch_in_epoch"] == 5

    resumed = small("gan")
    resumed.fit(loader, epochs=3, out=out, resume=str(out / LAST_CHECKPOINT), progress=False)
    assert_same_weights(whole, resumed)


class SignalAfter:
    """A data iterable that sends this process a signal while yielding batch ``at``."""

    def __init__(self, batches, at: int, sig: int) -> None:
        self.batches, self.at, self.sig, self.armed = batches, at, sig, True

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for index, batch in enumerate(self.batches):
            if self.armed and index == self.at:
                self.armed = False
                os.kill(os.getpid(), self.sig)
            yield batch


@pytest.mark.parametrize("sig, raised", [(signal.SIGTERM, SystemExit), (signal.SIGINT, KeyboardInterrupt)])
def test_signal_writes_a_checkpoint_that_resumes_exactly(tmp_path, mnist_train, sig, raised, capsys):
    loader = InMemoryLoader(mnist_train[:512], batch_size=64)
    whole = small("vae")
    whole.fit(loader, epochs=2, seed=3, progress=False)

    out = tmp_path / "run"
    interrupted = small("vae")
    handler = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN under nohup
    with pytest.raises(raised):
        interrupted.fit(SignalAfter(loader, at=3, sig=sig), epochs=2, seed=3, out=out, progress=False)
    assert "resume from" in capsys.readouterr().err
    payload = torch.load(out / LAST_CHECKPOINT, weights_only=True)
    assert (payload["epoch"], payload["batch_in_epoch"]) == (0, 4)  # the batch in hand finished
    assert signal.getsignal(signal.SIGINT) is handler  # handlers restored

    resumed = small("vae")
    resumed.fit(loader, epochs=2, out=out, resume="auto", progress=False)
    assert_same_weights(whole, resumed)


def test_resume_refuses_another_model_or_config(tmp_path, mnist_train):
    loader = InMemoryLoader(mnist_train[:128], batch_size=64)
    small("vae").fit(loader, epochs=1, out=tmp_path, progress=False)
    ckpt = tmp_path / LAST_CHECKPOINT
    with pytest.raises(genzoo.CheckpointError, match="of model 'vae', not of 'gan'"):
        small("gan").fit(loader, epochs=2, resume=str(ckpt), progress=False)
    with pytest.raises(genzoo.CheckpointError, match="hidden_dim: checkpoint 64, model 400"):
        genzoo.build("vae").fit(loader, epochs=2, resume=str(ckpt), progress=False)


def test_resume_auto_without_checkpoint_starts_fresh(tmp_path, mnist_train):
    result = small("vae").fit(InMemoryLoader(mnist_train[:128], batch_size=64), epochs=1,
                              out=tmp_path, resume="auto", progress=False)
    assert result.epochs == 1 and (tmp_path / LAST_CHECKPOINT).exists()


def test_resume_of_a_finished_run_warns_and_trains_nothing(tmp_path, mnist_train):
    loader = InMemoryLoader(mnist_train[:128], batch_size=64)
    model = small("vae")
    model.fit(loader, epochs=1, out=tmp_path, progress=False)
    with pytest.warns(UserWarning, match="already trained to epoch 1"):
        result = small("vae").fit(loader, epochs=1, out=tmp_path, resume="auto", progress=False)
    assert result.history == []


def test_resume_of_a_finished_run_says_one_epoch_not_one_epochs(tmp_path, mnist_train):
    loader = InMemoryLoader(mnist_train[:64], batch_size=64)
    small("vae").fit(loader, epochs=1, out=tmp_path, progress=False)
    with pytest.warns(UserWarning, match="ask for more than 1 epoch to train on"):
        small("vae").fit(loader, epochs=1, out=tmp_path, resume="auto", progress=False)
