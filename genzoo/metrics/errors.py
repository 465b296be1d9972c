"""The errors and warnings :mod:`genzoo.metrics` raises."""

from __future__ import annotations

from ..errors import GenzooError

__all__ = ["MetricsError", "ClassifierCacheWarning"]


class MetricsError(GenzooError, ValueError):
    """Metrics cannot be computed as asked: wrong image shape or range, too few samples, an
    unknown data set, or a missing optional package. The message says how to fix it."""


class ClassifierCacheWarning(UserWarning):
    """A cached domain classifier could not be used (corrupted, or from another genzoo) and is
    being retrained."""
