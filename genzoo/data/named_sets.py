"""Data sets known by name (MNIST, CIFAR-10, CelebA, ...), downloaded through torchvision.

Files live in torchvision's layout under the data root (``<root>/MNIST/raw/``,
``<root>/cifar-10-batches-py/``, ``<root>/celeba/img_align_celeba/``, ...; see
:func:`dataset_info` for each set's folder), so a folder prepared for ``torchvision.datasets``
works as is. genzoo reads the files itself (:mod:`genzoo.data.formats`), validating their
layout and contents, and calls torchvision's dataset class only to download what is missing.

torchvision also compares some files with their MD5 hashes. genzoo does not: a checked
download is already verified by torchvision (the archive's MD5), and a folder of files
written by hand or by a test is read as long as it has the real format; a truncated or
corrupted file gets an error that names it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from genzoo.data.catalog import ENTRIES, DatasetInfo, Entry, Loaded, _find
from genzoo.data.errors import DataError
from genzoo.data.image_set import ImageSet
from genzoo.data.roots import DATA_ENV_VAR, data_root
from genzoo.data.transforms import check_size, convert_channels, resize_images

__all__ = ["dataset_info", "dataset_names", "is_dataset_name", "load_images"]


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_KEY = {_key(name): entry for name, entry in ENTRIES.items()}


def dataset_names() -> list[str]:
    """The names accepted by :func:`load_images`, sorted."""
    return sorted(ENTRIES)


def is_dataset_name(text: str) -> bool:
    """Whether ``text`` names a data set (with or without a ``:split`` suffix)."""
    return isinstance(text, str) and _key(text.partition(":")[0]) in _BY_KEY


def _entry(name: str) -> Entry:
    entry = _BY_KEY.get(_key(name)) if isinstance(name, str) else None
    if entry is None:
        raise DataError(
            f"Unknown data set {name!r}. Known data sets: {', '.join(dataset_names())} "
            f"(case, '-' and '_' are ignored). For your own images use "
            f"genzoo.data.load_folder(path)."
        )
    return entry


def dataset_info(name: str) -> DatasetInfo:
    """What genzoo knows about a named data set: its folder, splits, sizes, classes, shape.

    Args:
        name: One of :func:`dataset_names` (case, ``-`` and ``_`` are ignored).

    Raises:
        DataError: The name is unknown.
    """
    return _entry(name.partition(":")[0] if isinstance(name, str) else name).info


def _split(entry: Entry, split: str | None, train: bool) -> str:
    splits = list(entry.info.splits)
    chosen = split or (splits[0] if train else "test")
    if chosen not in entry.info.splits:
        raise DataError(
            f"{entry.info.name} has no split {chosen!r}; its splits are {', '.join(splits)} "
            f"(e.g. {entry.info.name}:{splits[-1]} or split={splits[-1]!r})."
        )
    return chosen


def _fix_text(entry: Entry, folder: Path, files: tuple[str, ...]) -> str:
    listed = "".join(f"\n  {folder / f}" for f in files)
    gz = " (uncompressed, or gzipped with a .gz suffix)" if entry.gzip_ok else ""
    return (
        f"Expected these files{gz}:{listed}\n"
        f"To fix: copy the files there, or select a folder that already holds "
        f"{entry.info.folder}/ with root=... (--data-root) or the {DATA_ENV_VAR} environment variable."
    )


def _missing(entry: Entry, folder: Path, files: tuple[str, ...]) -> list[str]:
    def present(f: str) -> bool:
        return (folder / f).exists() or (entry.gzip_ok and _find(folder, f) is not None)

    return [f for f in files if not present(f)]


def _download(entry: Entry, base: Path, split: str, folder: Path, files: tuple[str, ...]) -> None:
    import torchvision.datasets as tvd  # lazy: heavy import

    cls = getattr(tvd, entry.torchvision_class)
    tv_root = base / entry.torchvision_root if entry.torchvision_root else base
    try:
        # The public constructor downloads (and checks the archive's MD5) and then parses one
        # split; genzoo re-reads the files with its validating readers.
        cls(root=os.fspath(tv_root), download=True, **entry.download_kwargs(split))
    except Exception as e:  # noqa: BLE001 - any failure here means "download failed"
        if not _missing(entry, folder, files):
            return  # files arrived but torchvision refused them: genzoo's readers explain
        detail = str(e).strip().replace("\n", "\n    ")
        raise DataError(
            f"Could not download {entry.info.name} ({split} split) into {folder}.\n"
            f"Tried: {_urls(cls, entry.info)}.\n"
            f"Error ({type(e).__name__}):\n    {detail}\n" + _fix_text(entry, folder, files)
        ) from e


def _urls(cls: type, info: DatasetInfo) -> str:
    """Where torchvision fetches ``cls``'s files from, for the error message."""
    if hasattr(cls, "mirrors") and hasattr(cls, "resources"):
        first = cls.resources[0][0]
        return ", ".join(f"{m}{first}" for m in cls.mirrors) + " (and the other files from the same mirrors)"
    if isinstance(getattr(cls, "url", None), str):
        return cls.url
    if hasattr(cls, "split_list"):
        return ", ".join(v[0] for v in cls.split_list.values())
    return info.download


