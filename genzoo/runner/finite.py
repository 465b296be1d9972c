"""Stopping a run at the first NaN or infinite loss, without a host synchronisation per step.

Every step's losses are checked on the device: :class:`FiniteWatch` remembers, in device
tensors, the first step whose losses were not all finite and their values. The runner reads
that back only where it synchronises anyway (each logging interval and the end of each epoch,
as :class:`genzoo.batches.RangeWatch` does for batches) and before it writes a checkpoint, so
the last checkpoint on disk is always one written before the failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ..errors import NonFiniteLossError

__all__ = ["FiniteWatch", "check_finite_weights"]

_REMEDIES = ("lower the learning rate, train in full precision (precision=\"32\"), or clip "
             "gradients (max_norm=1.0)")


class FiniteWatch:
    """Remembers the first step whose losses were not finite (on the device, no sync)."""

    def __init__(self) -> None:
        self._names: tuple[str, ...] = ()
        self._first_step: torch.Tensor | None = None  # -1 while every loss was finite
        self._values: torch.Tensor | None = None

    def observe(self, losses: Mapping[str, torch.Tensor], index: int) -> None:
        """Take the losses of step ``index`` (steps before it, counting from 0) into account."""
        if not losses:
            return
        names = tuple(losses)
        values = torch.stack([v.detach().float().reshape(()) for v in losses.values()])
        if self._first_step is None or names != self._names:
            if self._first_step is not None:
                self.check()  # the losses changed names: settle the old ones first
            self._names = names
            self._first_step = torch.full((), -1, dtype=torch.long, device=values.device)
            self._values = torch.zeros_like(values)
        bad = ~torch.isfinite(values).all()
        new = bad & (self._first_step < 0)
        self._first_step = torch.where(new, index, self._first_step)
        self._values = torch.where(new, values, self._values)

    def failed(self) -> bool:
        """Whether a loss observed so far was not finite (a host synchronisation)."""
        return self._first_step is not None and int(self._first_step) >= 0

    def check(self) -> None:
        """Raise :class:`NonFiniteLossError` if a loss observed so far was not finite."""
        if self._first_step is None or self._values is None:
            return
        first = int(self._first_step)  # a host synchronisation: call it where the runner syncs
        if first < 0:
            return
        values = self._values.tolist()
        name, value = next(((n, v) for n, v in zip(self._names, values) if not math.isfinite(v)),
                           (self._names[0], values[0]))
        raise NonFiniteLossError(
            f"the loss {name!r} became {value} at step {first + 1}; the run stopped and its "
            f"last checkpoint (if any) is from before that step. Try to {_REMEDIES}",
            step=first + 1, name=name, value=value)


def check_finite_weights(module: torch.nn.Module, step: int) -> None:
    """Raise :class:`NonFiniteLossError` if a parameter of ``module`` is NaN or infinite."""
    params = [_local(p.detach()) for p in module.parameters() if p.is_floating_point()]
    if not params:
        return
    norms = torch.stack([n.float() for n in torch._foreach_norm(params)])
    if bool(torch.isfinite(norms).all()):
        return
    raise NonFiniteLossError(
        f"the weights became NaN or infinite by step {step} although the losses were finite; "
        f"the checkpoint was not written. Try to {_REMEDIES}",
        step=step, name="weights", value=float("nan"))


def _local(tensor: torch.Tensor) -> torch.Tensor:
    """A sharded (FSDP) parameter's local shard; any other tensor itself."""
    to_local = getattr(tensor, "to_local", None)
    return to_local() if callable(to_local) else tensor
