"""The classifier score (Inception-score-like) and k-NN precision and recall.

* :func:`classifier_score` is ``exp(E_x KL(p(y|x) || p(y)))``: high when each image is
  classified confidently *and* the classes are used evenly; between 1 and the number of classes.
* :func:`precision_recall` follows Kynkäänniemi et al., 2019, "Improved Precision and Recall
  Metric for Assessing Generative Models": each set's manifold is the union of balls around its
  points reaching their ``k``-th nearest neighbour. Precision is the share of generated points
  inside the real manifold (fidelity); recall the share of real points inside the generated one
  (diversity).
"""

from __future__ import annotations

import torch

from .errors import MetricsError

__all__ = ["classifier_score", "precision_recall", "DEFAULT_K"]

#: The neighbourhood size of the k-NN manifolds (the paper's choice).
DEFAULT_K = 3


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


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = DEFAULT_K,
                     batch_size: int = 1000) -> tuple[float, float]:
    """k-NN precision and recall of ``fake`` features against ``real`` ones.

    Distances are computed ``batch_size`` rows at a time with :func:`torch.cdist` (on the
    features' device), so 10,000 × 10,000 points take about 40 MB at a time.

    Args:
        real: ``N×D`` features of real images.
        fake: ``M×D`` features of generated images.
        k: Each point's ball reaches its ``k``-th nearest neighbour in its own set.
        batch_size: Rows per distance block.

    Returns:
        ``(precision, recall)``, each in ``[0, 1]``.

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
    real_radii = _kth_neighbour_distances(real, k, batch_size)
    fake_radii = _kth_neighbour_distances(fake, k, batch_size)
    precision = _share_inside(fake, real, real_radii, batch_size)
    recall = _share_inside(real, fake, fake_radii, batch_size)
    return precision, recall


def _kth_neighbour_distances(points: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Each point's distance to its ``k``-th nearest other point of the same set."""
    radii = []
    for chunk in points.split(batch_size):
        distances = torch.cdist(chunk, points)
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, k])  # [:, 0] is itself
    return torch.cat(radii)


def _share_inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                  batch_size: int) -> float:
    """The share of ``points`` within ``radii`` of at least one of ``centres``."""
    inside = 0
    for chunk in points.split(batch_size):
        distances = torch.cdist(chunk, centres)
        inside += int((distances <= radii.unsqueeze(0)).any(1).sum())
    return inside / points.shape[0]
