"""Learning-rate schedules: the run options' warm-up then constant or cosine, and the
schedulers a model returns itself (:class:`genzoo.OptimizerSpec`).

Every schedule is a function of the training step: the runner steps each scheduler once per
training step, after the optimizers, whether or not its optimizer stepped (a GAN's generator
that steps every ``d_steps`` batches follows the same curve as its discriminator). Schedulers
are saved in checkpoints and restored on resume.

The runner's own schedules are :class:`torch.optim.lr_scheduler.LambdaLR` on a closed-form
factor (:func:`warmup_factor`), not chained recursive schedulers, so the rate at a step does
not depend on how the run got there: a resumed run, and one resumed with more epochs, follows
the curve of the epochs asked for.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from functools import partial
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from ..errors import CheckpointError, ConfigError

__all__ = ["warmup_factor", "make_schedule", "Schedules", "learning_rates"]


def warmup_factor(step: int, *, warmup: int, total: int | None, cosine: bool) -> float:
    """The factor of the base rate at training step ``step`` (counting from 0).

    It rises linearly over the first ``warmup`` steps (from ``1 / warmup`` to 1), then stays at
    1 (``cosine=False``) or follows half a cosine down to 0 at step ``total``, and stays at 0
    after it.
    """
    if step < warmup:
        return (step + 1) / warmup
    if not cosine or total is None:
        return 1.0
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_schedule(optimizer: torch.optim.Optimizer, kind: str, warmup: int,
                  total: int | None) -> LRScheduler | None:
    """The runner's schedule for ``optimizer``: ``None`` when there is nothing to schedule.

    Raises:
        ConfigError: a cosine schedule without a known run length.
    """
    if kind == "constant" and warmup == 0:
        return None
    if kind == "cosine" and total is None:
        raise ConfigError(
            "lr_schedule='cosine' needs the run's length in steps: give data with a len() "
            "(a DataLoader, a list, genzoo's loader) or max_steps"
        )
    return LambdaLR(optimizer, partial(warmup_factor, warmup=warmup, total=total,
                                       cosine=kind == "cosine"))


class Schedules:
    """The learning-rate schedulers of a run's optimizers, by optimizer name."""

    def __init__(self, schedulers: Mapping[str, LRScheduler]) -> None:
        self.schedulers = dict(schedulers)

    def step(self) -> None:
        """Advance every schedule by one training step."""
        with warnings.catch_warnings():
            # an optimizer that skipped this step (a GAN's generator) is still on the curve
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step\\(\\)` before")
            for scheduler in self.schedulers.values():
                scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        """Every scheduler's state, for a checkpoint."""
        return {name: s.state_dict() for name, s in self.schedulers.items()}

    def load_state_dict(self, states: Mapping[str, Any] | None) -> None:
        """Restore the states of :meth:`state_dict`.

        Raises:
            CheckpointError: the checkpoint's schedulers are not this run's.
        """
        states = dict(states or {})
        if set(states) != set(self.schedulers):
            raise CheckpointError(
                f"the checkpoint has learning-rate schedules for {sorted(states) or 'no optimizer'} "
                f"but this run schedules {sorted(self.schedulers) or 'none'}; resume with the "
                "lr_schedule and warmup_steps the run started with"
            )
        for name, scheduler in self.schedulers.items():
            scheduler.load_state_dict(states[name])


def learning_rates(optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, float]:
    """The current rate of each optimizer (its first parameter group's), as ``lr_<name>``."""
    return {f"lr_{name}": float(opt.param_groups[0]["lr"]) for name, opt in optimizers.items()}
