"""The noise schedule: how much signal is left at each of the ``T`` steps of the forward process.

``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps`` (Ho et al. 2020). The schedule noises
training images (:meth:`NoiseSchedule.add_noise`), gives the target of each prediction type
(:meth:`NoiseSchedule.target`) and turns a prediction back into the clean image and the noise
(:meth:`NoiseSchedule.split`), which is all a sampler needs.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

__all__ = ["NoiseSchedule", "beta_schedule"]

Prediction = Literal["epsilon", "v"]


def beta_schedule(kind: str, timesteps: int) -> torch.Tensor:
    """The ``timesteps`` noise variances ``beta_t`` (float64), clipped to at most 0.999.

    ``"linear"`` spaces them from 1e-4 to 0.02 (scaled by ``1000 / timesteps`` so that a shorter
    chain destroys the signal as fully); ``"cosine"`` makes ``alpha_bar_t`` follow a squared
    cosine with offset ``s = 0.008`` (Nichol & Dhariwal 2021).
    """
    if kind == "linear":
        scale = 1000 / timesteps
        betas = torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)
    elif kind == "cosine":
        s = 0.008
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
    else:
        raise ValueError(f"unknown schedule {kind!r}; use 'cosine' or 'linear'")
    return betas.clamp(0.0, 0.999)


class NoiseSchedule:
    """The forward process of a ``timesteps``-step chain with ``kind`` betas.

    Args:
        kind: ``"cosine"`` or ``"linear"`` (see :func:`beta_schedule`).
        timesteps: The chain's length ``T``.
    """

    def __init__(self, kind: str, timesteps: int) -> None:
        self.timesteps = timesteps
        self.alpha_bar = torch.cumprod(1 - beta_schedule(kind, timesteps), dim=0)  # float64

    def alpha_bar_at(self, t: int) -> float:
        """``alpha_bar_t`` as a Python float (1 for ``t = -1``, the clean image)."""
        return 1.0 if t < 0 else float(self.alpha_bar[t])

    def _coefficients(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        alpha_bar = self.alpha_bar.to(like.device)[t].to(like.dtype)[:, None, None, None]
        return alpha_bar.sqrt(), (1 - alpha_bar).sqrt()

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t`` for clean images ``x0``, noise ``eps`` and ``N`` integer timesteps ``t``."""
        signal, sigma = self._coefficients(t, x0)
        return signal * x0 + sigma * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
               prediction: Prediction) -> torch.Tensor:
        """What the network learns to predict: ``eps``, or ``v = sqrt(ab) eps - sqrt(1 - ab) x0``
        (Salimans & Ho 2022)."""
        if prediction == "epsilon":
            return noise
        signal, sigma = self._coefficients(t, x0)
        return signal * noise - sigma * x0

    def split(self, x_t: torch.Tensor, output: torch.Tensor, t: int,
              prediction: Prediction) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean image and the noise ``(x0, eps)`` a network's ``output`` at step ``t`` implies."""
        alpha_bar = self.alpha_bar_at(t)
        signal, sigma = math.sqrt(alpha_bar), math.sqrt(1 - alpha_bar)
        if prediction == "epsilon":
            eps = output
            x0 = (x_t - sigma * eps) / signal
        else:
            x0 = signal * x_t - sigma * output
            eps = sigma * x_t + signal * output
        return x0, eps

    def noise_of(self, x_t: torch.Tensor, x0: torch.Tensor, t: int) -> torch.Tensor:
        """The noise that takes the clean image ``x0`` to ``x_t`` at step ``t``."""
        alpha_bar = self.alpha_bar_at(t)
        return (x_t - math.sqrt(alpha_bar) * x0) / math.sqrt(1 - alpha_bar)
