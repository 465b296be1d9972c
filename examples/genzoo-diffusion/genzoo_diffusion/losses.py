"""The diffusion model's training loss: mean squared error of the predicted noise."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["noise_prediction_loss"]


def noise_prediction_loss(predicted: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``E ||eps - eps_theta(x_t, t)||^2``: the simple DDPM objective (Ho et al., 2020, eq. 14).

    Averaged over pixels and the batch, computed in float32 whatever the autocast precision.
    """
    return F.mse_loss(predicted.float(), noise.float())
