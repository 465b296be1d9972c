"""A critic for the one-jump image: an adversarial loss against the real data.

A regression on pairs (the student) or on its own identity (MeanFlow) pulls the one-jump image
towards the *mean* of what it could be, which blurs it; a critic that tells real images from
one-jump ones pulls it towards the data itself (adversarial distillation, Sauer et al. 2023;
the adversarial term of consistency and flow-map distillation, Kim et al. 2024, Sabour et al.
2025). The model adds ``adversarial`` times :func:`generator_loss` to its own loss and steps the
critic on each batch with :func:`critic_loss` (non-saturating, with the images' classes: a
projection critic, Miyato & Koyama 2018, whose null class stands for an unconditional row).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["Critic", "critic_loss", "generator_loss"]


class Critic(nn.Module):
    """A small spectrally normalised convolutional critic of ``C×H×W`` images in ``[-1, 1]``.

    Args:
        image_shape: ``(C, H, W)``.
        num_classes: Classes of a conditional model (0: unconditional); the critic then also
            takes labels, ``num_classes`` standing for "no class".
        width: Channels of the first convolution (the second has twice as many).
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = 32) -> None:
        super().__init__()
        c, h, w = image_shape
        self.body = nn.Sequential(
            spectral_norm(nn.Conv2d(c, width, 4, 2, 1)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
            nn.Flatten())
        features = 2 * width * (h // 4) * (w // 4)
        self.head = spectral_norm(nn.Linear(features, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes + 1, features)) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``N`` logits: positive for images it takes for real."""
        h = self.body(x.float())
        logits = self.head(h).squeeze(1)
        if self.embed is not None and labels is not None:
            logits = logits + (self.embed(labels) * h).sum(1)
        return logits


def critic_loss(critic: Critic, real: torch.Tensor, fake: torch.Tensor,
                real_labels: torch.Tensor | None, fake_labels: torch.Tensor | None) -> torch.Tensor:
    """The critic's non-saturating loss on real images and (detached) one-jump ones."""
    return (F.softplus(-critic(real, real_labels)).mean()
            + F.softplus(critic(fake.detach(), fake_labels)).mean())


def generator_loss(critic: Critic, fake: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """The one-jump images' non-saturating loss: low where the critic takes them for real."""
    return F.softplus(-critic(fake, labels)).mean()
