"""Weight EMA: an exponential moving average of a model's weights, kept beside the raw ones.

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
have ``requires_grad=False``, such as the GAN's own averaged generator). A model that wants exact statistics for its average recomputes them itself,
as the GAN plugin's generator EMA does with a forward pass per update.

:class:`torch.optim.swa_utils.AveragedModel` is not used because it deep-copies the model (a
second module, and a second set of hooks and non-tensor state) and starts from a copy of the
first weights it sees, where genzoo's warm-up starts from the initial weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError

__all__ = ["WeightEMA", "ema_decay", "lerp_towards"]


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
