"""Loading a folder of image files (PNG, JPEG, BMP, WebP) into memory."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from genzoo.data.errors import DataError
from genzoo.data.image_set import ImageSet
from genzoo.memory import format_bytes, physical_memory

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["IMAGE_EXTENSIONS", "load_folder"]

#: File name suffixes recognised as images (compared case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".jpeg", ".jpg", ".png", ".webp")

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def _list_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, sorted by relative path; hidden entries skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath, f))
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


_MOVE_OUT = "delete or replace it, or move it out of the folder"


def _read_error(path: Path, e: Exception, fix: str = _MOVE_OUT, what: str = "image") -> DataError:
    return DataError(
        f"Could not read {what} {path} ({type(e).__name__}: {e}). The file is corrupt or "
        f"not an image; {fix}."
    )


def _bomb_error(path: Path, e: Exception, fix: str = _MOVE_OUT, what: str = "image") -> DataError:
    from PIL import Image

    return DataError(
        f"{what[0].upper()}{what[1:]} {path} is too large to decode safely ({e}); it may be a "
        f"decompression bomb. Images over {Image.MAX_IMAGE_PIXELS:,} pixels are refused: {fix}."
    )


@contextlib.contextmanager
def hostile_file_guard(path: Path, fix: str = _MOVE_OUT, what: str = "image") -> Iterator[None]:
    """Turn whatever a damaged or hostile image file makes PIL raise into one
    :class:`DataError` naming ``path``: decompression bombs (over ``PIL.Image.MAX_IMAGE_PIXELS``,
    also refused instead of PIL's warning), headers whose sizes overflow, truncated or garbled
    data. Every loader that decodes image files uses it.

    Args:
        path: The file being decoded.
        fix: What to do about it, for the message.
        what: What the file is, for the message (``"CelebA image"``).
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise _bomb_error(path, e, fix, what) from e
        except (MemoryError, OverflowError) as e:
            raise _bomb_error(path, e, fix, what) from e
        except DataError:
            raise
        except Exception as e:  # noqa: BLE001 - any decoder failure is this file's fault
            raise _read_error(path, e, fix, what) from e


def check_pixels(width: int, height: int) -> None:
    """Raise PIL's ``DecompressionBombError`` (which :func:`hostile_file_guard` reports) for a
    header of no pixels or of more than ``PIL.Image.MAX_IMAGE_PIXELS``."""
    from PIL import Image

    if width < 1 or height < 1 or width * height > Image.MAX_IMAGE_PIXELS:
        raise Image.DecompressionBombError(f"its header says {width}x{height} pixels")


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """The mode and (width, height) of an image, read from its header only."""
    from PIL import Image

    with hostile_file_guard(path), Image.open(path) as img:
        check_pixels(*img.size)
        return img.mode, img.size


def _decode(path: Path) -> Image.Image:
    from PIL import Image

    with hostile_file_guard(path), Image.open(path) as img:
        img.load()
        return img


def _is_gray(mode: str) -> bool:
    return mode in _GRAY_MODES or mode.startswith("I;16")


def _convert(img: Image.Image, channels: int) -> Image.Image:
    from PIL import Image

    if img.mode in _SIXTEEN_BIT_MODES:
        # PIL's "I" -> "L" conversion clips at 255; scale 16-bit values instead.
        arr = np.asarray(img, dtype=np.float64) / 257.0
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
    mode = "L" if channels == 1 else "RGB"
    return img if img.mode == mode else img.convert(mode)


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    from genzoo.data.transforms import check_size

    return check_size(size)  # type: ignore[return-value]


def load_folder(
    path: str | os.PathLike[str],
    *,
    channels: int | None = None,
    size: int | tuple[int, int] | None = None,
) -> ImageSet:
    """Load every image under a folder into memory.

    Files with the suffixes in :data:`IMAGE_EXTENSIONS` (any case) are read from
    ``path`` and its sub-folders in sorted order; hidden files and folders
    (starting with ``.``) are skipped.

    If every image sits in a sub-folder of ``path`` (``path/cat/1.png``,
    ``path/dog/2.png``, ...), the sorted sub-folder names become the classes and
    each image is labelled with the index of its top-level sub-folder. Otherwise
    (flat or mixed folders) there are no labels.

    Args:
        path: The folder to read.
        channels: 1 for grayscale or 3 for RGB. By default 1 if every image is
            grayscale, else 3. Alpha is dropped.
        size: Resize every image to ``size x size`` or to ``(height, width)``
            (bicubic). By default all images must have the size of the first one.

    Returns:
        An :class:`ImageSet` of ``uint8`` images ``N x C x H x W`` named after
        the folder.

    Raises:
        DataError: If the folder is missing or has no images, a file cannot be
            decoded (the file is named; decompression bombs over
            ``PIL.Image.MAX_IMAGE_PIXELS`` and headers whose sizes overflow
            included), the images would not fit in memory, the images differ in
            size and no ``size`` is given, or an argument is invalid.
    """
    folder = Path(os.fspath(path)).expanduser()
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 (grayscale), 3 (RGB) or None (automatic), got {channels!r}.")
    target_hw = None if size is None else _hw(size)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DataError(f"Image folder {folder} {what}. Pass the path of a folder of images.")

    files = _list_images(folder)
    if not files:
        raise DataError(
            f"No images found in {folder} or its sub-folders. Accepted extensions "
            f"(any case): {', '.join(IMAGE_EXTENSIONS)}."
        )

    rel_parts = [f.relative_to(folder).parts for f in files]
    classes: tuple[str, ...] | None = None
    labels: torch.Tensor | None = None
    if all(len(parts) > 1 for parts in rel_parts):
        classes = tuple(sorted({parts[0] for parts in rel_parts}))
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[parts[0]] for parts in rel_parts], dtype=torch.int64)

    from PIL import Image

    headers = [_header(f) for f in files]  # cheap: no pixel decoding yet
    if channels is None:
        channels = 1 if all(_is_gray(mode) for mode, _ in headers) else 3
    if target_hw is None:
        w0, h0 = headers[0][1]
        target_hw = (h0, w0)
        for f, (_, (w1, h1)) in zip(files, headers):
            if (w1, h1) != (w0, h0):
                raise DataError(
                    f"Images in {folder} differ in size: {files[0]} is {w0}x{h0} (WxH) but "
                    f"{f} is {w1}x{h1}. Pass size=N or size=(height, width) to resize them all."
                )

    h, w = target_hw
    needed = len(files) * h * w * channels
    memory = physical_memory()
    if memory and needed > memory // 2:
        raise DataError(
            f"{len(files)} images of {w}x{h}x{channels} from {folder} need "
            f"{format_bytes(needed)} in memory, more than half this machine's "
            f"{format_bytes(memory)}; pass size=N (--image-size N) to load them smaller."
        )
    out = np.empty((len(files), h, w, channels), dtype=np.uint8)
    for i, f in enumerate(files):
        img = _convert(_decode(f), channels)
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BICUBIC)
        out[i] = np.asarray(img, dtype=np.uint8).reshape(h, w, channels)
    images = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images=images, labels=labels, name=folder.name or str(folder), classes=classes)
