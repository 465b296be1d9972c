"""Scoring features against a feature space's reference: every number with its interval.

* FID against all reference features (torchmetrics' arithmetic, float64);
* KID against all reference features (unbiased; torchmetrics' polynomial kernel);
* precision, recall, density and coverage against a fixed random subset of the reference as
  large as the set scored (all of it when that is larger), since k-NN radii depend on set size;
* the classifier score, where the feature network is a classifier.

The bootstrap (see :mod:`genzoo.metrics.bootstrap`) draws the images scored with replacement; FID
and the classifier score are recomputed on each resample, the others re-average their per-image
terms, with the real images those terms belong to (recall, coverage, KID's reference half) drawn
with replacement too.
"""

from __future__ import annotations

import math

import torch

from .bootstrap import Bootstrap, percentile_interval
from .space import FeatureSpace
from .kid import kid_terms
from .results import Scores
from .sampling import fixed_subset
from .scores import DEFAULT_K, classifier_score, manifold_memberships

__all__ = ["score_features"]

#: The range of each metric, which its interval is clipped to (KID, an unbiased estimate, can
#: be negative).
_BOUNDS = {"fid": (0.0, math.inf), "precision": (0.0, 1.0), "recall": (0.0, 1.0),
           "density": (0.0, math.inf), "coverage": (0.0, 1.0), "classifier_score": (1.0, math.inf)}


def score_features(features: torch.Tensor, probs: torch.Tensor | None, space: FeatureSpace, *,
                   k: int = DEFAULT_K, bootstrap: Bootstrap | None = None) -> Scores:
    """Score images given by their features (and class probabilities) in ``space``.

    Args:
        features: ``N×D`` features from :meth:`FeatureSpace.features`.
        probs: ``N×K`` class probabilities, or ``None`` (no classifier score).
        space: The feature space with the reference features.
        k: Neighbourhood size of precision, recall, density and coverage.
        bootstrap: How to compute the intervals (default: :class:`Bootstrap`'s defaults).

    Raises:
        MetricsError: too few images for ``k``, or features of another dimension.
    """
    bootstrap = bootstrap or Bootstrap()
    fakes = features.detach().to("cpu", torch.float32)
    real = fixed_subset(space.reference, len(fakes))
    members = manifold_memberships(real, fakes, k=k)
    terms = kid_terms(fakes / space.kid_scale, space.reference / space.kid_scale, space.kernel_sums)
    values: dict[str, float] = {"fid": space.frechet(fakes), "kid": terms.kid, **members.means()}
    fake_draws, real_draws, reference_draws = bootstrap.indices((len(fakes), len(real),
                                                                 len(space.reference)))
    replicates = {
        "fid": torch.tensor([space.frechet(fakes[index]) for index in fake_draws]),
        "kid": terms.a[fake_draws].mean(1) + terms.b[reference_draws].mean(1),
        "precision": members.precision[fake_draws].double().mean(1),
        "recall": members.recall[real_draws].double().mean(1),
        "density": members.density[fake_draws].mean(1),
        "coverage": members.coverage[real_draws].double().mean(1),
    }
    if probs is not None:
        values["classifier_score"] = classifier_score(probs)
        replicates["classifier_score"] = torch.tensor([classifier_score(probs[index])
                                                       for index in fake_draws])
    intervals = {name: percentile_interval(values[name], replicates[name], bootstrap.level,
                                           bounds=_BOUNDS.get(name, (-math.inf, math.inf)))
                 for name in values}
    return Scores(**values, intervals=intervals)
