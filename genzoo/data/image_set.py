"""The in-memory image data set returned by the loaders."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.data.errors import DataError

__all__ = ["ImageSet"]


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A whole image data set held in memory.

    Attributes:
        images: ``uint8`` tensor of shape ``N x C x H x W``.
        labels: ``int64`` tensor of shape ``N``, or ``None`` for unlabelled data.
        name: A short human-readable name (``"mnist"``, a folder name, ...).
        classes: Class names indexed by label, or ``None`` when unknown.

    Raises:
        DataError: If the tensors have the wrong dtype or shape.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        img = self.images
        if not isinstance(img, torch.Tensor) or img.dim() != 4 or img.dtype != torch.uint8:
            got = (
                f"{tuple(img.shape)} {img.dtype}" if isinstance(img, torch.Tensor) else type(img).__name__
            )
            raise DataError(
                f"ImageSet {self.name!r}: images must be a uint8 tensor of shape N x C x H x W, "
                f"got {got}. Convert with .to(torch.uint8) and add a channel axis with "
                f".unsqueeze(1) if needed."
            )
        lab = self.labels
        if lab is not None:
            if not isinstance(lab, torch.Tensor) or lab.dim() != 1 or lab.dtype != torch.int64:
                got = f"{tuple(lab.shape)} {lab.dtype}" if isinstance(lab, torch.Tensor) else type(lab).__name__
                raise DataError(
                    f"ImageSet {self.name!r}: labels must be an int64 tensor of shape N, got {got}. "
                    f"Convert with .long().flatten()."
                )
            if len(lab) != len(img):
                raise DataError(
                    f"ImageSet {self.name!r}: {len(img)} images but {len(lab)} labels; "
                    f"pass one label per image."
                )
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape ``(C, H, W)`` of one image."""
        c, h, w = self.images.shape[1:]
        return (int(c), int(h), int(w))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        labels = "None" if self.labels is None else f"{len(self.labels)} labels"
        classes = "" if self.classes is None else f", {len(self.classes)} classes"
        return f"ImageSet(name={self.name!r}, {len(self)} images of shape {self.image_shape}, {labels}{classes})"
