"""Bootstrap confidence intervals: resampling images with replacement, deterministically.

Every number genzoo reports comes with an interval from ``resamples`` bootstrap resamples (Efron,
1979): the images are drawn again with replacement as many times, the metric is computed on each
resample, and the interval is the central ``level`` percentile interval of those values,
**shifted by their bias** (their mean minus the estimate). The shift matters for FID: a resample
holds repeated images, which makes its FID run high (at a few hundred images, every resample's
FID lies above the estimate, so a plain or Efron's bias-corrected percentile interval would not
even contain it); for the averages (precision, KID, ...) the shift is next to nothing. The draws
come from a generator seeded with ``seed``, so the same inputs give the same interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch

from .errors import MetricsError

__all__ = ["Bootstrap", "Interval", "percentile_interval", "DEFAULT_RESAMPLES", "DEFAULT_LEVEL", "METHOD"]

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
