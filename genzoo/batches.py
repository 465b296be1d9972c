"""Turning whatever a data loader yields into a checked :class:`~genzoo.protocols.Batch` (whose
labels :mod:`genzoo.labels` checks)."""

from __future__ import annotations

from typing import Any

import torch

from .errors import BatchError
from .protocols import Batch

__all__ = ["to_batch", "check_range", "RangeWatch"]


def to_batch(raw: Any, image_shape: tuple[int, int, int], device: torch.device,
             dtype: torch.dtype = torch.float32, watch: RangeWatch | None = None) -> Batch:
    """Convert one loader item to a :class:`Batch` on ``device``.

    Accepts an image tensor or an ``(images, labels, ...)`` tuple/list. Images are ``N×C×H×W``
    floats in ``[0, 1]`` (as ``ToTensor`` gives them) or ``uint8`` in ``[0, 255]``, which are
    converted on the device. A tensor already on ``device`` is not copied. Float images are
    shown to ``watch`` (their value range is checked without a host synchronisation per batch);
    ``uint8`` images cannot be out of range.

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
        if watch is not None:
            watch.observe(images)
    else:
        raise BatchError(
            f"expected float images in [0, 1] or uint8 images in [0, 255], got dtype {images.dtype}"
        )
    if labels is not None:
        labels = labels.to(device, non_blocking=True)
    return Batch(images, labels)


def check_range(images: torch.Tensor) -> None:
    """Raise :class:`BatchError` unless every value of ``images`` lies in ``[0, 1]``.

    This reads two numbers back from the device; :class:`RangeWatch` checks many batches with
    one such read.
    """
    lo, hi = torch.aminmax(images.detach())
    _raise_unless_in_range(float(lo), float(hi), "")


class RangeWatch:
    """Checks that the float images of many batches lie in ``[0, 1]`` with no host
    synchronisation per batch.

    The first batch :meth:`observe` sees is checked at once (a wrong input fails on its first
    step); later ones only update a running minimum and maximum on the device, which
    :meth:`check` reads back (the runner calls it when it logs and at the end of each epoch).
    """

    def __init__(self) -> None:
        self._bounds: tuple[torch.Tensor, torch.Tensor] | None = None  # running (min, max)

    def observe(self, images: torch.Tensor) -> None:
        """Take ``images`` into account (checked now if they are the first)."""
        lo, hi = torch.aminmax(images.detach())
        if self._bounds is None:
            _raise_unless_in_range(float(lo), float(hi), "")
            self._bounds = (lo, hi)
        else:  # minimum and maximum keep a NaN, so a NaN anywhere is caught too
            low, high = self._bounds
            torch.minimum(low, lo, out=low)
            torch.maximum(high, hi, out=high)

    def check(self, where: str = "") -> None:
        """Raise :class:`BatchError` if any image observed so far lies outside ``[0, 1]``;
        ``where`` (such as ``" up to step 120"``) says which batches are meant."""
        if self._bounds is not None:
            lo, hi = torch.stack(self._bounds).tolist()
            _raise_unless_in_range(lo, hi, f"a batch{where}: ")


def _raise_unless_in_range(lo: float, hi: float, prefix: str) -> None:
    if lo >= 0.0 and hi <= 1.0:  # False for NaN
        return
    hint = ""
    if lo >= -1.0 and hi <= 1.0:
        hint = " It looks normalised to [-1, 1]: drop the Normalize transform,"
    elif 2.0 < hi <= 255.0:
        hint = " It looks like raw pixel values: divide by 255 or pass uint8 tensors,"
    raise BatchError(
        f"{prefix}expected image values in [0, 1] (as transforms.ToTensor() gives), got values "
        f"from {lo:g} to {hi:g}.{hint} genzoo models scale inputs themselves."
    )
