"""What ``configure_optimizers`` returned, resolved with the run options: each optimizer's
learning-rate schedule and gradient-clipping norm."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import GenzooError
from ..optim import OptimizerSpec
from .options import RunOptions
from .schedules import Schedules, make_schedule

__all__ = ["Optimization", "resolve_optimizers"]


@dataclass
class Optimization:
    """A run's optimizers by name, their clipping norms and their schedules."""

    optimizers: dict[str, torch.optim.Optimizer]
    max_norms: dict[str, float | None]
    schedules: Schedules


def resolve_optimizers(model: Any, opts: RunOptions, total_steps: int | None) -> Optimization:
    """Call ``model.configure_optimizers()`` and attach the run options' schedules and clipping.

    Args:
        model: The model.
        opts: The run options (``lr_schedule``, ``warmup_steps``, ``max_norm``).
        total_steps: The run's length in training steps, when known (for a cosine schedule).

    Raises:
        GenzooError: ``configure_optimizers`` returned something else than optimizers by name.
        ConfigError: a cosine schedule with no known length.
    """
    returned = model.configure_optimizers()
    if isinstance(returned, (torch.optim.Optimizer, OptimizerSpec)):
        returned = {"optimizer": returned}
    if not isinstance(returned, Mapping) or not returned or not all(
            isinstance(o, (torch.optim.Optimizer, OptimizerSpec)) for o in returned.values()):
        raise GenzooError(
            f"{type(model).__name__}.configure_optimizers() must return a non-empty dict of "
            f"torch optimizers (or genzoo.OptimizerSpec) by name, got {returned!r}"
        )
    optimizers, max_norms, schedulers = {}, {}, {}
    for name, entry in returned.items():
        spec = entry if isinstance(entry, OptimizerSpec) else OptimizerSpec(entry)
        optimizers[name] = spec.optimizer
        max_norms[name] = spec.max_norm if spec.max_norm is not None else opts.max_norm
        scheduler = spec.scheduler or make_schedule(spec.optimizer, opts.lr_schedule,
                                                    opts.warmup_steps, total_steps)
        if scheduler is not None:
            schedulers[name] = scheduler
    return Optimization(optimizers, max_norms, Schedules(schedulers))
