"""FID by torchmetrics: closed forms, and its float64 numerics against genzoo's former eigh-based
implementation on the same features."""

from __future__ import annotations

import pytest
import torch

from genzoo.metrics import MetricsError, fid_from_features
from genzoo.metrics.scoring import FrechetReference

F64 = torch.float64


def _with_statistics(n: int, mean: torch.Tensor, cov: torch.Tensor, seed: int) -> torch.Tensor:
    """``n`` points whose sample mean and (unbiased) covariance are exactly ``mean`` and ``cov``."""
    x = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=F64)
    x = x - x.mean(0)
    whiten = torch.linalg.cholesky(torch.cov(x.T))
    x = torch.linalg.solve_triangular(whiten, x.T, upper=False).T  # identity covariance
    return x @ torch.linalg.cholesky(cov).T + mean


def _eigh_fid(a: torch.Tensor, b: torch.Tensor) -> float:
    """genzoo's former implementation, kept here as an independent oracle: two-pass statistics,
    symmetric square roots through eigh."""
    a, b = a.double(), b.double()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = torch.cov(a.T), torch.cov(b.T)
    w, v = torch.linalg.eigh(s1)
    root1 = (v * w.clamp(min=0).sqrt()) @ v.T
    middle = root1 @ s2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt)


def test_identical_sets_are_at_distance_zero():
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-6)


def test_diagonal_gaussians_match_the_closed_form():
    # For diagonal covariances the distance is ||mu1 - mu2||² + Σ (s1 - s2)² (s: std devs).
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0], dtype=F64), torch.tensor([1.0, 1.0, 0.0], dtype=F64)
    s1, s2 = torch.tensor([1.0, 2.0, 0.5], dtype=F64), torch.tensor([3.0, 2.0, 0.1], dtype=F64)
    a = _with_statistics(400, mu1, torch.diag(s1**2), seed=1)
    b = _with_statistics(300, mu2, torch.diag(s2**2), seed=2)
    expected = float((mu1 - mu2).square().sum() + (s1 - s2).square().sum())
    assert fid_from_features(a, b) == pytest.approx(expected, rel=1e-9)


def test_torchmetrics_agrees_with_the_former_implementation_in_float64(classifier, mnist_test):
    """On real classifier features (large means, small differences), and on far-apart sets."""
    features, _ = classifier.features(mnist_test[:2000])
    real, half = classifier.reference, features[:1000]
    for a, b in ((real, half), (real, features[1000:]), (half, features[1000:] * 1.5 + 3)):
        assert fid_from_features(a, b) == pytest.approx(_eigh_fid(a, b), rel=1e-7, abs=1e-7)


def test_singular_covariances_are_handled():
    # Fewer samples than dimensions: rank-deficient covariances, still a finite distance.
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(2), dtype=F64)
    assert fid_from_features(x, x + 1.0) == pytest.approx(32.0, rel=1e-6)


def test_a_reference_is_reused_and_the_order_of_features_does_not_matter():
    g = torch.Generator().manual_seed(3)
    reference, x = torch.randn(300, 8, generator=g), torch.randn(200, 8, generator=g) + 0.5
    frechet = FrechetReference(reference)
    assert frechet(x) == frechet(x) == pytest.approx(fid_from_features(reference, x), rel=1e-12)
    assert frechet(x.flip(0)) == pytest.approx(frechet(x), rel=1e-12)


def test_bad_shapes_are_refused():
    with pytest.raises(MetricsError, match="N ≥ 2"):
        fid_from_features(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(MetricsError, match="dimensions"):
        fid_from_features(torch.zeros(5, 3), torch.zeros(5, 2))
