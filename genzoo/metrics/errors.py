"""The errors and warnings :mod:`genzoo.metrics` raises."""

from __future__ import annotations

from ..errors import GenzooError

__all__ = ["MetricsError", "FeatureCacheWarning", "SampleCountWarning"]


class MetricsError(GenzooError, ValueError):
    """Metrics cannot be computed as asked: wrong image channels or range, too few samples, an
    unknown data set or feature network, or a missing optional package or weights file. The
    message says how to fix it."""


class FeatureCacheWarning(UserWarning):
    """A cached feature network could not be used (corrupted, or from another genzoo) and is
    being trained again."""


class SampleCountWarning(UserWarning):
    """More samples were asked for than the data has real images for the floor (or the
    reference): the floor is computed on fewer images than the samples, so the two are not
    scored at the same ``n``."""
