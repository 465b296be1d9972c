"""Sizes against this machine's memory: refuse up front, with the estimate, what cannot fit."""

from __future__ import annotations

import math
import os
from typing import Any

from .errors import ConfigError

__all__ = ["physical_memory", "format_bytes", "check_sample_size"]


def physical_memory() -> int:
    """This machine's memory in bytes (0 where it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def format_bytes(count: float) -> str:
    """``count`` bytes for a person: ``"3.1 TB"``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000:
            return f"{int(count)} B" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} PB"


def check_sample_size(model: Any, count: int, *, option: str = "-n") -> None:
    """Refuse to draw ``count`` images at once when they would not fit in memory.

    The images are held as float32 (and once more as the grid or the files written), so the
    estimate is twice ``count × C × H × W × 4`` bytes.

    Raises:
        ConfigError: naming the estimate and the machine's memory.
    """
    shape = tuple(getattr(model, "image_shape", ()) or ())
    memory = physical_memory()
    if not shape or not memory:
        return
    needed = 2 * count * math.prod(shape) * 4
    if needed > memory:
        fits = max(1, memory // (2 * math.prod(shape) * 4) // 2)
        raise ConfigError(
            f"{option} {count} images of {'x'.join(map(str, shape))} need about "
            f"{format_bytes(needed)} of memory, more than this machine's {format_bytes(memory)}; "
            f"draw at most about {fits} at a time"
        )
