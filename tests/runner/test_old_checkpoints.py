"""A checkpoint written by genzoo 0.1.0 before the run state had a type still loads and resumes
exactly (recorded by tests/runner/data/record_checkpoint_0_1_0.py)."""

import shutil
from pathlib import Path

import torch

import genzoo
from genzoo.runner import LAST_CHECKPOINT, RunState
from tests.runner.data.record_checkpoint_0_1_0 import CONFIG, RUN, loader

RECORDED = Path(__file__).parent / "data" / "checkpoint_0_1_0"


def test_a_checkpoint_written_before_the_run_state_resumes_bit_for_bit(tmp_path):
    old = tmp_path / "old.pt"
    shutil.copy(RECORDED / "last.pt", old)
    model = genzoo.build("vae", seed=0, **CONFIG)
    result = model.fit(loader(), epochs=3, out=tmp_path / "run", resume=old, **RUN)
    assert result.epochs == 3 and result.steps == 15
    expected = torch.load(RECORDED / "uninterrupted.pt", weights_only=True)["weights"]
    assert expected.keys() == model.state_dict().keys()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    # the resumed run's own checkpoint reads back as a typed run state
    written = torch.load(tmp_path / "run" / LAST_CHECKPOINT, weights_only=True)
    state = RunState.from_checkpoint(written)
    assert (state.epoch, state.step, state.batch_in_epoch) == (3, 15, 0)


def test_the_old_checkpoint_reads_as_a_run_state_and_loads_as_a_model():
    payload = torch.load(RECORDED / "last.pt", weights_only=True)
    state = RunState.from_checkpoint(payload)
    assert (state.epoch, state.step, state.batch_in_epoch) == (1, 7, 2)
    assert state.rng_epoch_start is not None and state.ema is not None
    assert list(state.optimizers or {}) == ["vae"]
    model = genzoo.load(RECORDED / "last.pt")
    assert model.sample(2, seed=0).shape == (2, 1, 8, 8)
