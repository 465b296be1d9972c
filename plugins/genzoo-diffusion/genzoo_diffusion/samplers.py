"""Samplers: one step of the reverse process each, on any model's predictions.

A sampler's :meth:`~Sampler.step` takes the schedule, the current ``x_t``, the clean image and
noise the network implies (``x0``, ``eps``), the current and the next timestep and a random
generator, and returns ``x_{t_prev}``. :func:`sampling_timesteps` chooses the timesteps a sampling
run visits. :data:`SAMPLERS` maps the names a model's ``sampler`` option takes to them.
"""

from __future__ import annotations

import math

import torch

from .schedule import NoiseSchedule

__all__ = ["Sampler", "DDIM", "DDPM", "SAMPLERS", "sampling_timesteps"]


def sampling_timesteps(timesteps: int, steps: int) -> list[int]:
    """``steps`` evenly strided timesteps of a ``timesteps``-step chain, from ``T - 1`` to 0."""
    if not 1 <= steps <= timesteps:
        raise ValueError(f"steps must be between 1 and the chain's {timesteps} timesteps, got {steps}")
    grid = torch.linspace(timesteps - 1, 0, steps, dtype=torch.float64).round().long().tolist()
    return sorted(set(grid), reverse=True)


class Sampler:
    """One reverse step from ``t`` to ``t_prev`` (``-1``: the clean image)."""

    def step(self, schedule: NoiseSchedule, x: torch.Tensor, x0: torch.Tensor, eps: torch.Tensor,
             t: int, t_prev: int, generator: torch.Generator | None) -> torch.Tensor:
        """Return ``x_{t_prev}``."""
        raise NotImplementedError


class DDIM(Sampler):
    """The DDIM update (Song et al. 2021) with noise scale ``eta``: 0 is deterministic given
    ``x_T``, 1 is the DDPM posterior's noise.

    Args:
        eta: The share of the posterior's standard deviation added as fresh noise.
    """

    def __init__(self, eta: float = 0.0) -> None:
        self.eta = eta

    def step(self, schedule: NoiseSchedule, x: torch.Tensor, x0: torch.Tensor, eps: torch.Tensor,
             t: int, t_prev: int, generator: torch.Generator | None) -> torch.Tensor:
        alpha_bar, alpha_bar_prev = schedule.alpha_bar_at(t), schedule.alpha_bar_at(t_prev)
        sigma = 0.0
        if self.eta > 0 and t_prev >= 0:
            sigma = self.eta * math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar)
                                         * (1 - alpha_bar / alpha_bar_prev))
        x = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator).to(x.device)
        return x


class DDPM(DDIM):
    """Ancestral sampling (Ho et al. 2020): the posterior ``q(x_{t_prev} | x_t, x0)``'s mean
    plus its noise, at every visited step (DDIM with ``eta = 1``)."""

    def __init__(self) -> None:
        super().__init__(eta=1.0)


#: The samplers by the name a model's ``sampler`` option takes.
SAMPLERS: dict[str, type[Sampler]] = {"ddim": DDIM, "ddpm": DDPM}
