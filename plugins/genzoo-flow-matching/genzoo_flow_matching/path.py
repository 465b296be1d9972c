"""The probability path flow matching trains on: the straight line from noise to data.

At time ``t`` in ``[0, 1]`` a training image ``x`` and Gaussian noise ``z`` give the point
``x_t = (1 - t) z + t x`` (``t = 0`` is pure noise, ``t = 1`` the data), whose velocity along
the path is ``x - z`` (conditional flow matching with the optimal-transport path, Lipman et al.
2023; rectified flow, Liu et al. 2023). A network regressing that velocity learns the marginal
velocity field, which carries noise to data when integrated from 0 to 1.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["interpolate", "target_velocity", "sample_times"]


def interpolate(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - t) noise + t x`` for ``N`` times ``t``."""
    t = t.to(x.dtype)[:, None, None, None]
    return (1 - t) * noise + t * x


def target_velocity(x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The path's velocity ``x - noise`` (the same at every time)."""
    return x - noise


def sample_times(n: int, kind: Literal["uniform", "logit-normal"],
                 device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` training times in ``(0, 1)`` from torch's global random state.

    ``"uniform"`` weighs every time alike; ``"logit-normal"`` (Esser et al. 2024) draws
    ``sigmoid(N(0, 1))``, which trains the middle of the path, where the velocity is hardest to
    predict, more often.
    """
    if kind == "uniform":
        return torch.rand(n, device=device)
    if kind == "logit-normal":
        return torch.sigmoid(torch.randn(n, device=device))
    raise ValueError(f"unknown time sampling {kind!r}; use 'uniform' or 'logit-normal'")
