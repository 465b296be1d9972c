"""The shared runner: one training loop for every model, whatever its plugin."""

from .device import resolve_device
from .distributed import World
from .loop import LAST_CHECKPOINT, RunInfo, fit
from .options import RunOptions
from .precision import Precision
from .result import FitResult
from .rng import capture_rng, restore_rng, seed_everything
from .step import Step

__all__ = [
    "fit",
    "RunOptions",
    "RunInfo",
    "FitResult",
    "LAST_CHECKPOINT",
    "Step",
    "World",
    "Precision",
    "resolve_device",
    "seed_everything",
    "capture_rng",
    "restore_rng",
]
