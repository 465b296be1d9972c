"""The VAE's losses: Bernoulli reconstruction (BCE from logits) and the Gaussian KL term."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["reconstruction_loss", "kl_divergence"]


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over pixels, averaged over the batch (stable: from logits)."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="sum")
    return bce / target.shape[0]


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, exp(logvar)) || N(0, I))`` summed over latents, averaged over the batch."""
    mean, logvar = mean.float(), logvar.float()
    return -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / mean.shape[0]
