"""What every UNet model family shares, declared once: the config options
(:class:`UNetOptions`) and the models' sampling defaults (:class:`UNetSampling`).

The diffusion, flow-matching and few-step plugins all denoise with a :class:`~genzoo.nn.UNet`,
class-conditioned and guided the same way. Their configs inherit these fields (with their
checks and docs) instead of each declaring them, build the network with
:meth:`UNetOptions.build_unet` and draw a training batch's labels with
:meth:`UNetOptions.training_labels`; a family adds only its own fields. Their models all start
sampling from Gaussian noise the shape of an image and take the config's ``sample_steps`` by
default, which they inherit from :class:`UNetSampling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..labels import batch_labels, drop_labels
from ..protocols import Batch
from .unet import UNet, check_unet_options

__all__ = ["UNetOptions", "UNetSampling"]


@dataclass(frozen=True)
class UNetOptions:
    """The UNet and class-conditioning options of a model config (a frozen dataclass base).

    A config subclasses it (``@dataclass(frozen=True) class MyConfig(UNetOptions)``), adds
    its own fields after these, and calls ``super().__post_init__()`` from its own
    ``__post_init__`` when it has one.

    Attributes:
        image_shape: ``(channels, height, width)``; height and width must be multiples of
            ``patch_size * 2 ** (len(channel_mults) - 1)`` (28 and 32 are, with the defaults).
        base_width: UNet channels at its first resolution.
        channel_mults: UNet width multiplier per resolution.
        blocks_per_level: UNet residual blocks per resolution.
        patch_size: 2 runs the UNet at half the image resolution (four times cheaper), 1 at full.
        dropout: Dropout in the UNet's residual blocks.
        num_classes: Classes of a class-conditional model (batches must carry labels); 0: none.
        label_dropout: How often a training label is replaced by the null class, so that the
            same network learns the unconditional prediction that guidance needs.

    Raises:
        ValueError: an option is out of range (genzoo reports it as a
            :class:`~genzoo.ConfigError` naming the model).
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    base_width: int = 32
    channel_mults: tuple[int, ...] = (1, 2)
    blocks_per_level: int = 1
    patch_size: int = 2
    dropout: float = 0.0
    num_classes: int = 0
    label_dropout: float = 0.1

    #: The fields that fix the network :meth:`build_unet` makes (its weights' shapes) and the
    #: images it takes: two configs that agree on them build networks that load each other's
    #: weights (with the same ``build_unet`` arguments). ``dropout`` and ``label_dropout`` only
    #: change training. A class attribute, not a config field.
    architecture_fields: ClassVar[tuple[str, ...]] = (
        "image_shape", "base_width", "channel_mults", "blocks_per_level", "patch_size",
        "num_classes")

    def __post_init__(self) -> None:
        check_unet_options(self.image_shape, base_width=self.base_width,
                           channel_mults=self.channel_mults, blocks_per_level=self.blocks_per_level,
                           patch_size=self.patch_size, num_classes=self.num_classes,
                           dropout=self.dropout)
        if not 0 <= self.label_dropout < 1:
            raise ValueError(f"label_dropout must be in [0, 1), got {self.label_dropout}")

    def build_unet(self, *, time_inputs: int = 1, time_scale: float = 1000.0) -> UNet:
        """The :class:`~genzoo.nn.UNet` these options describe (``time_inputs`` and
        ``time_scale`` as the UNet's)."""
        return UNet(self.image_shape[0], base_width=self.base_width,
                    channel_mults=self.channel_mults, blocks_per_level=self.blocks_per_level,
                    num_classes=self.num_classes, patch_size=self.patch_size,
                    dropout=self.dropout, time_inputs=time_inputs, time_scale=time_scale)

    def training_labels(self, batch: Batch, model: str) -> torch.Tensor | None:
        """A training batch's labels for the network: ``None`` for an unconditional model;
        otherwise the batch's labels (checked, :func:`~genzoo.labels.batch_labels`; ``model``
        names the model in the error), each dropped to the null class with probability
        ``label_dropout`` (from torch's global random state)."""
        if not self.num_classes:
            return None
        return drop_labels(batch_labels(batch, self.num_classes, model), self.label_dropout,
                           self.num_classes)


class UNetSampling:
    """The sampling defaults that the UNet families' models share: a mixin for a
    :class:`~genzoo.GenerativeModel` whose config has a ``sample_steps`` field and whose latent
    is the Gaussian noise that sampling starts from.

    List it before the base class, ``class MyModel(UNetSampling, GenerativeModel)``, instead of
    writing :attr:`sampling_steps` and :meth:`sample_latent`; with a ``generate`` that takes
    ``steps=``, the model is then an :class:`~genzoo.IterativeGenerator`. The mixin has no state
    and no ``__init__``: it reads the model's ``config`` and ``image_shape``.
    """

    @property
    def sampling_steps(self) -> int:
        """The steps :meth:`~genzoo.GenerativeModel.sample` takes by default (the config's
        ``sample_steps``)."""
        return self.config.sample_steps  # type: ignore[attr-defined]

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """The start noise: ``n`` standard Gaussian images of ``image_shape``, drawn on the CPU.

        Args:
            n: How many images of noise.
            generator: The CPU generator to draw from (a seeded one repeats the noise on any
                device); ``None``: torch's global random state.

        Returns:
            An ``n×C×H×W`` tensor on the CPU, in torch's default dtype.
        """
        return torch.randn(n, *self.image_shape, generator=generator)  # type: ignore[attr-defined]
