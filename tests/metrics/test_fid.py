"""The Fréchet distance against closed forms."""

from __future__ import annotations

import pytest
import torch

from genzoo.metrics import MetricsError, feature_statistics, fid_from_features, frechet_distance


def test_identical_statistics_are_at_distance_zero():
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    mu, sigma = feature_statistics(x)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_gaussians_match_the_closed_form():
    # For diagonal covariances the distance is ||mu1 - mu2||² + Σ (s1 - s2)² (s: std devs).
    f64 = torch.float64
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0], dtype=f64), torch.tensor([1.0, 1.0, 0.0], dtype=f64)
    s1, s2 = torch.tensor([1.0, 2.0, 0.5], dtype=f64), torch.tensor([3.0, 2.0, 0.1], dtype=f64)
    expected = float((mu1 - mu2).square().sum() + (s1 - s2).square().sum())
    got = frechet_distance(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_general_covariances_match_the_eigenvalues_of_their_product():
    g, f64 = torch.Generator().manual_seed(1), torch.float64
    a, b = torch.randn(6, 6, generator=g, dtype=f64), torch.randn(6, 6, generator=g, dtype=f64)
    s1, s2 = a @ a.T + 0.1 * torch.eye(6, dtype=f64), b @ b.T
    mu1, mu2 = torch.randn(6, generator=g, dtype=f64), torch.zeros(6, dtype=f64)
    # Tr((S1 S2)^½) is the sum of the square roots of S1 S2's (real, non-negative) eigenvalues.
    trace_sqrt = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum()
    expected = float(mu1.square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-8)


def test_singular_covariances_are_handled():
    # Fewer samples than dimensions: rank-deficient covariances, still a finite distance.
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(2))
    assert fid_from_features(x, x + 1.0) == pytest.approx(32.0, rel=1e-6)


def test_feature_statistics_are_float64_mean_and_unbiased_covariance():
    x = torch.randn(100, 4, generator=torch.Generator().manual_seed(3))
    mu, sigma = feature_statistics(x)
    assert mu.dtype == sigma.dtype == torch.float64
    torch.testing.assert_close(sigma, torch.cov(x.double().T))
    torch.testing.assert_close(mu, x.double().mean(0))


def test_bad_shapes_are_refused():
    with pytest.raises(MetricsError, match="N ≥ 2"):
        feature_statistics(torch.zeros(1, 3))
    with pytest.raises(MetricsError, match="D×D"):
        frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(2), torch.eye(2))
