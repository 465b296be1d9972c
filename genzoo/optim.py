"""What a model's ``configure_optimizers`` returns, and an Adam that picks torch's fastest kernel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

__all__ = ["adam", "OptimizerSpec"]


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer with its own learning-rate schedule and gradient clipping.

    ``configure_optimizers`` may return one in place of a bare optimizer::

        def configure_optimizers(self):
            opt = genzoo.optim.adam(self.parameters(), 2e-4)
            warmup = torch.optim.lr_scheduler.LinearLR(opt, 0.01, total_iters=500)
            return {"model": genzoo.OptimizerSpec(opt, scheduler=warmup, max_norm=1.0)}

    Attributes:
        optimizer: The optimizer.
        scheduler: Any :class:`torch.optim.lr_scheduler.LRScheduler` built on ``optimizer``.
            The runner steps it once per training step (after the optimizers), saves it in
            checkpoints and restores it on resume; the run options' ``lr_schedule`` then leaves
            this optimizer alone.
        max_norm: Clip the gradients of this optimizer's parameters to this total L2 norm
            before each step (``None``: the run options' ``max_norm``).
    """

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    max_norm: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.optimizer, torch.optim.Optimizer):
            raise TypeError(f"OptimizerSpec needs a torch optimizer, got {self.optimizer!r}")
        if self.scheduler is not None and getattr(self.scheduler, "optimizer", None) is not self.optimizer:
            raise ValueError("OptimizerSpec's scheduler must be built on its own optimizer")
        if self.max_norm is not None and not self.max_norm > 0:
            raise ValueError(f"max_norm must be positive, got {self.max_norm}")


def adam(params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
         weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam on the fused kernel where the parameters' device supports it, else foreach.

    Call it after the model is on its training device (as
    :meth:`~genzoo.protocols.Trainer.configure_optimizers` is called).
    """
    params = [p for p in params if p.requires_grad]
    device = params[0].device.type if params else "cpu"
    fused = device in ("cuda", "cpu", "mps") and all(p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay,
                            fused=fused or None, foreach=None if fused else True)
