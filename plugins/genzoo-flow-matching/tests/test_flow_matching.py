"""The flow-matching plugin's own pieces: its loss on the straight path and the ODE solvers.

The path itself (``interpolate``, ``sample_times``) is genzoo's, tested in ``tests/nn``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch

import genzoo
from genzoo.plugin import interpolate
from genzoo_flow_matching.solvers import SOLVERS, Euler, Heun, Midpoint, integrate, time_grid


@pytest.fixture(autouse=True)
def _installed_plugins() -> Iterator[None]:
    """See the installed plugin distributions (genzoo's own tests hide them from discovery)."""
    genzoo.reload_plugins()
    yield


def perturbed(model: genzoo.GenerativeModel) -> genzoo.GenerativeModel:
    """The zero-initialised head makes an untrained model's output constant; move every weight."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return model


class Answers(torch.nn.Module):
    """A stand-in network that answers ``velocity`` whatever it is asked, and records its input."""

    def __init__(self, velocity: torch.Tensor) -> None:
        super().__init__()
        self.velocity, self.inputs = velocity, []

    def forward(self, x, t, labels=None):
        self.inputs.append(x)
        return self.velocity


def test_the_loss_regresses_the_straight_paths_velocity_at_the_paths_point():
    model = genzoo.build("flow-matching", base_width=8)
    images, noise, t = torch.rand(2, 1, 28, 28), torch.randn(2, 1, 28, 28), torch.tensor([0.25, 0.75])
    x = images * 2 - 1
    model.net = Answers(x - noise)
    assert model.loss(images, t, noise).item() == 0
    torch.testing.assert_close(model.net.inputs[0], interpolate(x, noise, t))
    model.net = Answers(torch.zeros_like(x))
    assert model.loss(images, t, noise).item() == pytest.approx((x - noise).square().mean().item())


@pytest.mark.parametrize("solver, order", [(Euler, 1), (Midpoint, 2), (Heun, 2)])
def test_solvers_reach_their_order_of_accuracy(solver, order):
    """dx/dt = x from x(0) = 1 has x(1) = e; halving the step divides the error by 2^order."""
    def velocity(x, t):
        return x

    errors = [abs(integrate(solver(), velocity, torch.ones(1, dtype=torch.float64),
                            time_grid(steps)).item() - math.e) for steps in (8, 16)]
    assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.15)
    assert solver.evaluations == (1 if order == 1 else 2)


def test_heuns_last_step_into_the_data_is_an_euler_step():
    calls = []

    def velocity(x, t):
        calls.append(t)
        return x * (1 + t)

    x = torch.ones(1, dtype=torch.float64)
    assert torch.equal(Heun().step(velocity, x, 0.5, 1.0), Euler().step(velocity, x, 0.5, 1.0))
    calls.clear()
    integrate(Heun(), velocity, x, time_grid(3))
    assert calls == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3])  # no evaluation at t = 1


def test_time_grid():
    assert time_grid(4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    shifted = time_grid(4, shift=3.0)
    assert shifted[0] == 0 and shifted[-1] == 1 and shifted[1] < 0.25
    with pytest.raises(ValueError, match="steps"):
        time_grid(0)
    assert set(SOLVERS) == {"euler", "midpoint", "heun"}


def test_each_sampler_of_the_model():
    model = genzoo.build("flow-matching", base_width=8, sample_steps=2, seed=0)
    perturbed(model)
    images = {name: model.sample(2, seed=0, sampler=name) for name in SOLVERS}
    assert not torch.equal(images["euler"], images["heun"])
    assert not torch.equal(images["midpoint"], images["heun"])
    shifted = genzoo.build("flow-matching", base_width=8, sample_steps=2, time_shift=3.0)
    shifted.load_state_dict(model.state_dict())
    assert not torch.equal(shifted.sample(2, seed=0), model.sample(2, seed=0))


def test_sampling_in_chunks_gives_the_same_images_and_classes():
    model = genzoo.build("flow-matching", base_width=8, sample_steps=2, num_classes=10, seed=0)
    perturbed(model)
    whole = model.sample(5, seed=0, guidance=2.0, chunk=5)
    chunked = model.sample(5, seed=0, guidance=2.0, chunk=2)  # classes 0-4 in turn, not 0 1 0 1 0
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)
    assert torch.allclose(model.sample(5, seed=0, guidance=2.0), whole, atol=1e-5)
    with pytest.raises(ValueError, match="chunk"):
        model.sample(2, chunk=0)

