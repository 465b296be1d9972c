"""The classifier score (Inception-score-like) and k-NN precision, recall, density and coverage.

* :func:`classifier_score` is ``exp(E_x KL(p(y|x) || p(y)))``: high when each image is
  classified confidently *and* the classes are used evenly; between 1 and the number of classes.
* :func:`precision_recall` follows Kynkäänniemi et al., 2019, "Improved Precision and Recall
  Metric for Assessing Generative Models": each set's manifold is the union of balls around its
  points reaching their ``k``-th nearest neighbour. Precision is the share of generated points
  inside the real manifold (fidelity); recall the share of real points inside the generated one
  (diversity).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .errors import MetricsError

__all__ = ["classifier_score", "precision_recall", "manifold_memberships", "Memberships",
           "DEFAULT_K", "BLOCK_ROWS"]

#: The neighbourhood size of the k-NN manifolds (the paper's choice).
DEFAULT_K = 3
#: Rows of a distance matrix computed at a time (a fixed constant: results do not depend on it).
BLOCK_ROWS = 1000


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

    Distances are computed :data:`BLOCK_ROWS` rows at a time with :func:`torch.cdist` on the
    features' device, so 10,000 × 10,000 points take about 40 MB at a time.

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
    for start in range(0, len(fake), BLOCK_ROWS):
        distances = torch.cdist(fake[start:start + BLOCK_ROWS], real)  # block × real
        inside_real = distances <= real_radii.unsqueeze(0)
        precision.append(inside_real.any(1))
        density.append(inside_real.sum(1).double() / k)
        radii = fake_radii[start:start + BLOCK_ROWS].unsqueeze(1)
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
    for chunk in points.split(BLOCK_ROWS):
        distances = torch.cdist(chunk, points)
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, k])  # [:, 0] is itself
    return torch.cat(radii)
