"""The seed report's MLP VAE, faithfully: 784-400 encoder, mean and log-variance heads, 20-400-784 decoder."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from genzoo.model import GenerativeModel
from genzoo.optim import adam
from genzoo.protocols import Batch, Posterior, StepContext

from .losses import kl_divergence, reconstruction_loss

__all__ = ["VAEConfig", "VAE"]


@dataclass(frozen=True)
class VAEConfig:
    """The VAE's options; the defaults are the seed report's model.

    Attributes:
        image_shape: ``(channels, height, width)`` of the images.
        hidden_dim: Width of the encoder's and the decoder's hidden layer.
        latent_dim: Size of the latent code.
        beta: Weight of the KL term (1 is the plain VAE; other values give a beta-VAE).
        lr: Adam's learning rate.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden_dim: int = 400
    latent_dim: int = 20
    beta: float = 1.0
    lr: float = 1e-3

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (channels, height, width), got {self.image_shape}")
        if self.hidden_dim < 1 or self.latent_dim < 1:
            raise ValueError("hidden_dim and latent_dim must be positive")
        if self.beta < 0:
            raise ValueError(f"beta must not be negative, got {self.beta}")


class VAE(GenerativeModel):
    """The seed's MLP VAE: a :class:`~genzoo.Generator`, :class:`~genzoo.Encoder` and
    :class:`~genzoo.Trainer`.

    The encoder maps an image to the mean and log-variance of a Gaussian posterior; a latent
    drawn from it by reparameterisation is decoded to Bernoulli pixel probabilities. The loss
    is the pixels' binary cross-entropy plus ``beta`` times the KL divergence to the prior.

    Args:
        config: A :class:`VAEConfig`; or pass its fields as keyword arguments.
    """

    Config = VAEConfig
    config: VAEConfig

    def __init__(self, config: VAEConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        pixels = math.prod(cfg.image_shape)
        self.encoder = nn.Sequential(nn.Linear(pixels, cfg.hidden_dim), nn.ReLU())
        self.mean_head = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.logvar_head = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden_dim), nn.ReLU(),
                                     nn.Linear(cfg.hidden_dim, pixels))

    def encode(self, images: torch.Tensor) -> Posterior:
        """The posterior over latents for ``N×C×H×W`` images in ``[0, 1]``."""
        hidden = self.encoder(rearrange(images, "n c h w -> n (c h w)"))
        return Posterior(self.mean_head(hidden), self.logvar_head(hidden))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's pixel logits, flat (``N×(C·H·W)``)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (pixel probabilities in ``[0, 1]``) for latent codes ``z``."""
        c, h, w = self.image_shape
        probs = torch.sigmoid(self.decode_logits(z).float())
        return rearrange(probs, "n (c h w) -> n c h w", c=c, h=h, w=w)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Decode ``images`` from their posterior means."""
        return self.decode(self.encode(images).mean)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, generator=generator)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": adam(self.parameters(), self.config.lr)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        x = batch.images
        mean, logvar = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)  # reparameterisation
        logits = self.decode_logits(z)
        reconstruction = reconstruction_loss(logits, rearrange(x, "n c h w -> n (c h w)"))
        kl = kl_divergence(mean, logvar)
        loss = reconstruction + self.config.beta * kl
        step.optimize(loss, "vae")
        return {"loss": loss.detach(), "reconstruction": reconstruction.detach(), "kl": kl.detach()}
