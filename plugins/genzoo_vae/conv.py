"""A convolutional VAE for small images: 28×28 MNIST, 32×32 CIFAR-10, 64×64 CelebA.

The encoder halves the resolution with stride-2 convolutions (ReLU) down to ``7×7`` (28×28
images) or ``4×4`` (32×32), then a hidden linear layer feeds the mean and log-variance heads.
The decoder mirrors it: linear layers up to the small feature map, then stride-2 transposed
convolutions to pixel logits. The loss is the seed VAE's: Bernoulli BCE + ``beta``·KL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genzoo.plugin import conv_plan, sampling_option

from .model import VariationalAutoencoder, check_likelihood, check_num_classes

__all__ = ["ConvVAEConfig", "ConvVAE"]


@dataclass(frozen=True)
class ConvVAEConfig:
    """The convolutional VAE's options.

    Attributes:
        image_shape: ``(channels, height, width)``; sides divisible by 4 and at least 16 (28 or 32, ...).
        channels: Width of the first convolution; it doubles with every halving.
        hidden_dim: Width of the linear layer between the convolutions and the latent.
        latent_dim: Size of the latent code.
        beta: Weight of the KL term (1: the plain VAE).
        lr: Adam's learning rate.
        num_classes: Class-conditional (a CVAE) with this many classes (``0``: unconditional).
            The one-hot label joins the encoder's flattened features and the latent code.
        temperature: Standard deviation of the prior the samples' latents are drawn from
            (``1``: the prior itself; below 1 trades variety for cleaner images). Sampling
            only: ``genzoo sample --set temperature=0.7`` changes it after training.
        likelihood: The training loss's pixel likelihood, ``"bernoulli"`` (BCE) or
            ``"continuous-bernoulli"`` (see :class:`~genzoo_vae.model.VAEConfig`).
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    channels: int = 32
    hidden_dim: int = 256
    latent_dim: int = 16
    beta: float = 1.0
    lr: float = 1e-3
    num_classes: int = 0
    temperature: float = sampling_option(1.0, maximum=100.0)
    likelihood: Literal["bernoulli", "continuous-bernoulli"] = "bernoulli"

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError("image_shape must be (channels, height, width), "
                             f"got {self.image_shape}")
        conv_plan(self.image_shape[1], self.image_shape[2])
        if self.channels < 1 or self.hidden_dim < 1 or self.latent_dim < 1:
            raise ValueError("channels, hidden_dim and latent_dim must be positive")
        if self.beta < 0:
            raise ValueError(f"beta must not be negative, got {self.beta}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        check_num_classes(self.num_classes)
        check_likelihood(self.likelihood)


class ConvVAE(VariationalAutoencoder):
    """A convolutional (conditional) VAE: a :class:`~genzoo.Generator`,
    :class:`~genzoo.Encoder` and :class:`~genzoo.Trainer`
    (see :class:`~genzoo_vae.model.VariationalAutoencoder`).

    Args:
        config: A :class:`ConvVAEConfig`; or pass its fields as keyword arguments.
    """

    Config = ConvVAEConfig
    config: ConvVAEConfig

    def __init__(self, config: ConvVAEConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        c, h, w = cfg.image_shape
        halvings, h0, w0 = conv_plan(h, w)
        convs: list[nn.Module] = []
        previous, width = c, cfg.channels
        for _ in range(halvings):
            convs += [nn.Conv2d(previous, width, 4, 2, 1), nn.ReLU()]
            previous, width = width, width * 2
        features = previous * h0 * w0
        self.encoder = nn.Sequential(*convs, nn.Flatten())
        self.encoder_hidden = nn.Sequential(nn.Linear(features + cfg.num_classes, cfg.hidden_dim),
                                            nn.ReLU())
        self.mean_head = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.logvar_head = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        deconvs: list[nn.Module] = [
            nn.Linear(cfg.latent_dim + cfg.num_classes, cfg.hidden_dim), nn.ReLU(),
            nn.Linear(cfg.hidden_dim, features), nn.ReLU(), nn.Unflatten(1, (previous, h0, w0)),
        ]
        for _ in range(halvings - 1):
            deconvs += [nn.ConvTranspose2d(previous, previous // 2, 4, 2, 1), nn.ReLU()]
            previous //= 2
        deconvs.append(nn.ConvTranspose2d(previous, c, 4, 2, 1))
        self.decoder = nn.Sequential(*deconvs)

    def _hidden(self, images: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        flat = self.encoder(images)
        return self.encoder_hidden(flat if condition is None else torch.cat([flat, condition], 1))

    def _decoder_logits(self, z: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        return self.decoder(z if condition is None else torch.cat([z, condition], dim=1))
