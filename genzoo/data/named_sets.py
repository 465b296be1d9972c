"""Data sets known by name (MNIST, Fashion-MNIST), downloaded through torchvision.

Files live in torchvision's layout, ``<root>/MNIST/raw/train-images-idx3-ubyte``
and so on (each may also be gzipped as ``...-ubyte.gz``), so a folder prepared
for ``torchvision.datasets.MNIST`` works as is. Reading is done by
:func:`genzoo.data.idx.read_idx`, which validates the files; torchvision is
imported only when a download is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.data.errors import DataError
from genzoo.data.idx import read_idx
from genzoo.data.image_set import ImageSet
from genzoo.data.roots import DATA_ENV_VAR, data_root

__all__ = ["dataset_names", "load_images"]


@dataclass(frozen=True)
class _Spec:
    name: str  # canonical genzoo name
    torchvision_class: str  # also the folder name under the data root
    classes: tuple[str, ...]


_SPECS: dict[str, _Spec] = {
    s.name: s
    for s in (
        _Spec("mnist", "MNIST", tuple(str(i) for i in range(10))),
        _Spec(
            "fashion-mnist",
            "FashionMNIST",
            (
                "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
            ),
        ),
    )
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_KEY = {_key(s.name): s for s in _SPECS.values()}


def dataset_names() -> list[str]:
    """The names accepted by :func:`load_images`, sorted."""
    return sorted(_SPECS)


def _spec(name: str) -> _Spec:
    spec = _BY_KEY.get(_key(name)) if isinstance(name, str) else None
    if spec is None:
        raise DataError(
            f"Unknown data set {name!r}. Known data sets: {', '.join(dataset_names())} "
            f"(case, '-' and '_' are ignored). For your own images use "
            f"genzoo.data.load_folder(path)."
        )
    return spec


def _find(raw: Path, stem: str) -> Path | None:
    for candidate in (raw / stem, raw / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _fix_text(spec: _Spec, raw: Path, stems: tuple[str, ...]) -> str:
    files = "".join(f"\n  {raw / s}" for s in stems)
    return (
        f"Expected these files (uncompressed, or gzipped with a .gz suffix):{files}\n"
        f"To fix: copy the files there, or select a folder that already holds "
        f"{spec.torchvision_class}/raw/ with root=... or the {DATA_ENV_VAR} environment variable."
    )


def _download(spec: _Spec, base: Path, train: bool, raw: Path, stems: tuple[str, ...]) -> None:
    import torchvision.datasets as tvd  # lazy: heavy import

    cls = getattr(tvd, spec.torchvision_class)
    urls = [f"{m}{fname}" for m in cls.mirrors for fname, _ in cls.resources[:1]]
    try:
        # The public constructor downloads (all four files, as torchvision does) and
        # then parses the requested split; we re-read below with our validating reader.
        cls(root=os.fspath(base), train=train, download=True)
    except Exception as e:  # noqa: BLE001 - any failure here means "download failed"
        if all(_find(raw, s) is not None for s in stems):
            return  # files arrived but torchvision could not parse them: read_idx explains
        detail = str(e).strip().replace("\n", "\n    ")
        raise DataError(
            f"Could not download {spec.name} ({'train' if train else 'test'} split) into {raw}.\n"
            f"Tried: {', '.join(urls)} (and the other files from the same mirrors).\n"
            f"Error ({type(e).__name__}):\n    {detail}\n" + _fix_text(spec, raw, stems)
        ) from e


def load_images(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    train: bool = True,
    download: bool = True,
) -> ImageSet:
    """Load a named image data set into memory.

    Args:
        name: One of :func:`dataset_names` (``"mnist"``, ``"fashion-mnist"``);
            case, ``-`` and ``_`` are ignored, so ``"MNIST"`` and
            ``"fashion_mnist"`` work too.
        root: The data folder; see :func:`genzoo.data.data_root` for the default
            (``GENZOO_DATA``, else ``~/.cache/genzoo/data``). Files are expected
            in ``<root>/MNIST/raw/`` or ``<root>/FashionMNIST/raw/``.
        train: Load the training split (60 000 images) rather than the test
            split (10 000 images).
        download: Download missing files with torchvision.

    Returns:
        An :class:`ImageSet` of ``uint8`` images ``N x 1 x 28 x 28`` with
        ``int64`` labels and the class names.

    Raises:
        DataError: If the name is unknown, the files are missing and cannot be
            downloaded, or a file is truncated or corrupted. The message names
            the expected files and folder.
    """
    spec = _spec(name)
    base = data_root(root)
    raw = base / spec.torchvision_class / "raw"
    split = "train" if train else "t10k"
    stems = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")

    if any(_find(raw, s) is None for s in stems):
        if not download:
            missing = ", ".join(s for s in stems if _find(raw, s) is None)
            raise DataError(
                f"{spec.name} ({'train' if train else 'test'} split) not found: missing "
                f"{missing} in {raw}, and download=False.\n"
                + _fix_text(spec, raw, stems)
                + "\nOr pass download=True to fetch them."
            )
        _download(spec, base, train, raw, stems)
        if any(_find(raw, s) is None for s in stems):
            raise DataError(
                f"torchvision reported success downloading {spec.name} but the files are "
                f"not in {raw}.\n" + _fix_text(spec, raw, stems)
            )

    image_file, label_file = (_find(raw, s) for s in stems)
    assert image_file is not None and label_file is not None
    images = read_idx(image_file)
    labels = read_idx(label_file)
    if images.ndim != 3 or images.dtype != "uint8":
        raise DataError(
            f"{image_file} holds a {images.dtype} array of shape {images.shape}, not uint8 "
            f"images N x H x W. Replace it with the original {spec.name} file."
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images):
        raise DataError(
            f"{label_file} holds a {labels.dtype} array of shape {labels.shape}, not "
            f"{len(images)} integer labels matching {image_file}. Replace both with the "
            f"original {spec.name} files."
        )
    return ImageSet(
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(labels).long(),
        name=spec.name,
        classes=spec.classes,
    )
