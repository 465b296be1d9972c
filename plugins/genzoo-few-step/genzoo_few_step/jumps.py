"""Sampling in a few jumps along the straight path from noise (``t = 0``) to data (``t = 1``).

Both few-step models sample the same way: from noise ``x`` at ``t``, a network predicts the
average velocity to a later time ``s`` and the sampler jumps there, ``x + (s - t) u(x, t, s)``,
over evenly spaced times. For a distilled student, whose path is straight, ``u`` is its
velocity (an Euler step); for MeanFlow it is the learned mean velocity over the jump.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genzoo.plugin import sampling_progress

__all__ = ["jump_times", "jump"]

#: ``u(x, t, s)``: the average velocity from time ``t`` to ``s`` (``N`` times each).
MeanVelocity = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def jump_times(steps: int) -> list[float]:
    """``steps + 1`` evenly spaced times from 0 to 1."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return torch.linspace(0, 1, steps + 1, dtype=torch.float64).tolist()


def jump(velocity: MeanVelocity, z: torch.Tensor, steps: int, *,
         progress: bool | None = None) -> torch.Tensor:
    """Carry the noise ``z`` from ``t = 0`` to ``1`` in ``steps`` jumps of ``velocity``
    (``progress``: the bar of :func:`genzoo.sampling.sampling_progress`, ``False`` for none)."""
    x = z.float()
    times = jump_times(steps)
    for t, s in sampling_progress(list(zip(times[:-1], times[1:])), desc="jump",
                                  enabled=progress):
        start = torch.full((x.shape[0],), t, device=x.device)
        end = torch.full((x.shape[0],), s, device=x.device)
        x = x + (s - t) * velocity(x, start, end).float()
    return x
