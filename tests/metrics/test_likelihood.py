"""Bits per dimension: dequantization, a known answer, the evaluation, the callback and the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner

import genzoo
from genzoo.cli import main
from genzoo.metrics import MetricsError, feature_cache_path
from genzoo.metrics.features import write_cache
from genzoo.metrics.callbacks import LikelihoodEvery
from genzoo.metrics.likelihood import (
    bits_per_dim,
    dequantize,
    evaluate_likelihood,
    has_likelihood,
)


class _Uniform(torch.nn.Module):
    """The uniform density on ``[0, 1]^D`` (``log p = 0``): exactly 8 bits/dim, or a bound
    ``offset`` nats per image below it."""

    image_shape = (1, 28, 28)

    def __init__(self, offset: float = 0.0, exact: bool = True) -> None:
        super().__init__()
        self.offset, self.exact = offset, exact
        self.calls: list[tuple[int, torch.Tensor]] = []

    def log_likelihood(self, images, *, samples=1, generator=None):
        self.calls.append((samples, images))
        return genzoo.LogLikelihood(torch.full((len(images),), -self.offset), self.exact)


def test_dequantize_spreads_each_8_bit_level_over_its_bin() -> None:
    levels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    a = dequantize(levels, generator=torch.Generator().manual_seed(0))
    b = dequantize(levels.float() / 255, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    k = levels.float()
    assert bool(((a >= k / 256) & (a < (k + 1) / 256)).all())
    assert not torch.equal(a, dequantize(levels, generator=torch.Generator().manual_seed(1)))


def test_the_uniform_density_has_exactly_8_bits_per_dim(mnist_test: torch.Tensor) -> None:
    score = evaluate_likelihood(_Uniform(), mnist_test[:300], batch_size=128)
    assert score.kind == "exact" and score.n == 300 and score.split is None
    assert abs(score.bits_per_dim - 8.0) < 1e-4 and score.stderr == 0
    bound = evaluate_likelihood(_Uniform(offset=784 * math.log(2), exact=False), mnist_test[:10])
    assert bound.kind == "bound" and abs(bound.bits_per_dim - 9.0) < 1e-4
    assert "bits/dim (bound)" in str(bound) and "uniform dequantization" in str(bound)
    assert bits_per_dim(torch.tensor([0.0]), 784).item() == pytest.approx(8.0)


def test_evaluation_dequantizes_repeatably_and_leaves_the_global_random_state(mnist_root) -> None:
    model = _Uniform()
    state = torch.get_rng_state()
    score = evaluate_likelihood(model, root=mnist_root, n=50, samples=7, seed=3, download=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert score.dataset == "mnist" and score.split == "test" and score.n == 50 and score.samples == 7
    samples, first = model.calls[0]
    assert samples == 7 and 0 <= first.min() and first.max() < 1
    evaluate_likelihood(model, root=mnist_root, n=50, samples=7, seed=3, download=False)
    assert torch.equal(model.calls[1][1], first)


def test_models_without_a_likelihood_or_of_another_shape_are_refused(mnist_test) -> None:
    gan = genzoo.build("gan")
    assert not has_likelihood(gan)
    with pytest.raises(MetricsError, match="has no log_likelihood"):
        evaluate_likelihood(gan, mnist_test[:4])
    with pytest.raises(MetricsError, match="shape"):
        evaluate_likelihood(_Uniform(), torch.zeros(4, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(MetricsError, match="samples must be a positive integer"):
        evaluate_likelihood(_Uniform(), mnist_test[:4], samples=0)


def test_likelihood_every_adds_bits_per_dim_to_every_kth_epoch(mnist_root) -> None:
    callback = LikelihoodEvery(2, n=20, root=mnist_root)
    for epoch in (1, 2):
        metrics: dict = {}
        callback.genzoo_epoch_end(model=_Uniform(), run=None, epoch=epoch, metrics=metrics)
    assert metrics["test_bits_per_dim"] == pytest.approx(8.0) and metrics["test_bits_per_dim_exact"] == 1
    skipped: dict = {}
    callback.genzoo_epoch_end(model=genzoo.build("gan"), run=None, epoch=4, metrics=skipped)
    assert skipped == {}
    with pytest.raises(MetricsError, match="every must be a positive integer"):
        LikelihoodEvery(0)


@pytest.fixture
def _user_cache(classifier, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_cache(feature_cache_path("mnist", "classifier"), classifier.payload())


def test_eval_prints_bits_per_dim_as_a_bound_for_a_vae_and_na_for_a_gan(_user_cache, tmp_path, mnist_root):
    vae, gan = tmp_path / "vae.pt", tmp_path / "gan.pt"
    genzoo.build("vae", hidden_dim=32, seed=0).save(vae)
    genzoo.build("gan", seed=0).save(gan)
    common = ["--data", "mnist", "-n", "100", "--data-root", str(mnist_root), "--no-download",
              "--bootstrap", "10"]
    result = CliRunner().invoke(main, ["eval", str(vae), *common, "--likelihood-samples", "3"])
    assert result.exit_code == 0, result.output
    assert "bits/dim" in result.output and "bound (samples=3)" in result.output
    assert "uniform dequantization of 8-bit pixels" in result.output
    record = json.loads((tmp_path / "eval.json").read_text())["bits_per_dim"]
    assert record["kind"] == "bound" and record["samples"] == 3 and record["split"] == "test"
    assert record["bits_per_dim"] == pytest.approx(evaluate_likelihood(
        genzoo.load(vae), root=mnist_root, samples=3, download=False).bits_per_dim)

    result = CliRunner().invoke(main, ["eval", str(gan), *common, "--json", str(tmp_path / "g.json")])
    assert result.exit_code == 0, result.output
    assert "n/a" in result.output and json.loads((tmp_path / "g.json").read_text())["bits_per_dim"] is None
