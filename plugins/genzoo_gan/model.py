"""The seed report's MLP GAN, faithfully: a 5-layer generator and a 3-layer discriminator."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from einops import rearrange
from torch import nn

from .adversarial import AdversarialModel, check_options

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
        loss: ``"bce"``: the non-saturating binary cross-entropy GAN loss (the seed's);
            ``"hinge"``: the hinge loss; ``"wgan-gp"``: the Wasserstein loss with a gradient
            penalty (see :mod:`genzoo_gan.losses`).
        gp_weight: Weight of the per-example gradient penalty (``"wgan-gp"`` only).
        d_steps: Discriminator steps per generator step (the generator steps on every
            ``d_steps``-th batch); 5 is usual for ``"wgan-gp"``.
        ema: Decay of an exponential moving average of the generator's weights, used for
            sampling (``0``: off; ``0.999`` is typical).
        num_classes: Class-conditional with this many classes (``0``: unconditional). The
            generator's input is ``z`` and a one-hot label; the discriminator projects a label
            embedding onto its last hidden layer. Batches must carry labels.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 100
    generator_widths: tuple[int, ...] = (128, 256, 512, 1024)
    discriminator_widths: tuple[int, ...] = (512, 256)
    negative_slope: float = 0.2
    batch_norm: bool = True
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: Literal["bce", "hinge", "wgan-gp"] = "bce"
    gp_weight: float = 10.0
    d_steps: int = 1
    ema: float = 0.0
    num_classes: int = 0

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (channels, height, width), got {self.image_shape}")
        if self.latent_dim < 1 or not self.generator_widths or not self.discriminator_widths:
            raise ValueError("latent_dim and the layer widths must be positive and non-empty")
        if min(self.generator_widths + self.discriminator_widths) < 1:
            raise ValueError("layer widths must be positive")
        check_options(self)


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


class GAN(AdversarialModel):
    """The seed's MLP GAN, a :class:`~genzoo.Generator` and :class:`~genzoo.Trainer`.

    Images are scaled to ``[-1, 1]`` for the tanh generator and back to ``[0, 1]`` on sampling.
    Each step updates the discriminator on real and generated images, then the generator
    through the updated discriminator. With the default config this is exactly the seed
    model; the ``loss``, ``d_steps``, ``ema`` and ``num_classes`` options are those of
    :class:`~genzoo_gan.adversarial.AdversarialModel`.

    Args:
        config: A :class:`GANConfig`; or pass its fields as keyword arguments.
    """

    Config = GANConfig
    config: GANConfig

    def __init__(self, config: GANConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        pixels = math.prod(cfg.image_shape)
        self.generator = mlp_generator(cfg.latent_dim + cfg.num_classes, cfg.generator_widths,
                                       pixels, cfg.negative_slope, cfg.batch_norm)
        self.discriminator = mlp_discriminator(pixels, cfg.discriminator_widths,
                                               cfg.negative_slope)
        self._init_options(features=cfg.discriminator_widths[-1])

    def _real_input(self, images: torch.Tensor) -> torch.Tensor:
        return rearrange(images, "n c h w -> n (c h w)").mul(2).sub_(1)

    def _to_images(self, out: torch.Tensor) -> torch.Tensor:
        c, h, w = self.image_shape
        return rearrange(out.float().add(1).mul(0.5), "n (c h w) -> n c h w", c=c, h=h, w=w)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.discriminator[:-1]:
            x = layer(x)
        return x

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        return self.discriminator[-1](h)
