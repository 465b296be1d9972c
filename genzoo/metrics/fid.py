"""The Fréchet distance between two sets of features, in float64 with torch alone.

Each set is summarised by the mean and covariance of a Gaussian fitted to it; the distance
between the Gaussians ``N(mu1, S1)`` and ``N(mu2, S2)`` is::

    ||mu1 - mu2||² + Tr(S1) + Tr(S2) - 2 Tr((S1^½ S2 S1^½)^½)

Both matrix square roots are taken of symmetric positive semi-definite matrices through
:func:`torch.linalg.eigh`, clamping the tiny negative eigenvalues rounding leaves, so no scipy
is needed and the result is real and deterministic.
"""

from __future__ import annotations

import torch

from .errors import MetricsError

__all__ = ["feature_statistics", "frechet_distance", "fid_from_features"]


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and the (unbiased) covariance of ``N×D`` features, in float64 on the CPU.

    Raises:
        MetricsError: ``features`` is not a 2-D tensor of at least two rows.
    """
    if not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[0] < 2:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise MetricsError(f"feature statistics need an N×D tensor with N ≥ 2, got {shape}")
    x = features.detach().to("cpu", torch.float64)
    mean = x.mean(0)
    centred = x - mean
    cov = centred.T @ centred / (x.shape[0] - 1)
    return mean, cov


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor,
                     mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """The Fréchet distance between the Gaussians ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    Args:
        mu1: ``D`` means of the first set.
        sigma1: Its ``D×D`` covariance.
        mu2: ``D`` means of the second set.
        sigma2: Its ``D×D`` covariance.

    Returns:
        The distance (never negative; 0 for identical statistics).

    Raises:
        MetricsError: the shapes do not fit together.
    """
    mu1, mu2 = (torch.as_tensor(m).to("cpu", torch.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (torch.as_tensor(s).to("cpu", torch.float64) for s in (sigma1, sigma2))
    d = mu1.shape[-1] if mu1.dim() == 1 else -1
    if d < 1 or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise MetricsError(
            f"Fréchet distance needs two D-vectors and two D×D matrices; got means "
            f"{tuple(mu1.shape)}, {tuple(mu2.shape)} and covariances {tuple(sigma1.shape)}, "
            f"{tuple(sigma2.shape)}"
        )
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_(min=0)
    trace_sqrt = eigenvalues.sqrt().sum()
    distance = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return max(float(distance), 0.0)


def fid_from_features(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """The Fréchet distance between two ``N×D`` feature sets (``N`` may differ)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
