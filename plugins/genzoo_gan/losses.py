"""The GAN's losses, computed from discriminator logits (stable: no sigmoid then log)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["discriminator_loss", "generator_loss"]


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of calling real images real and generated ones fake.

    Equals ``BCE(sigmoid(real), 1) + BCE(sigmoid(fake), 0)``, each averaged over the batch.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``BCE(sigmoid(fake), 1)``: ``-log D(G(z))``."""
    return F.softplus(-fake_logits).mean()
