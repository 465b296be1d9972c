"""What a call to ``fit`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FitResult"]


@dataclass
class FitResult:
    """The outcome of a run.

    Attributes:
        epochs: Epochs completed in all (a resumed run counts those before it).
        steps: Training steps taken in all.
        metrics: The last epoch's metrics (mean losses, seconds, samples/s).
        history: Every epoch's metrics of this call, in order.
        out: The run folder, if one was written.
        checkpoint: The last checkpoint written, if any.
        grids: The grid images written, in order.
        interrupted: Whether the run stopped early on SIGINT/SIGTERM.
    """

    epochs: int = 0
    steps: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    out: Path | None = None
    checkpoint: Path | None = None
    grids: list[Path] = field(default_factory=list)
    interrupted: bool = False
