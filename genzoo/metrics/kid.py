"""The kernel distance (KID): the unbiased squared MMD with torchmetrics' polynomial kernel.

KID (Bińkowski et al., 2018, "Demystifying MMD GANs") compares two feature sets through the
kernel ``k(x, y) = (x·y / D + 1)³`` (:func:`torchmetrics.image.kid.poly_kernel`). Its unbiased
estimator has no bias at any sample count, unlike FID, so it stays meaningful at small ``n``.

genzoo computes it over *all* the features (not over random subsets, as torchmetrics'
``KernelInceptionDistance`` does) in blocks, and splits it exactly into one term per image::

    MMD²_u = mean_i a_i + mean_j b_j
    a_i = mean_{i'≠i} k(x_i, x_i') - mean_j k(x_i, y_j)      (x: the images scored)
    b_j = mean_{j'≠j} k(y_j, y_j') - mean_i k(x_i, y_j)      (y: the reference images)

so the bootstrap re-averages the terms instead of recomputing kernels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..extras import require
from .errors import MetricsError

__all__ = ["KernelTerms", "kid_terms", "kernel_row_sums", "BLOCK_ROWS"]

#: Rows of a kernel matrix computed at a time (a fixed constant: results do not depend on it).
BLOCK_ROWS = 1024


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
    ``BLOCK_ROWS`` rows at a time.

    With ``skip_diagonal`` (``x`` is ``y``), the ``j = i`` terms are left out.

    Returns:
        ``Σ_j k(x_i, y_j)`` for every ``i`` and ``Σ_i k(x_i, y_j)`` for every ``j``.
    """
    poly_kernel = require("torchmetrics.image.kid", "eval", "The kernel distance").poly_kernel

    x, y = x.detach().cpu().double(), y.detach().cpu().double()
    rows, columns = [], torch.zeros(len(y), dtype=torch.float64)
    for start in range(0, len(x), BLOCK_ROWS):
        block = poly_kernel(x[start:start + BLOCK_ROWS], y)
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
