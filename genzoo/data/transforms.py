"""The two image transforms genzoo applies to data sets: channel conversion and resizing.

Both work on ``uint8`` tensors ``N×C×H×W`` and return ``uint8``. Resizing uses one filter
everywhere (bicubic with antialiasing, as clean-fid recommends, and close to PIL's
``Image.resize(..., BICUBIC)``), so a data set resized in memory and one resized while
streaming from disk give the same pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genzoo.data.errors import DataError

__all__ = ["check_size", "convert_channels", "resize_images"]

_CHUNK = 1024  # images per interpolation call: bounds the float32 scratch memory
_SCRATCH = 1 << 30  # ... and so does this many bytes of it

# ITU-R 601-2 luma, as PIL's RGB -> L conversion.
_LUMA = torch.tensor([299.0, 587.0, 114.0]) / 1000.0


def check_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``size`` as a ``(height, width)`` pair (``None`` stays ``None``).

    Raises:
        DataError: ``size`` is not a positive int or a pair of positive ints.
    """
    if size is None:
        return None
    hw = (size, size) if isinstance(size, int) and not isinstance(size, bool) else tuple(size)  # type: ignore[arg-type]
    if len(hw) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in hw):
        raise DataError(
            f"size must be a positive int or a (height, width) pair of positive ints, got {size!r}."
        )
    limit = _max_pixels()
    if hw[0] * hw[1] > limit:  # what genzoo refuses to decode, it does not make either
        raise DataError(
            f"size {hw[0]}x{hw[1]} is {hw[0] * hw[1]:,} pixels an image, more than the "
            f"{limit:,} genzoo decodes or makes (PIL's decompression-bomb limit); pick a "
            f"smaller size (--image-size), e.g. 64 or 256."
        )
    return hw  # type: ignore[return-value]


def _max_pixels() -> int:
    """The most pixels one image may have after resizing: as many as genzoo decodes (PIL's
    decompression-bomb limit, read when asked so that importing genzoo.data imports no PIL)."""
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 2**31)


def convert_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Convert ``uint8`` images to 1 (grayscale, by luma) or 3 (RGB, repeated) channels.

    Args:
        images: ``N×C×H×W`` ``uint8`` with ``C`` 1 or 3.
        channels: 1, 3, or ``None`` to keep the images as they are.

    Raises:
        DataError: ``channels`` is not 1, 3 or ``None``.
    """
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 (grayscale), 3 (RGB) or None (as stored), got {channels!r}.")
    have = images.shape[1]
    if channels is None or channels == have:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    gray = torch.einsum("nchw,c->nhw", images.float(), _LUMA.to(images.device))
    return gray.round_().clamp_(0, 255).to(torch.uint8).unsqueeze(1)


def resize_images(images: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """Resize ``uint8`` images to ``size`` (bicubic, antialiased; rounded back to ``uint8``).

    Args:
        images: ``N×C×H×W`` ``uint8``.
        size: ``(height, width)``, or ``None`` to keep the images as they are.
    """
    if size is None or tuple(images.shape[-2:]) == tuple(size):
        return images
    from genzoo.memory import format_bytes, physical_memory

    needed, memory = images.shape[0] * images.shape[1] * size[0] * size[1], physical_memory()
    if images.device.type == "cpu" and memory and needed > memory // 2:
        raise DataError(
            f"{images.shape[0]} images of {size[1]}x{size[0]}x{images.shape[1]} need "
            f"{format_bytes(needed)} in memory, more than half this machine's "
            f"{format_bytes(memory)}; pick a smaller size (--image-size)."
        )
    out = torch.empty((images.shape[0], images.shape[1], *size), dtype=torch.uint8, device=images.device)
    # images per interpolation call: at most _CHUNK, and float32 scratch of at most _SCRATCH bytes
    per_image = 4 * images.shape[1] * max(size[0] * size[1], images.shape[2] * images.shape[3])
    step = max(1, min(_CHUNK, _SCRATCH // per_image))
    for start in range(0, images.shape[0], step):
        chunk = images[start : start + step].float()
        resized = F.interpolate(chunk, size=size, mode="bicubic", antialias=True, align_corners=False)
        out[start : start + step] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out
