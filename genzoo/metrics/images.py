"""Images on their way into a feature network: checked, rounded to 8 bits, resized, in fixed blocks.

One filter for every size change, the way clean-fid recommends (Parmar et al., 2022, "On Aliased
Resizing and Surprising Subtleties in GAN Evaluation"): images are first rounded to the 256 levels
an image file has, then resized as floats with :func:`torch.nn.functional.interpolate`'s
**antialiased bicubic** filter (``mode="bicubic", antialias=True``, which matches PIL's bicubic
resize), then clamped to ``[0, 1]``. Real and generated images take exactly the same path.

A feature network always runs on exactly :data:`FEATURE_BLOCK` images at a time (the last block
padded with blanks): a convolution's result for one image can change in the last bits with the
number of images beside it, so fixed blocks make the features, and every number computed from
them, the same whatever batch size the caller uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F

from .errors import MetricsError

__all__ = ["RESIZE_FILTER", "FEATURE_BLOCK", "MAX_FEATURE_SIZE", "check_images", "prepare_images",
           "feature_input_size", "blockwise"]

#: The resize filter, as the protocol card names it.
RESIZE_FILTER = "bicubic, antialiased (torch interpolate, antialias=True), after rounding to 8 bits"
#: Images per forward pass of a feature network, whatever the caller's batch size.
FEATURE_BLOCK = 50
#: genzoo's own feature networks read images at the data's size, down-scaled to at most this
#: many pixels on the long side.
MAX_FEATURE_SIZE = 64


def check_images(images: Any, channels: int, what: str) -> None:
    """Raise :class:`MetricsError` unless ``images`` are ``N×C×H×W`` with ``channels`` channels,
    ``uint8`` or floats in ``[0, 1]``.

    Args:
        images: The images to check.
        channels: The reference data's channel count (1 grey, 3 colour).
        what: The reference, as the message names it (``"the mnist test set"``).
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise MetricsError(f"images must be a tensor N×C×H×W, got {got}")
    if images.shape[1] != channels:
        kind = {1: "grey", 3: "colour"}
        raise MetricsError(
            f"the images have {images.shape[1]} channel(s) but {what} has {channels} "
            f"({kind.get(channels, 'other')}); evaluate against data with "
            f"{kind.get(int(images.shape[1]), str(images.shape[1]) + '-channel')} images, or convert them"
        )
    if images.dtype != torch.uint8:
        if not images.is_floating_point():
            raise MetricsError(f"images must be uint8 or floats in [0, 1], got {images.dtype}")
        if images.numel() and (float(images.min()) < 0 or float(images.max()) > 1):
            raise MetricsError(
                f"float images must lie in [0, 1], got values in [{float(images.min()):.3g}, "
                f"{float(images.max()):.3g}]; clamp them or undo their normalisation first"
            )


def prepare_images(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``images`` (``uint8``, or floats in ``[0, 1]``) as float32 in ``[0, 1]`` of ``size``.

    Floats are rounded to 8 bits first, as saving them to an image file would; the resize (only
    when the size differs) uses :data:`RESIZE_FILTER`.
    """
    if images.dtype == torch.uint8:
        x = images.float().div_(255)
    else:
        x = images.float().mul(255).round_().div_(255)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bicubic", antialias=True,
                          align_corners=False).clamp_(0, 1)
    return x


def feature_input_size(height: int, width: int, limit: int = MAX_FEATURE_SIZE) -> tuple[int, int]:
    """The size genzoo's feature networks read images of ``height × width`` at: the same, or
    scaled down (aspect kept) so the long side is ``limit``."""
    longest = max(height, width)
    if longest <= limit:
        return (height, width)
    return (max(1, round(height * limit / longest)), max(1, round(width * limit / longest)))


def blockwise(fn: Callable[[torch.Tensor], Any], images: torch.Tensor) -> list[Any]:
    """``fn`` applied to ``images`` in blocks of exactly :data:`FEATURE_BLOCK` (the last padded
    with zeros; its padding's results are cut off again), under deterministic cuDNN settings.

    ``fn`` returns a tensor or a tuple of tensors (or ``None`` values) with one row per image.
    """
    results = []
    with _deterministic(images.device):
        for start in range(0, len(images), FEATURE_BLOCK):
            block = images[start:start + FEATURE_BLOCK]
            real = len(block)
            if real < FEATURE_BLOCK:
                pad = block.new_zeros((FEATURE_BLOCK - real, *block.shape[1:]))
                block = torch.cat([block, pad])
            out = fn(block)
            results.append(_cut(out, real))
    return results


def _cut(out: Any, rows: int) -> Any:
    if isinstance(out, tuple):
        return tuple(None if o is None else o[:rows] for o in out)
    return out[:rows]


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """cuDNN without autotuning and with deterministic algorithms for the block (CUDA only)."""
    if device.type != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic)
    cudnn.benchmark, cudnn.deterministic = False, True
    try:
        yield
    finally:
        cudnn.benchmark, cudnn.deterministic = saved
