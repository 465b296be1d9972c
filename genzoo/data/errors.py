"""The error raised by :mod:`genzoo.data`."""

from __future__ import annotations

from genzoo.errors import GenzooError

__all__ = ["DataError"]


class DataError(GenzooError, ValueError):
    """A data set could not be found, read, downloaded or batched.

    The message always says what was wrong (naming the file or folder involved)
    and how to fix it.
    """
