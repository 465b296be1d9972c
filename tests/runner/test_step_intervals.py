"""Checkpoints and grids every so many steps, mid-epoch ones included, resume exactly."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.data import InMemoryLoader
from genzoo.runner import LAST_CHECKPOINT
from tests.runner.test_resume import assert_same_weights, small


class CrashAt:
    """Batches that raise (a crash: no final checkpoint) when batch ``at`` of the run is due."""

    def __init__(self, batches, at: int) -> None:
        self.batches, self.at, self.seen = batches, at, 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            if self.seen == self.at:
                raise RuntimeError("crash")
            self.seen += 1
            yield batch


class Saved:
    def __init__(self):
        self.points = []

    @genzoo.hookimpl
    def genzoo_checkpoint_saved(self, path):
        payload = torch.load(path, weights_only=True)
        self.points.append((payload["step"], payload["epoch"], payload["batch_in_epoch"]))


def test_a_mid_epoch_step_checkpoint_resumes_bit_for_bit(tmp_path, mnist_train):
    loader = InMemoryLoader(mnist_train[:512], batch_size=64)  # 8 steps per epoch
    whole = small("gan")
    whole.fit(loader, epochs=2, seed=7, progress=False)

    out = tmp_path / "run"
    crashed = small("gan")
    with pytest.raises(RuntimeError, match="crash"):
        crashed.fit(CrashAt(loader, at=13), epochs=2, seed=7, out=out, checkpoint_every=0,
                    checkpoint_every_steps=5, progress=False)
    payload = torch.load(out / LAST_CHECKPOINT, weights_only=True)
    assert (payload["step"], payload["epoch"], payload["batch_in_epoch"]) == (10, 1, 2)

    resumed = small("gan")
    resumed.fit(loader, epochs=2, out=out, resume="auto", checkpoint_every=0,
                checkpoint_every_steps=5, progress=False)
    assert_same_weights(whole, resumed)


def test_step_checkpoints_and_grids_land_where_asked(tmp_path, mnist_train):
    loader = InMemoryLoader(mnist_train[:256], batch_size=64)  # 4 steps per epoch
    saved = Saved()
    result = genzoo.build("vae", hidden_dim=32, seed=0).fit(
        loader, epochs=3, out=tmp_path, checkpoint_every=0, checkpoint_every_steps=4,
        grid_every=0, grid_every_steps=6, grid_size=4, progress=False, callbacks=[saved])
    # a step checkpoint on an epoch's last batch is written as that epoch's end
    assert saved.points == [(4, 1, 0), (8, 2, 0), (12, 3, 0)]
    assert [p.name for p in result.grids if p.name.startswith("samples")] == [
        "samples_step_00000006.png", "samples_final.png"]


def test_negative_step_intervals_are_refused():
    with pytest.raises(genzoo.ConfigError, match="checkpoint_every_steps must be 0 or a positive "
                                                 "number of steps, got -1"):
        genzoo.RunOptions(checkpoint_every_steps=-1)
