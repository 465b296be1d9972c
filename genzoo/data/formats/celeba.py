"""CelebA, aligned and cropped: ``img_align_celeba/*.jpg`` and ``list_eval_partition.txt``.

The partition file has one line per image, ``000001.jpg 0``, with 0 for the training, 1 for
the validation and 2 for the test split (torchvision's ``split="train"``, ``"valid"``,
``"test"``). The aligned images are 178×218 (width × height); each is cut to its central
square (178×178) and resized with genzoo's one filter (bicubic, antialiased; see
:mod:`genzoo.data.transforms`), the usual preparation of CelebA for generative models.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from genzoo.data.errors import DataError

__all__ = ["SPLIT_CODES", "check_images", "image_reader", "read_partition"]

#: The code of each split in ``list_eval_partition.txt`` (``None`` for every image).
SPLIT_CODES: dict[str, int | None] = {"train": 0, "valid": 1, "test": 2, "all": None}


def read_partition(path: Path, split: str) -> list[str]:
    """The image file names of one split, in file order.

    Raises:
        DataError: A line is malformed (the line is named).
    """
    code = SPLIT_CODES[split]
    names = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DataError(f"{path} line {number} is {line.strip()!r}, not 'FILE.jpg 0|1|2'. "
                                f"Replace the file with the original list_eval_partition.txt.")
            if code is None or int(parts[1]) == code:
                names.append(parts[0])
    return names


def check_images(image_dir: Path, names: list[str]) -> None:
    """Raise :class:`DataError` naming the first missing images, if any are missing."""
    present = set(os.listdir(image_dir))
    missing = [n for n in names if n not in present]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise DataError(f"{len(missing)} of the {len(names)} CelebA images listed in "
                        f"list_eval_partition.txt are missing from {image_dir}: {shown}. Extract "
                        f"img_align_celeba.zip there again.")


def _decode(path: Path, size: tuple[int, int]) -> np.ndarray:
    """One image, cut to its central square and resized: ``H×W×3`` ``uint8``."""
    from PIL import Image

    from genzoo.data.folder import check_pixels, hostile_file_guard

    # a bomb (a header of 20000x20000 pixels), a truncated or garbled file: one DataError
    with hostile_file_guard(path, _REPLACE, "CelebA image"), Image.open(path) as img:
        w, h = img.size
        check_pixels(w, h)
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        out = rgb.resize((size[1], size[0]), Image.Resampling.BICUBIC,
                         box=(left, top, left + side, top + side))
        return np.asarray(out)


_REPLACE = "replace it with the original from img_align_celeba.zip"


def image_reader(image_dir: Path, names: list[str],
                 size: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    """A reader (see :class:`genzoo.data.StreamedImageSet`) of centre-cropped, resized images.

    Pillow decodes, crops and resizes each image (bicubic with antialiasing, which agrees with
    :func:`genzoo.data.transforms.resize_images` to within 1 in 255) and releases Python's
    lock meanwhile, so several threads decode in parallel.
    """

    def read(idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), *size, 3), dtype=np.uint8)
        for row, i in enumerate(idx):
            out[row] = _decode(image_dir / names[i], size)
        return out.transpose(0, 3, 1, 2)

    return read
