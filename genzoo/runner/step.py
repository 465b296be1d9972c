"""The :class:`~genzoo.protocols.StepContext` the runner lends a model's training step."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import GenzooError
from .distributed import World
from .parallel import Parallel

__all__ = ["Step"]


class Step:
    """Backward, gradient averaging, clipping and optimizer steps, owned by the runner.

    A model's ``training_step`` calls :meth:`optimize` once per optimizer. Only that
    optimizer's parameters receive gradients, so a GAN's generator step does not spend time on
    the discriminator's weight gradients. In several processes the gradients are averaged
    during backward by the strategy's engine (DDP's reducer or FSDP's reduce-scatter), so
    they are averaged when backward returns.

    With a ``max_norms`` entry for an optimizer, its gradients are clipped to that total L2 norm
    (:func:`torch.nn.utils.clip_grad_norm_`) after backward (so after they are averaged across
    processes) and, with fp16's gradient scaler, after they are unscaled; the norm before
    clipping is kept in :attr:`grad_norms` (on the device) for the metrics.
    """

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer],
                 scaler: torch.amp.GradScaler | None, device: torch.device,
                 parallel: Parallel | None = None,
                 max_norms: Mapping[str, float | None] | None = None) -> None:
        self.optimizers = dict(optimizers)
        self.max_norms = {k: v for k, v in (max_norms or {}).items() if v is not None}
        self.grad_norms: dict[str, torch.Tensor] = {}
        self.scaler = scaler
        self.device = device
        self.parallel = parallel or Parallel("none", World(), device)
        self.epoch = 0
        self.index = 0
        self._params = {
            name: [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
            for name, opt in self.optimizers.items()
        }

    def optimize(self, loss: torch.Tensor, optimizer: str) -> None:
        """Back-propagate ``loss`` into the named optimizer's parameters and step it."""
        try:
            opt = self.optimizers[optimizer]
        except KeyError:
            raise GenzooError(
                f"training_step asked to optimize with {optimizer!r}, but configure_optimizers "
                f"returned only {', '.join(map(repr, self.optimizers))}"
            ) from None
        params = self._params[optimizer]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, enabled=False):
            scaled = self.scaler.scale(loss) if self.scaler is not None else loss
            self.parallel.sync(optimizer, scaled).backward(inputs=params)
        max_norm = self.max_norms.get(optimizer)
        if max_norm is not None:
            if self.scaler is not None:
                self.scaler.unscale_(opt)  # clip the true gradients, not the scaled ones
            self.grad_norms[optimizer] = torch.nn.utils.clip_grad_norm_(params, max_norm)
        if self.scaler is not None:
            self.scaler.step(opt)
        else:
            opt.step()

    def end_iteration(self) -> None:
        """Finish one iteration: one scaler update however many optimizers stepped."""
        if self.scaler is not None:
            self.scaler.update()
        self.index += 1
