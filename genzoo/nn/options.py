"""The options every UNet model family shares, declared once: :class:`UNetOptions`.

The diffusion, flow-matching and few-step plugins all denoise with a :class:`~genzoo.nn.UNet`,
class-conditioned and guided the same way. Their configs inherit these fields (with their
checks and docs) instead of each declaring them, build the network with
:meth:`UNetOptions.build_unet` and draw a training batch's labels with
:meth:`UNetOptions.training_labels`; a family adds only its own fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..labels import batch_labels, drop_labels
from ..protocols import Batch
from .unet import UNet, check_unet_options

__all__ = ["UNetOptions"]


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
