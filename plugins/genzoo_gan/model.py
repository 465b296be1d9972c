"""The seed report's MLP GAN, faithfully: a 5-layer generator and a 3-layer discriminator."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from einops import rearrange
from torch import nn

from genzoo.model import GenerativeModel
from genzoo.optim import adam
from genzoo.protocols import Batch, StepContext

from .losses import discriminator_loss, generator_loss

__all__ = ["GANConfig", "GAN", "mlp_generator", "mlp_discriminator"]


@dataclass(frozen=True)
class GANConfig:
    """The GAN's options; the defaults are the seed report's model.

    Attributes:
        image_shape: ``(channels, height, width)`` of the images.
        latent_dim: Size of the noise vector the generator starts from.
        generator_widths: Hidden widths of the generator (4 hidden layers: 5 linear layers).
        discriminator_widths: Hidden widths of the discriminator (2 hidden: 3 linear layers).
        negative_slope: Slope of the LeakyReLU activations.
        batch_norm: Batch-normalise the generator's hidden layers after the first.
        lr: Adam's learning rate, for both networks.
        betas: Adam's betas, for both networks.
        loss: ``"bce"``: the non-saturating binary cross-entropy GAN loss.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 100
    generator_widths: tuple[int, ...] = (128, 256, 512, 1024)
    discriminator_widths: tuple[int, ...] = (512, 256)
    negative_slope: float = 0.2
    batch_norm: bool = True
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: Literal["bce"] = "bce"

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (channels, height, width), got {self.image_shape}")
        if self.latent_dim < 1 or not self.generator_widths or not self.discriminator_widths:
            raise ValueError("latent_dim and the layer widths must be positive and non-empty")
        if min(self.generator_widths + self.discriminator_widths) < 1:
            raise ValueError("layer widths must be positive")


def mlp_generator(latent_dim: int, widths: tuple[int, ...], out_features: int,
                  negative_slope: float, batch_norm: bool) -> nn.Sequential:
    """Linear → LeakyReLU blocks (batch norm after the first), then Linear → tanh."""
    layers: list[nn.Module] = []
    previous = latent_dim
    for index, width in enumerate(widths):
        layers.append(nn.Linear(previous, width))
        if batch_norm and index > 0:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.LeakyReLU(negative_slope))
        previous = width
    layers += [nn.Linear(previous, out_features), nn.Tanh()]
    return nn.Sequential(*layers)


def mlp_discriminator(in_features: int, widths: tuple[int, ...],
                      negative_slope: float) -> nn.Sequential:
    """Linear → LeakyReLU blocks, then a Linear to one logit."""
    layers: list[nn.Module] = []
    previous = in_features
    for width in widths:
        layers += [nn.Linear(previous, width), nn.LeakyReLU(negative_slope)]
        previous = width
    layers.append(nn.Linear(previous, 1))
    return nn.Sequential(*layers)


class GAN(GenerativeModel):
    """The seed's MLP GAN, a :class:`~genzoo.Generator` and :class:`~genzoo.Trainer`.

    Images are scaled to ``[-1, 1]`` for the tanh generator and back to ``[0, 1]`` on sampling.
    Each step updates the discriminator on real and generated images, then the generator
    through the updated discriminator.

    Args:
        config: A :class:`GANConfig`; or pass its fields as keyword arguments.
    """

    Config = GANConfig
    config: GANConfig

    def __init__(self, config: GANConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        pixels = math.prod(cfg.image_shape)
        self.generator = mlp_generator(cfg.latent_dim, cfg.generator_widths, pixels,
                                       cfg.negative_slope, cfg.batch_norm)
        self.discriminator = mlp_discriminator(pixels, cfg.discriminator_widths,
                                               cfg.negative_slope)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, generator=generator)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        c, h, w = self.image_shape
        flat = self.generator(z)
        return rearrange(flat.float().add(1).mul(0.5), "n (c h w) -> n c h w", c=c, h=h, w=w)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        cfg = self.config
        return {
            "discriminator": adam(self.discriminator.parameters(), cfg.lr, cfg.betas),
            "generator": adam(self.generator.parameters(), cfg.lr, cfg.betas),
        }

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        real = rearrange(batch.images, "n c h w -> n (c h w)") * 2 - 1
        n = real.shape[0]
        z = torch.randn(n, self.config.latent_dim, device=real.device)
        fake = self.generator(z)

        logits = self.discriminator(torch.cat([real, fake.detach()]))
        d_loss = discriminator_loss(logits[:n], logits[n:])
        step.optimize(d_loss, "discriminator")

        g_loss = generator_loss(self.discriminator(fake))
        step.optimize(g_loss, "generator")
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
