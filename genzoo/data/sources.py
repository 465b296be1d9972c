"""One entry point for "the data the user named": a known data set or a folder of images."""

from __future__ import annotations

import os
from pathlib import Path

from genzoo.data.errors import DataError
from genzoo.data.folder import load_folder
from genzoo.data.image_set import ImageSet
from genzoo.data.named_sets import dataset_names, is_dataset_name, load_images
from genzoo.data.streamed import StreamedImageSet

__all__ = ["load_source", "check_source"]


def check_source(source: str | os.PathLike[str], option: str = "data") -> str:
    """``source`` as text, refusing an empty one (an unset shell variable: ``Path("")`` would
    be the current folder, and a default data set would be a silent substitute).

    Raises:
        DataError: ``source`` is empty or only spaces.
    """
    text = os.fspath(source)
    if not text.strip():
        raise DataError(f"{option} is empty (an unset shell variable?); name a data set "
                        "(mnist, cifar10, ...) or a folder of images")
    return text


def load_source(source: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                train: bool = True, download: bool = True, channels: int | None = None,
                size: int | tuple[int, int] | None = None) -> ImageSet | StreamedImageSet:
    """Load ``source``: a data set name (``"mnist"``, ``"cifar10"``, ``"stl10:unlabeled"``...)
    or a folder of images.

    An existing folder wins over a data set of the same name.

    Args:
        source: A name from :func:`dataset_names` (optionally with a ``:split``), or the path
            of a folder of PNG/JPEG images.
        root: Where named data sets live (see :func:`data_root`).
        train: The training split of a named data set (else its test split).
        download: Download a named data set that is missing.
        channels: Convert images to 1 or 3 channels.
        size: Resize images to ``size`` (an int, or height and width).

    Raises:
        DataError: ``source`` is empty, neither a known name nor an existing folder, or loading
            failed.
    """
    text = check_source(source)
    if is_dataset_name(text) and not Path(text).is_dir():
        return load_images(text, root=root, train=train, download=download, channels=channels, size=size)
    path = Path(text).expanduser()
    if path.is_dir():
        return load_folder(path, channels=channels, size=size)
    raise DataError(
        f"{text!r} is neither a known data set ({', '.join(dataset_names())}) nor a folder of "
        "images; check the spelling or the path"
    )
