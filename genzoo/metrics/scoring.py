"""The numbers, computed on features: FID, KID, precision, recall, density, coverage and the
classifier score, and their bootstrap intervals.

* **FID**, the Fréchet distance: each set is summarised by the mean and covariance of a Gaussian
  fitted to it; the distance between ``N(mu1, S1)`` and ``N(mu2, S2)`` is
  ``||mu1 - mu2||² + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^½)``. genzoo hands its features to
  :class:`torchmetrics.image.fid.FrechetInceptionDistance` through a pass-through feature
  module, so the arithmetic (float64 sums, covariances and the matrix square root's trace) is
  torchmetrics' own. All features go in at once, so the result does not depend on how they
  were batched.
* **KID**, the kernel distance (Bińkowski et al., 2018, "Demystifying MMD GANs"): the unbiased
  squared MMD with the kernel ``k(x, y) = (x·y / D + 1)³``
  (:func:`torchmetrics.image.kid.poly_kernel`). Its estimator has no bias at any sample count,
  unlike FID, so it stays meaningful at small ``n``. genzoo computes it over *all* the features
  (not over random subsets, as torchmetrics' ``KernelInceptionDistance`` does) in blocks, and
  splits it exactly into one term per image::

      MMD²_u = mean_i a_i + mean_j b_j
      a_i = mean_{i'≠i} k(x_i, x_i') - mean_j k(x_i, y_j)      (x: the images scored)
      b_j = mean_{j'≠j} k(y_j, y_j') - mean_i k(x_i, y_j)      (y: the reference images)

  so the bootstrap re-averages the terms instead of recomputing kernels.
* **Precision and recall** (:func:`precision_recall`) follow Kynkäänniemi et al., 2019,
  "Improved Precision and Recall Metric for Assessing Generative Models": each set's manifold is
  the union of balls around its points reaching their ``k``-th nearest neighbour. Precision is
  the share of generated points inside the real manifold (fidelity); recall the share of real
  points inside the generated one (diversity). **Density and coverage** (Naeem et al., 2020)
  use the same balls (:func:`manifold_memberships`).
* The **classifier score** (:func:`classifier_score`) is ``exp(E_x KL(p(y|x) || p(y)))``: high
  when each image is classified confidently *and* the classes are used evenly; between 1 and the
  number of classes.
* **Bootstrap intervals**: every number genzoo reports comes with an interval from
  ``resamples`` bootstrap resamples (Efron, 1979): the images are drawn again with replacement
  as many times, the metric is computed on each resample, and the interval is the central
  ``level`` percentile interval of those values, **shifted by their bias** (their mean minus
  the estimate). The shift matters for FID: a resample holds repeated images, which makes its
  FID run high (at a few hundred images, every resample's FID lies above the estimate, so a
  plain or Efron's bias-corrected percentile interval would not even contain it); for the
  averages (precision, KID, ...) the shift is next to nothing. The draws come from a generator
  seeded with ``seed``, so the same inputs give the same interval.

:func:`~genzoo.metrics.score_features` puts them together for a feature space's reference.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from ..extras import require
from .errors import MetricsError

__all__ = ["FrechetReference", "fid_from_features", "KernelTerms", "kid_terms", "kernel_row_sums",
           "KERNEL_BLOCK_ROWS", "classifier_score", "precision_recall", "manifold_memberships",
           "Memberships", "DEFAULT_K", "DISTANCE_BLOCK_ROWS", "Bootstrap", "Interval",
           "percentile_interval", "DEFAULT_RESAMPLES", "DEFAULT_LEVEL", "METHOD"]


# -- FID ----------------------------------------------------------------------------------------

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

        _check_frechet_input(reference, "reference")
        self.dim = int(reference.shape[1])
        self._metric = FrechetInceptionDistance(feature=_GivenFeatures(self.dim),
                                                reset_real_features=False, sync_on_compute=False)
        self._metric.update(reference.detach().to("cpu", torch.float64), real=True)

    def __call__(self, features: torch.Tensor) -> float:
        """The distance of ``N×D`` features (``N ≥ 2``) to the reference, never negative."""
        _check_frechet_input(features, "features")
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


def _check_frechet_input(features: torch.Tensor, name: str) -> None:
    if not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[0] < 2:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise MetricsError(f"Fréchet distance needs {name} as an N×D tensor with N ≥ 2, got {shape}")


# -- KID ----------------------------------------------------------------------------------------

#: Rows of a kernel matrix computed at a time (a fixed constant: results do not depend on it).
KERNEL_BLOCK_ROWS = 1024


class KernelTerms(NamedTuple):
    """KID as one term per image; ``kid = a.mean() + b.mean()``.

    Attributes:
        a: ``N`` float64 terms of the images scored.
        b: ``M`` float64 terms of the reference images.
    """

    a: torch.Tensor
    b: torch.Tensor

    @property
    def kid(self) -> float:
        """The unbiased squared MMD."""
        return float(self.a.mean() + self.b.mean())


def kernel_row_sums(x: torch.Tensor, y: torch.Tensor, *,
                    skip_diagonal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The row and column sums of the kernel matrix ``k(x_i, y_j)``, in float64, computed
    ``KERNEL_BLOCK_ROWS`` rows at a time.

    With ``skip_diagonal`` (``x`` is ``y``), the ``j = i`` terms are left out.

    Returns:
        ``Σ_j k(x_i, y_j)`` for every ``i`` and ``Σ_i k(x_i, y_j)`` for every ``j``.
    """
    poly_kernel = require("torchmetrics.image.kid", "eval", "The kernel distance").poly_kernel

    x, y = x.detach().cpu().double(), y.detach().cpu().double()
    rows, columns = [], torch.zeros(len(y), dtype=torch.float64)
    for start in range(0, len(x), KERNEL_BLOCK_ROWS):
        block = poly_kernel(x[start:start + KERNEL_BLOCK_ROWS], y)
        if skip_diagonal:
            index = torch.arange(len(block))
            block[index, index + start] = 0
        rows.append(block.sum(1))
        columns += block.sum(0)
    return torch.cat(rows), columns


