"""STL-10: the binary files of ``stl10_binary/``.

``*_X.bin`` holds ``uint8`` images ``N×3×96×96`` stored column-major (each 96×96 plane is
transposed); ``*_y.bin`` one ``uint8`` label ``1..10`` per image, mapped to ``0..9`` as
torchvision does. Image files are memory-mapped, so the 100,000 unlabelled images (2.7 GB)
are read only as they are asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genzoo.data.errors import DataError

__all__ = ["IMAGE_BYTES", "map_images", "read_labels"]

#: The size of one image in bytes (3 channels of 96×96).
IMAGE_BYTES = 3 * 96 * 96


def map_images(path: Path) -> np.ndarray:
    """Memory-map an ``*_X.bin`` file as ``N×3×96×96`` (rows and columns put right).

    Raises:
        DataError: The file is empty or not a whole number of images.
    """
    size = path.stat().st_size
    if size == 0 or size % IMAGE_BYTES:
        raise DataError(f"{path} is truncated or corrupted: {size} bytes is not a whole number of "
                        f"{IMAGE_BYTES}-byte STL-10 images. Delete it and download it again.")
    mapped = np.memmap(path, dtype=np.uint8, mode="r", shape=(size // IMAGE_BYTES, 3, 96, 96))
    return mapped.transpose(0, 1, 3, 2)


def read_labels(path: Path, count: int) -> np.ndarray:
    """Read ``count`` labels from a ``*_y.bin`` file as ``int64`` ``0..9``.

    Raises:
        DataError: The file does not hold ``count`` labels in ``1..10``.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) != count or (len(raw) and (raw.min() < 1 or raw.max() > 10)):
        raise DataError(f"{path} holds {len(raw)} labels (values {raw.min() if len(raw) else '-'}.."
                        f"{raw.max() if len(raw) else '-'}) but its image file has {count} images "
                        f"labelled 1..10. Delete both and download them again.")
    return raw.astype(np.int64) - 1
