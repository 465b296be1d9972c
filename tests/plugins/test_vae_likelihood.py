"""The VAEs' likelihood bounds: a proper continuous likelihood, a known answer, ELBO ≤ IWAE."""

from __future__ import annotations

import math

import pytest
import torch

import genzoo
from genzoo_vae.likelihood import (
    continuous_bernoulli_log_norm,
    continuous_bernoulli_log_prob,
    importance_weighted_bound,
)


@pytest.mark.parametrize("logit", [-40.0, -6.0, -1e-3, 0.0, 2e-4, 0.7, 9.0])
def test_the_continuous_bernoulli_integrates_to_one(logit: float) -> None:
    x = torch.linspace(0, 1, 100_001, dtype=torch.float64)
    density = continuous_bernoulli_log_prob(torch.full_like(x, logit), x).exp()
    assert torch.trapezoid(density, x).item() == pytest.approx(1.0, abs=1e-6)


def test_the_log_normaliser_is_continuous_and_right_in_float32() -> None:
    logits = torch.tensor([-50.0, -3.0, -1e-3, -9.99e-4, 0.0, 0.5, 20.0])
    expected = torch.tensor([math.log(abs(v) / math.tanh(abs(v) / 2)) if v else math.log(2.0)
                             for v in logits.tolist()])
    assert torch.allclose(continuous_bernoulli_log_norm(logits), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["vae", "conv-vae"])
def test_a_vae_with_a_constant_decoder_and_the_prior_as_posterior_has_a_known_likelihood(name) -> None:
    """Posterior = prior and a decoder that ignores ``z``: every bound equals
    ``log p(x) = Σ log CB(x; b)`` exactly."""
    model = genzoo.build(name, seed=0).double().eval()
    with torch.no_grad():
        for head in (model.mean_head, model.logvar_head):
            head.weight.zero_(), head.bias.zero_()
        last = model.decoder[-1]
        last.weight.zero_(), last.bias.fill_(-1.5)
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    b = -1.5
    log_c = math.log(b / math.tanh(b / 2))
    log_sigmoid = lambda v: -math.log1p(math.exp(-v))  # noqa: E731
    expected = (x * log_sigmoid(b) + (1 - x) * log_sigmoid(-b) + log_c).flatten(1).sum(1)
    for samples in (1, 20):
        result = model.log_likelihood(x, samples=samples, generator=torch.Generator().manual_seed(1))
        assert result.exact is False
        assert torch.allclose(result.values, expected, rtol=0, atol=1e-6)


def test_the_importance_weighted_bound_is_above_the_elbo_and_repeatable(mnist_train) -> None:
    model = genzoo.build("vae", hidden_dim=64, seed=0)
    x = (mnist_train[:32].float() + torch.rand(32, 1, 28, 28)) / 256

    def bound(k: int) -> torch.Tensor:
        return model.log_likelihood(x, samples=k, generator=torch.Generator().manual_seed(0)).values

    elbo, iwae = bound(1), bound(50)
    assert iwae.mean() > elbo.mean()
    assert torch.equal(bound(50), iwae)
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        model.log_likelihood(x, samples=0)


def test_a_conditional_vae_is_scored_as_the_mixture_over_its_classes() -> None:
    """``log p(x) ≥ logsumexp_y L(x | y) - log 3`` for three equally likely classes."""
    model = genzoo.build("vae", hidden_dim=32, num_classes=3, seed=0).eval()
    x = torch.rand(4, 1, 28, 28)
    mixture = model.log_likelihood(x, samples=2, generator=torch.Generator().manual_seed(0)).values
    generator = torch.Generator().manual_seed(0)
    per_class = []
    with torch.no_grad():
        for label in range(3):
            labels = torch.full((4,), label)
            per_class.append(importance_weighted_bound(
                model.encode(x, labels), lambda z, y=label: model.decode_logits(z, torch.full((len(z),), y)),
                x, 2, generator))
    expected = torch.logsumexp(torch.stack(per_class), 0) - math.log(3)
    assert torch.allclose(mixture, expected, atol=1e-4)
    assert not torch.allclose(per_class[0], per_class[1])


def test_training_with_the_continuous_bernoulli_fits_dequantized_pixels(mnist_train) -> None:
    """The loss is BCE(η, x̃) - log C(η) on uniformly dequantized pixels x̃ (on the 8-bit values
    themselves the density grows without bound at 0 and 1, and test bits/dim get worse)."""
    from genzoo.metrics.likelihood import dequantize

    x = mnist_train[:16].float() / 255

    class _Step:
        epoch = index = 0

        def optimize(self, loss, optimizer):
            pass

    model = genzoo.build("vae", hidden_dim=32, seed=0, likelihood="continuous-bernoulli")
    torch.manual_seed(0)
    loss = model.training_step(genzoo.Batch(x), _Step())
    with torch.no_grad():
        torch.manual_seed(0)
        continuous = dequantize(x)
        assert 0 < continuous.min() and continuous.max() < 1
        mean, logvar = model.encode(continuous)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        logits = model.decode_logits(z)
        expected = -continuous_bernoulli_log_prob(logits, continuous.reshape(logits.shape)).sum() / 16
    assert loss["reconstruction"].item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(genzoo.ConfigError, match="likelihood"):
        genzoo.build("conv-vae", likelihood="gaussian")
