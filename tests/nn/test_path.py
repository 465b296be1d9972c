"""genzoo.nn.path: the straight path from noise to data and its training times."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.nn import interpolate, sample_times


def test_the_path_runs_from_noise_to_data_at_constant_velocity():
    x, noise = torch.rand(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    assert torch.equal(interpolate(x, noise, torch.zeros(2)), noise)
    assert torch.equal(interpolate(x, noise, torch.ones(2)), x)
    t, h = torch.tensor([0.3, 0.6]), 0.1
    torch.testing.assert_close(interpolate(x, noise, t)[1], 0.4 * noise[1] + 0.6 * x[1])
    step = (interpolate(x, noise, t + h) - interpolate(x, noise, t)) / h
    torch.testing.assert_close(step, x - noise)  # the velocity, the same at every time


def test_time_sampling():
    torch.manual_seed(0)
    uniform, logit = sample_times(20_000, "uniform"), sample_times(20_000, "logit-normal")
    assert uniform.shape == logit.shape == (20_000,)
    assert 0 <= uniform.min() and uniform.max() <= 1 and 0 < logit.min() and logit.max() < 1
    assert abs(uniform.std().item() - math.sqrt(1 / 12)) < 0.01
    assert abs(logit.median().item() - 0.5) < 0.01
    assert logit.std() < uniform.std() - 0.05  # concentrated in the middle
    with pytest.raises(ValueError, match="time sampling"):
        sample_times(2, "cubic")


def test_logit_normal_times_follow_mean_and_std():
    torch.manual_seed(0)
    late = sample_times(20_000, "logit-normal", mean=1.0, std=0.5)
    logits = torch.logit(late.double())
    assert logits.mean().item() == pytest.approx(1.0, abs=0.02)
    assert logits.std().item() == pytest.approx(0.5, abs=0.02)
    assert late.median().item() == pytest.approx(1 / (1 + math.exp(-1.0)), abs=0.01)
    torch.manual_seed(0)
    default = sample_times(20_000, "logit-normal")
    torch.manual_seed(0)
    assert torch.equal(default, sample_times(20_000, "logit-normal", mean=0.0, std=1.0))
    for std in (0.0, -1.0):
        with pytest.raises(ValueError, match="std must be positive"):
            sample_times(2, "logit-normal", std=std)


def test_times_come_from_the_global_random_state():
    torch.manual_seed(3)
    a = sample_times(5, "uniform")
    torch.manual_seed(3)
    assert torch.equal(a, sample_times(5, "uniform"))
    assert not torch.equal(a, sample_times(5, "uniform"))
