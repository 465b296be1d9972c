"""Each invertible layer inverts, and its log-determinant is the Jacobian's (checked by autograd)."""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from genzoo_flows.layers import ActNorm, AffineCoupling, FlowStep, InvertibleConv1x1, Reverse, squeeze, unsqueeze


def _randomised(layer: torch.nn.Module) -> torch.nn.Module:
    """Move every parameter off its initial value (zero-initialised outputs would hide bugs)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return layer.double().eval()


LAYERS = {
    "actnorm": lambda: ActNorm(4),
    "invconv": lambda: InvertibleConv1x1(4),
    "reverse": lambda: Reverse(),
    "coupling": lambda: AffineCoupling(4, 8),
    "step-invconv": lambda: FlowStep(4, 8, "invconv"),
    "step-reverse": lambda: FlowStep(4, 8, "reverse"),
}


@pytest.mark.parametrize("name", LAYERS)
def test_logdet_matches_autograds_jacobian(name: str) -> None:
    layer = _randomised(LAYERS[name]())
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    _, logdet = layer(x)
    for i in range(2):
        matrix = jacobian(lambda v: layer(v.reshape(1, 4, 3, 3))[0].flatten(), x[i].flatten())
        assert logdet[i].item() == pytest.approx(torch.linalg.slogdet(matrix)[1].item(), abs=1e-8)


@pytest.mark.parametrize("name", LAYERS)
def test_inverse_inverts(name: str) -> None:
    layer = _randomised(LAYERS[name]()).float()
    x = torch.randn(3, 4, 6, 6)
    y, _ = layer(x)
    assert (y - x).abs().max() > 1e-3 or name == "reverse"
    assert torch.allclose(layer.inverse(y), x, atol=1e-5)


def test_squeeze_moves_2x2_patches_into_channels_and_back() -> None:
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    y = squeeze(x)
    assert y.shape == (2, 12, 2, 3)
    assert y[0, :4, 0, 0].tolist() == [x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]]
    assert torch.equal(unsqueeze(y), x)


def test_actnorm_initialises_from_the_first_training_batch_only() -> None:
    norm = ActNorm(3)
    x = torch.randn(64, 3, 5, 5) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1) + 5
    norm.eval()
    assert torch.equal(norm(x)[0], x)  # identity until trained
    norm.train()
    y, _ = norm(x)
    assert y.mean((0, 2, 3)).abs().max() < 1e-4 and (y.std((0, 2, 3)) - 1).abs().max() < 1e-2
    before = norm.log_scale.clone()
    norm(x * 10)
    assert torch.equal(norm.log_scale, before) and bool(norm.initialized)
