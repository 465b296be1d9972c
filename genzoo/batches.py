"""Turning whatever a data loader yields into a checked :class:`~genzoo.protocols.Batch`."""

from __future__ import annotations

from typing import Any

import torch

from .errors import BatchError
from .protocols import Batch

__all__ = ["to_batch", "check_range"]


def to_batch(raw: Any, image_shape: tuple[int, int, int], device: torch.device,
             dtype: torch.dtype = torch.float32) -> Batch:
    """Convert one loader item to a :class:`Batch` on ``device``.

    Accepts an image tensor or an ``(images, labels, ...)`` tuple/list. Images are ``N×C×H×W``
    floats in ``[0, 1]`` (as ``ToTensor`` gives them) or ``uint8`` in ``[0, 255]``, which are
    converted on the device. A tensor already on ``device`` is not copied. The value range is
    not checked here (it would cost a host synchronisation): see :func:`check_range`.

    Raises:
        BatchError: the item is not a tensor or tuple, or the images have the wrong shape or dtype.
    """
    labels = None
    if isinstance(raw, (tuple, list)):
        if not raw:
            raise BatchError("got an empty tuple as a batch; expected images or (images, labels)")
        images = raw[0]
        if len(raw) > 1 and isinstance(raw[1], torch.Tensor):
            labels = raw[1]
    elif isinstance(raw, dict) and "images" in raw:
        images, labels = raw["images"], raw.get("labels")
    else:
        images = raw
    if not isinstance(images, torch.Tensor):
        raise BatchError(
            f"a batch must be a tensor of images or an (images, labels) tuple, got "
            f"{type(images).__name__}; wrap your dataset in a torch DataLoader with ToTensor()"
        )
    c, h, w = image_shape
    if images.dim() != 4 or tuple(images.shape[1:]) != (c, h, w):
        hint = ""
        if images.dim() == 3 and c == 1 and tuple(images.shape[1:]) == (h, w):
            hint = " (add the channel axis: images.unsqueeze(1))"
        elif images.dim() == 4 and tuple(images.shape[1:]) == (h, w, c):
            hint = " (channels come last: images.permute(0, 3, 1, 2))"
        elif images.dim() == 4:
            hint = f" (build the model with image_shape={tuple(images.shape[1:])} to train on these)"
        raise BatchError(
            f"expected images of shape N×{c}×{h}×{w}, got {tuple(images.shape)}{hint}"
        )
    if images.shape[0] == 0:
        raise BatchError("got a batch of zero images")
    if images.dtype == torch.uint8:
        images = images.to(device, non_blocking=True).to(dtype).div_(255)
    elif images.is_floating_point():
        images = images.to(device=device, dtype=dtype, non_blocking=True)
    else:
        raise BatchError(
            f"expected float images in [0, 1] or uint8 images in [0, 255], got dtype {images.dtype}"
        )
    if labels is not None:
        labels = labels.to(device, non_blocking=True)
    return Batch(images, labels)


def check_range(images: torch.Tensor) -> None:
    """Raise :class:`BatchError` unless every value of ``images`` lies in ``[0, 1]``.

    This reads two numbers back from the device, so the runner calls it on the first batch
    only and checks later batches on the device (see :func:`out_of_range`).
    """
    lo, hi = torch.aminmax(images.detach())
    lo, hi = float(lo), float(hi)
    if lo < 0.0 or hi > 1.0 or hi != hi:
        hint = ""
        if lo >= -1.0 and hi <= 1.0:
            hint = " It looks normalised to [-1, 1]: drop the Normalize transform,"
        elif hi <= 255.0:
            hint = " It looks like raw pixel values: divide by 255 or pass uint8 tensors,"
        raise BatchError(
            f"expected image values in [0, 1] (as transforms.ToTensor() gives), got values "
            f"from {lo:g} to {hi:g}.{hint} genzoo models scale inputs themselves."
        )


def out_of_range(images: torch.Tensor) -> torch.Tensor:
    """A 0-d bool tensor on the device: whether any value of ``images`` lies outside ``[0, 1]``."""
    lo, hi = torch.aminmax(images.detach())
    return (lo < 0) | (hi > 1) | torch.isnan(hi)
