"""The straight probability path from noise to data, shared by the models that train on it
(flow matching, its distilled students, MeanFlow).

At time ``t`` in ``[0, 1]`` an image ``x`` and Gaussian noise ``z`` give the point
``x_t = (1 - t) z + t x`` (``t = 0`` is pure noise, ``t = 1`` the data), whose velocity along
the path is ``x - z`` (conditional flow matching with the optimal-transport path, Lipman et al.
2023; rectified flow, Liu et al. 2023).
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["interpolate", "sample_times"]


def interpolate(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - t) noise + t x`` for ``N`` times ``t``."""
    t = t.to(x.dtype)[:, None, None, None]
    return (1 - t) * noise + t * x


def sample_times(n: int, kind: Literal["uniform", "logit-normal"],
                 device: torch.device | str | None = None, *, mean: float = 0.0,
                 std: float = 1.0) -> torch.Tensor:
    """``n`` training times in ``(0, 1)`` from torch's global random state.

    ``"uniform"`` weighs every time alike; ``"logit-normal"`` (Esser et al. 2024) draws
    ``sigmoid(N(mean, std))``, which with the defaults trains the middle of the path, where the
    velocity is hardest to predict, more often.

    Raises:
        ValueError: an unknown ``kind``, or ``std`` not positive.
    """
    if kind == "uniform":
        return torch.rand(n, device=device)
    if kind == "logit-normal":
        if std <= 0:
            raise ValueError(f"std must be positive, got {std}")
        return torch.sigmoid(torch.randn(n, device=device) * std + mean)
    raise ValueError(f"unknown time sampling {kind!r}; use 'uniform' or 'logit-normal'")