def load_images(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    train: bool = True,
    split: str | None = None,
    channels: int | None = None,
    size: int | tuple[int, int] | None = None,
    download: bool = True,
) -> Loaded:
    """Load a named image data set.

    Sets that fit in memory come back as an :class:`ImageSet`; CelebA and STL-10's unlabelled
    split, too large for that, as a :class:`StreamedImageSet` that reads images from disk as a
    :class:`StreamingLoader` asks for them (its :meth:`~StreamedImageSet.load` reads a part
    into memory). :func:`dataset_info` says which is which.

    Args:
        name: One of :func:`dataset_names` (``"mnist"``, ``"cifar10"``, ``"celeba"``...);
            case, ``-`` and ``_`` are ignored (``"CIFAR-10"``). A ``:split`` suffix selects a
            split, as ``split=`` does: ``"stl10:unlabeled"``, ``"svhn:extra"``.
        root: The data folder; see :func:`genzoo.data.data_root` for the default
            (``GENZOO_DATA``, else ``~/.cache/genzoo/data``). Each set's files are expected
            in its own folder under it (:attr:`DatasetInfo.folder`).
        train: Load the training split rather than the test split.
        split: A split by name (see :attr:`DatasetInfo.splits`); overrides ``train``.
        channels: Convert to 1 (grayscale, by luma) or 3 (RGB) channels.
        size: Resize to ``size x size`` or ``(height, width)`` (bicubic, antialiased). CelebA
            is cut to its central square first and is 64x64 by default.
        download: Download missing files with torchvision.

    Returns:
        ``uint8`` images ``N x C x H x W``, with ``int64`` labels and the class names where the
        set has them.

    Raises:
        DataError: If the name or split is unknown, the files are missing and cannot be
            downloaded, or a file is truncated or corrupted. The message names the expected
            files and folder.
    """
    if not isinstance(name, str):
        raise DataError(f"A data set name must be a string, got {type(name).__name__}.")
    base_name, _, suffix = name.partition(":")
    entry = _entry(base_name)
    if suffix and split and suffix != split:
        raise DataError(f"{name!r} asks for split {suffix!r} but split={split!r}; give one of them.")
    chosen = _split(entry, split or suffix or None, train)
    hw = check_size(size)
    convert_channels(torch.zeros(0, 1, 1, 1, dtype=torch.uint8), channels)  # validate early
    base = data_root(root)
    folder = base / entry.info.folder
    files = entry.files(chosen)

    if _missing(entry, folder, files):
        if not download:
            raise DataError(
                f"{entry.info.name} ({chosen} split) not found: missing "
                f"{', '.join(_missing(entry, folder, files))} in {folder}, and download=False.\n"
                + _fix_text(entry, folder, files)
                + "\nOr pass download=True (drop --no-download) to fetch them."
            )
        _download(entry, base, chosen, folder, files)
        if _missing(entry, folder, files):
            raise DataError(
                f"torchvision reported success downloading {entry.info.name} but the files are "
                f"not in {folder}.\n" + _fix_text(entry, folder, files)
            )

    data = entry.read(folder, chosen, hw)
    if isinstance(data, ImageSet):
        images = resize_images(convert_channels(data.images, channels), hw)
        return data if images is data.images else ImageSet(images, data.labels, data.name, data.classes)
    return data.transformed(channels=channels, size=hw)
