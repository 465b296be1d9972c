"""What changes the weights besides backward: the optimizers ``configure_optimizers`` returned,
resolved with the run options (each one's learning-rate schedule and gradient-clipping norm),
the learning-rate schedules, and the weight EMA.

**Schedules** (the run options' warm-up then constant or cosine, and the schedulers a model
returns itself, :class:`genzoo.OptimizerSpec`) are functions of the training step: the runner
steps each scheduler once per training step, after the optimizers, whether or not its optimizer
stepped (a GAN's generator that steps every ``d_steps`` batches follows the same curve as its
discriminator). Schedulers are saved in checkpoints and restored on resume. The runner's own
schedules are :class:`torch.optim.lr_scheduler.LambdaLR` on a closed-form factor
(:func:`warmup_factor`), not chained recursive schedulers, so the rate at a step does not depend
on how the run got there: a resumed run, and one resumed with more epochs, follows the curve of
the epochs asked for.

**Weight EMA**: an exponential moving average of a model's weights, kept beside the raw ones.
The runner keeps one for any model when ``fit(..., ema=0.9999)``: it is updated after every
training step, the sample grids, the epoch-end hooks (an evaluation, say) and the model left
after ``fit`` use the averaged weights, the raw weights keep training, and checkpoints hold
both (``state_dict`` the raw, ``ema`` the averaged), so a resumed run continues bit-for-bit.
The update is ``average ← average + (1 − d)·(weights − average)`` (one fused
``torch._foreach_lerp_``, as :func:`torch.optim.swa_utils.get_ema_multi_avg_fn` does), with
the decay warmed up as ``d = min(decay, (1 + t) / (10 + t))`` at update ``t`` so that a short
run's average is not dominated by the initial weights.

Buffers: floating-point buffers (batch-norm running statistics) are averaged with the same
decay, so they describe the averaged weights' activations approximately; integer buffers (batch
counts) are the trained model's, and so are the buffers of frozen modules (whose parameters all
have ``requires_grad=False``, such as the GAN's own averaged generator). A model that wants
exact statistics for its average recomputes them itself, as the GAN plugin's generator EMA does
with a forward pass per update.

:class:`torch.optim.swa_utils.AveragedModel` is not used because it deep-copies the model (a
second module, and a second set of hooks and non-tensor state) and starts from a copy of the
first weights it sees, where genzoo's warm-up starts from the initial weights.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from ..errors import CheckpointError, ConfigError, GenzooError
from ..optim import OptimizerSpec
from .options import RunOptions

__all__ = ["Optimization", "resolve_optimizers", "warmup_factor", "make_schedule", "Schedules",
           "learning_rates", "WeightEMA", "ema_decay", "lerp_towards"]


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


def ema_decay(decay: float, updates: int, warmup: bool = True) -> float:
    """The decay of update number ``updates`` (counting from 0): ``decay``, or with ``warmup``
    ``min(decay, (1 + updates) / (10 + updates))``."""
    return min(decay, (1 + updates) / (10 + updates)) if warmup else decay


@torch.no_grad()
def lerp_towards(averages: list[torch.Tensor], values: Iterable[torch.Tensor], decay: float) -> None:
    """``average ← average + (1 − decay)·(value − average)`` for each pair, in place."""
    values = [v.detach() for v in values]
    if averages:
        torch._foreach_lerp_(averages, values, 1.0 - decay)


class WeightEMA:
    """An exponential moving average of ``module``'s trainable parameters and float buffers.

    Args:
        module: The model whose weights are averaged (they must not move device afterwards).
        decay: The decay, in ``[0, 1)``; 0.999 to 0.9999 are usual.
        warmup: Warm the decay up as :func:`ema_decay` says.

    Attributes:
        updates: How many updates it has had.
    """

    def __init__(self, module: nn.Module, decay: float, *, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema decay must be in [0, 1), got {decay}")
        self.module, self.decay, self.warmup = module, decay, warmup
        self.updates = 0
        self._names = [name for name, p in module.named_parameters() if p.requires_grad]
        self._names += [name for name, b in _trained_buffers(module) if b.is_floating_point()]
        tensors = dict(module.named_parameters())
        tensors.update(module.named_buffers())
        self._live = [tensors[name] for name in self._names]
        self.averages = [t.detach().clone() for t in self._live]

    @torch.no_grad()
    def update(self) -> None:
        """Move the averages towards the module's current weights."""
        lerp_towards(self.averages, self._live, ema_decay(self.decay, self.updates, self.warmup))
        self.updates += 1

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the module holds the averaged weights; the raw ones come back after.

        The swap exchanges storage, not values: it costs no copy and the optimizers keep
        pointing at the same parameters.
        """
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def apply(self) -> None:
        """Leave the averaged weights in the module (the raw ones are then the averages')."""
        self._swap()

    @torch.no_grad()
    def _swap(self) -> None:
        for index, (live, average) in enumerate(zip(self._live, self.averages)):
            held = live.data
            live.data = average
            self.averages[index] = held

    def averaged_state_dict(self) -> dict[str, Any]:
        """The module's ``state_dict`` with the averaged weights, as :func:`genzoo.load` reads it."""
        with self.applied():
            return {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: the settings, the update count and the averaged state_dict."""
        return {"decay": self.decay, "warmup": self.warmup, "updates": self.updates,
                "state_dict": self.averaged_state_dict()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (the decay comes from the run's options).

        Raises:
            CheckpointError: the averaged weights do not fit the module.
        """
        averaged = state["state_dict"]
        missing = [name for name in self._names if name not in averaged]
        if missing:
            raise CheckpointError(f"the checkpoint's EMA weights lack {', '.join(missing[:3])}")
        for average, name in zip(self.averages, self._names):
            if average.shape != averaged[name].shape:
                raise CheckpointError(f"the checkpoint's EMA weight {name} has shape "
                                      f"{tuple(averaged[name].shape)}, the model {tuple(average.shape)}")
            average.copy_(averaged[name])
        self.updates = int(state["updates"])


def _trained_buffers(module: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """The named buffers of ``module``, except those of frozen submodules (all of whose own
    parameters have ``requires_grad=False``)."""
    for prefix, sub in module.named_modules():
        own = list(sub.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            continue
        for name, buffer in sub.named_buffers(recurse=False):
            yield (f"{prefix}.{name}" if prefix else name), buffer
