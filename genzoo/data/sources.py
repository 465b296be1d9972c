"""One entry point for "the data the user named": a known data set or a folder of images."""

from __future__ import annotations

import os
from pathlib import Path

from genzoo.data.errors import DataError
from genzoo.data.folder import load_folder
from genzoo.data.image_set import ImageSet
from genzoo.data.named_sets import _BY_KEY, _key, dataset_names, load_images

__all__ = ["load_source"]


def load_source(source: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                train: bool = True, download: bool = True, channels: int | None = None,
                size: int | tuple[int, int] | None = None) -> ImageSet:
    """Load ``source``: a data set name (``"mnist"``, ``"fashion-mnist"``) or a folder of images.

    Args:
        source: A name from :func:`dataset_names`, or the path of a folder of PNG/JPEG images.
        root: Where named data sets live (see :func:`data_root`).
        train: The training split of a named data set (else its test split).
        download: Download a named data set that is missing.
        channels: For a folder: convert images to 1 or 3 channels.
        size: For a folder: resize images to ``size`` (an int, or height and width).

    Raises:
        DataError: ``source`` is neither a known name nor an existing folder, or loading failed.
    """
    text = os.fspath(source)
    if _key(text) in _BY_KEY and not Path(text).is_dir():
        if channels not in (None, 1) or size is not None:
            raise DataError(f"{text} images are 1×28×28; channels= and size= apply to folders only")
        return load_images(text, root=root, train=train, download=download)
    path = Path(text).expanduser()
    if path.is_dir():
        return load_folder(path, channels=channels, size=size)
    raise DataError(
        f"{text!r} is neither a known data set ({', '.join(dataset_names())}) nor a folder of "
        "images; check the spelling or the path"
    )
