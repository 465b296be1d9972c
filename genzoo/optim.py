"""Optimizer helpers that pick the fastest implementation torch has for the parameters' device."""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["adam"]


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