def kid_terms(features: torch.Tensor, reference: torch.Tensor,
              reference_row_sums: torch.Tensor | None = None) -> KernelTerms:
    """The per-image terms of KID between ``features`` (``N×D``) and ``reference`` (``M×D``).

    Args:
        features: The images scored; ``N ≥ 2``.
        reference: The reference images; ``M ≥ 2``.
        reference_row_sums: ``kernel_row_sums(reference, reference, skip_diagonal=True)[0]``
            if already known (it depends on the reference only; genzoo caches it).

    Raises:
        MetricsError: a set has fewer than two rows or the dimensions differ.
    """
    for name, x in (("features", features), ("reference", reference)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 2:
            raise MetricsError(f"KID needs {name} as an N×D tensor with N ≥ 2")
    if features.shape[1] != reference.shape[1]:
        raise MetricsError(f"KID: the features have {features.shape[1]} dimensions, the reference "
                           f"{reference.shape[1]}")
    n, m = len(features), len(reference)
    if reference_row_sums is None:
        reference_row_sums = kernel_row_sums(reference, reference, skip_diagonal=True)[0]
    within = kernel_row_sums(features, features, skip_diagonal=True)[0]
    across, across_t = kernel_row_sums(features, reference)  # Σ_j k(x_i, y_j), Σ_i k(x_i, y_j)
    a = within / (n - 1) - across / m
    b = reference_row_sums.cpu().double() / (m - 1) - across_t / n
    return KernelTerms(a, b)


# -- precision, recall, density, coverage and the classifier score ------------------------------

#: The neighbourhood size of the k-NN manifolds (the paper's choice).
DEFAULT_K = 3
#: Rows of a distance matrix computed at a time (a fixed constant: results do not depend on it).
DISTANCE_BLOCK_ROWS = 1000


def classifier_score(probs: torch.Tensor) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` for ``N×K`` class probabilities, computed in float64.

    Raises:
        MetricsError: ``probs`` is not an ``N×K`` tensor of probabilities.
    """
    if not isinstance(probs, torch.Tensor) or probs.dim() != 2 or probs.shape[0] < 1:
        shape = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise MetricsError(f"classifier_score needs N×K class probabilities, got {shape}")
    p = probs.detach().to("cpu", torch.float64)
    if bool((p < 0).any()) or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise MetricsError("classifier_score needs probabilities (rows ≥ 0 summing to 1), e.g. "
                           "logits.softmax(1)")
    marginal = p.mean(0, keepdim=True)
    kl = (torch.xlogy(p, p) - torch.xlogy(p, marginal)).sum(1)
    return float(kl.mean().exp())


class Memberships(NamedTuple):
    """Each image's part in precision, recall, density and coverage; each metric is a mean.

    Attributes:
        precision: Per generated image: 1 when it lies in a real image's ball, else 0.
        density: Per generated image: how many real balls hold it, divided by ``k``.
        recall: Per real image: 1 when it lies in a generated image's ball, else 0.
        coverage: Per real image: 1 when its own ball holds a generated image, else 0.
    """

    precision: torch.Tensor
    density: torch.Tensor
    recall: torch.Tensor
    coverage: torch.Tensor

    def means(self) -> dict[str, float]:
        """The four metrics."""
        return {name: float(values.double().mean()) for name, values in self._asdict().items()}


def manifold_memberships(real: torch.Tensor, fake: torch.Tensor, *, k: int = DEFAULT_K) -> Memberships:
    """k-NN precision, recall, density and coverage of ``fake`` features against ``real`` ones,
    image by image.

    Precision and recall follow Kynkäänniemi et al., 2019; density and coverage Naeem et al.,
    2020, "Reliable Fidelity and Diversity Metrics for Generative Models": density counts how
    many real balls hold each generated point (divided by ``k``; about 1 for a model that matches
    the data, above 1 for one that crowds the modes), coverage is the share of real points whose
    own ball holds a generated point (robust to outliers among the samples).

    Distances are computed :data:`DISTANCE_BLOCK_ROWS` rows at a time with :func:`torch.cdist`
    on the features' device, so 10,000 × 10,000 points take about 40 MB at a time.

    Args:
        real: ``N×D`` features of real images.
        fake: ``M×D`` features of generated images.
        k: Each point's ball reaches its ``k``-th nearest neighbour in its own set.

    Raises:
        MetricsError: the shapes do not fit, or a set has no more than ``k`` points.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise MetricsError(f"k must be a positive integer, got {k!r}")
    for name, x in (("real", real), ("fake", fake)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            raise MetricsError(f"precision_recall: {name} must be an N×D tensor of features")
        if x.shape[0] <= k:
            raise MetricsError(
                f"precision_recall: {name} has {x.shape[0]} points, but k={k} nearest neighbours "
                f"need at least {k + 1}; evaluate more samples"
            )
    if real.shape[1] != fake.shape[1]:
        raise MetricsError(f"precision_recall: real features have {real.shape[1]} dimensions, "
                           f"fake ones {fake.shape[1]}")
    real = real.detach().float()
    fake = fake.detach().float().to(real.device)
    real_radii = _kth_neighbour_distances(real, k)
    fake_radii = _kth_neighbour_distances(fake, k)
    precision, density = [], []
    recall = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    nearest = torch.full((len(real),), float("inf"), device=real.device)
    for start in range(0, len(fake), DISTANCE_BLOCK_ROWS):
        distances = torch.cdist(fake[start:start + DISTANCE_BLOCK_ROWS], real)  # block × real
        inside_real = distances <= real_radii.unsqueeze(0)
        precision.append(inside_real.any(1))
        density.append(inside_real.sum(1).double() / k)
        radii = fake_radii[start:start + DISTANCE_BLOCK_ROWS].unsqueeze(1)
        recall |= (distances <= radii).any(0)
        nearest = torch.minimum(nearest, distances.min(0).values)
    return Memberships(precision=torch.cat(precision).cpu(), density=torch.cat(density).cpu(),
                       recall=recall.cpu(), coverage=(nearest <= real_radii).cpu())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = DEFAULT_K) -> tuple[float, float]:
    """k-NN precision and recall of ``fake`` features against ``real`` ones (see
    :func:`manifold_memberships`).

    Returns:
        ``(precision, recall)``, each in ``[0, 1]``.

    Raises:
        MetricsError: the shapes do not fit, or a set has no more than ``k`` points.
    """
    means = manifold_memberships(real, fake, k=k).means()
    return means["precision"], means["recall"]


def _kth_neighbour_distances(points: torch.Tensor, k: int) -> torch.Tensor:
    """Each point's distance to its ``k``-th nearest other point of the same set."""
    radii = []
    for chunk in points.split(DISTANCE_BLOCK_ROWS):
        distances = torch.cdist(chunk, points)
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, k])  # [:, 0] is itself
    return torch.cat(radii)


# -- bootstrap intervals ------------------------------------------------------------------------

#: Bootstrap resamples per number, by default.
DEFAULT_RESAMPLES = 200
#: The confidence level of the intervals, by default.
DEFAULT_LEVEL = 0.95


class Interval(NamedTuple):
    """A confidence interval ``[low, high]``."""

    low: float
    high: float


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are computed (part of the protocol card).

    Attributes:
        resamples: How many resamples (at least 10).
        level: The confidence level, in ``(0, 1)``.
        seed: Seeds the resampling.

    Raises:
        MetricsError: a value is out of range.
    """

    resamples: int = DEFAULT_RESAMPLES
    level: float = DEFAULT_LEVEL
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 10:
            raise MetricsError(f"bootstrap resamples must be an integer of at least 10, got {self.resamples!r}")
        if not isinstance(self.level, (int, float)) or not 0 < self.level < 1:
            raise MetricsError(f"the confidence level must lie strictly between 0 and 1, got {self.level!r}")

    def indices(self, sizes: tuple[int, ...]) -> list[torch.Tensor]:
        """For each set size, a ``resamples × size`` tensor of indices drawn with replacement,
        all from one generator seeded with :attr:`seed` (so each set's draws are fixed)."""
        generator = torch.Generator().manual_seed(self.seed)
        return [torch.randint(size, (self.resamples, size), generator=generator) for size in sizes]

    def card(self) -> dict[str, Any]:
        """The settings as the protocol card shows them."""
        return {**asdict(self), "method": METHOD}


#: The interval's method, as the protocol card names it.
METHOD = "percentile, shifted by the resamples' mean bias"


def percentile_interval(estimate: float, replicates: torch.Tensor, level: float, *,
                        bounds: tuple[float, float] = (-math.inf, math.inf)) -> Interval:
    """The bias-shifted percentile interval of bootstrap ``replicates`` of ``estimate``.

    The replicates' ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles, both moved by the
    estimate minus the replicates' mean, then clipped to ``bounds`` (the metric's range).
    """
    values = replicates.detach().to("cpu", torch.float64).flatten()
    shift = estimate - float(values.mean())
    ends = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    low, high = (torch.quantile(values, ends) + shift).tolist()
    return Interval(min(max(low, bounds[0]), bounds[1]), min(max(high, bounds[0]), bounds[1]))
