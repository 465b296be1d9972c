"""The Fréchet distance between two sets of features, computed by torchmetrics.

Each set is summarised by the mean and covariance of a Gaussian fitted to it; the distance
between ``N(mu1, S1)`` and ``N(mu2, S2)`` is ``||mu1 - mu2||² + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^½)``.
genzoo hands its features to :class:`torchmetrics.image.fid.FrechetInceptionDistance` through a
pass-through feature module, so the arithmetic (float64 sums, covariances and the matrix square
root's trace) is torchmetrics' own. All features go in at once, so the result does not depend on
how they were batched.
"""

from __future__ import annotations

import torch
from torch import nn

from ..extras import require
from .errors import MetricsError

__all__ = ["FrechetReference", "fid_from_features"]


class _GivenFeatures(nn.Module):
    """torchmetrics' "feature extractor" for features computed already: it returns its input."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class FrechetReference:
    """The Fréchet distance of feature sets to one fixed reference set.

    The reference's statistics are accumulated once; each call measures another set against
    them (the bootstrap calls it once per resample).

    Args:
        reference: ``M×D`` features of the reference images, ``M ≥ 2``.

    Raises:
        MetricsError: ``reference`` is not a 2-D tensor of at least two rows.
    """

    def __init__(self, reference: torch.Tensor) -> None:
        FrechetInceptionDistance = require("torchmetrics.image.fid", "eval",
                                           "The Fréchet distance").FrechetInceptionDistance

        _check(reference, "reference")
        self.dim = int(reference.shape[1])
        self._metric = FrechetInceptionDistance(feature=_GivenFeatures(self.dim),
                                                reset_real_features=False, sync_on_compute=False)
        self._metric.update(reference.detach().to("cpu", torch.float64), real=True)

    def __call__(self, features: torch.Tensor) -> float:
        """The distance of ``N×D`` features (``N ≥ 2``) to the reference, never negative."""
        _check(features, "features")
        if features.shape[1] != self.dim:
            raise MetricsError(f"Fréchet distance: the features have {features.shape[1]} "
                               f"dimensions, the reference {self.dim}")
        self._metric.reset()
        self._metric.update(features.detach().to("cpu", torch.float64), real=False)
        return max(float(self._metric.compute()), 0.0)


def fid_from_features(reference: torch.Tensor, features: torch.Tensor) -> float:
    """The Fréchet distance between two ``N×D`` feature sets (``N`` may differ, each ``≥ 2``).

    Raises:
        MetricsError: a set has fewer than two rows, or the dimensions differ.
    """
    return FrechetReference(reference)(features)


def _check(features: torch.Tensor, name: str) -> None:
    if not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[0] < 2:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise MetricsError(f"Fréchet distance needs {name} as an N×D tensor with N ≥ 2, got {shape}")
