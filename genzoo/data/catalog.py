"""The named data sets: where each one's files lie, how to read them, how torchvision fetches them.

Every set lives in torchvision's layout under the data root, so a folder prepared for
``torchvision.datasets`` works as is (SVHN, which torchvision keeps directly in its root, gets
its own ``SVHN/`` folder here).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from genzoo.data.errors import DataError
from genzoo.data.idx import read_idx
from genzoo.data.image_set import ImageSet
from genzoo.data.streamed import StreamedImageSet

__all__ = ["DatasetInfo"]

Loaded = ImageSet | StreamedImageSet


@dataclass(frozen=True)
class DatasetInfo:
    """What genzoo knows about a named data set (see :func:`genzoo.data.dataset_info`).

    Attributes:
        name: The canonical name (``"cifar10"``).
        title: The usual spelling (``"CIFAR-10"``).
        summary: One line about the images.
        folder: Where its files lie under the data root (``"cifar-10-batches-py"``).
        image_shape: ``(C, H, W)`` of the images as loaded by default.
        splits: Split name → number of images; the first is the training split
            (``train=True``), and ``"test"`` is the one ``train=False`` loads.
        num_classes: Number of classes, or ``None`` for a set without labels.
        streamed: The splits too large for memory, read from disk batch by batch
            (:class:`~genzoo.data.StreamedImageSet`).
        download: What ``download=True`` fetches, and from where.
    """

    name: str
    title: str
    summary: str
    folder: str
    image_shape: tuple[int, int, int]
    splits: Mapping[str, int]
    num_classes: int | None
    streamed: frozenset[str] = frozenset()
    download: str = ""


@dataclass(frozen=True)
class Entry:
    """A named set: its public :class:`DatasetInfo` and the private means to read and fetch it."""

    info: DatasetInfo
    #: The files one split needs, relative to the set's folder.
    files: Callable[[str], tuple[str, ...]]
    #: Reads one split from the set's folder (``size``: CelebA's output size).
    read: Callable[[Path, str, tuple[int, int] | None], Loaded]
    #: torchvision's class and the keyword arguments of a cheap download-and-load.
    torchvision_class: str
    download_kwargs: Callable[[str], dict[str, Any]] = field(default=lambda split: {})
    #: The torchvision root relative to the genzoo data root ("" for the root itself).
    torchvision_root: str = ""
    #: Files may also be gzipped with a ``.gz`` suffix (the IDX sets).
    gzip_ok: bool = False


def _info(name: str, title: str, summary: str, folder: str, shape: tuple[int, int, int],
          splits: dict[str, int], num_classes: int | None, download: str,
          streamed: frozenset[str] = frozenset()) -> DatasetInfo:
    return DatasetInfo(name, title, summary, folder, shape, MappingProxyType(splits), num_classes,
                       streamed, download)


# --------------------------------------------------------------------------------------- IDX


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx_pair(name: str, folder: Path, stems: tuple[str, ...], classes: tuple[str, ...],
                   transpose: bool = False, label_offset: int = 0) -> ImageSet:
    image_file, label_file = (_find(folder, s) for s in stems)
    assert image_file is not None and label_file is not None
    images = read_idx(image_file)
    labels = read_idx(label_file)
    if images.ndim != 3 or images.dtype != "uint8":
        raise DataError(
            f"{image_file} holds a {images.dtype} array of shape {images.shape}, not uint8 "
            f"images N x H x W. Replace it with the original {name} file."
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images):
        raise DataError(
            f"{label_file} holds a {labels.dtype} array of shape {labels.shape}, not "
            f"{len(images)} integer labels matching {image_file}. Replace both with the "
            f"original {name} files."
        )
    labels = labels.astype(np.int64) - label_offset
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DataError(
            f"{label_file} has labels {labels.min() + label_offset}..{labels.max() + label_offset}, "
            f"outside the {len(classes)} classes of {name}. Replace it with the original file."
        )
    tensor = torch.from_numpy(images).unsqueeze(1)
    if transpose:
        tensor = tensor.transpose(2, 3).contiguous()
    return ImageSet(images=tensor, labels=torch.from_numpy(labels), name=name, classes=classes)


_MNIST_SPLITS = {"train": 60_000, "test": 10_000}


def _mnist_like(name: str, title: str, summary: str, tv_class: str, classes: tuple[str, ...],
                url: str) -> Entry:
    def stems(split: str) -> tuple[str, ...]:
        prefix = "train" if split == "train" else "t10k"
        return (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")

    def read(folder: Path, split: str, size: tuple[int, int] | None) -> Loaded:
        return _read_idx_pair(name, folder, stems(split), classes)

    return Entry(
        _info(name, title, summary, f"{tv_class}/raw", (1, 28, 28), dict(_MNIST_SPLITS),
              len(classes), f"4 gzipped IDX files from {url}"),
        stems, read, tv_class, lambda split: {"train": split == "train"}, gzip_ok=True,
    )


_DIGITS = tuple(string.digits)
_EMNIST_LETTERS = tuple(string.ascii_lowercase)
_EMNIST_ALL = tuple(sorted(set(string.digits + string.ascii_letters)))
_EMNIST_MERGED = tuple(c for c in _EMNIST_ALL if c not in set("cijklmopsuvwxyz"))
#: variant -> (classes, train images, test images, label offset)
_EMNIST = {
    "balanced": (_EMNIST_MERGED, 112_800, 18_800, 0),
    "byclass": (_EMNIST_ALL, 697_932, 116_323, 0),
    "bymerge": (_EMNIST_MERGED, 697_932, 116_323, 0),
    "letters": (_EMNIST_LETTERS, 124_800, 20_800, 1),
    "digits": (_DIGITS, 240_000, 40_000, 0),
    "mnist": (_DIGITS, 60_000, 10_000, 0),
}
_EMNIST_URL = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"


def _emnist(variant: str) -> Entry:
    classes, n_train, n_test, offset = _EMNIST[variant]
    name = "emnist" if variant == "balanced" else f"emnist-{variant}"

    def stems(split: str) -> tuple[str, ...]:
        prefix = f"emnist-{variant}-{split}"
        return (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")

    def read(folder: Path, split: str, size: tuple[int, int] | None) -> Loaded:
        # EMNIST's files store each image transposed (torchvision shows them flipped and turned,
        # pytorch/vision#8783); genzoo turns them upright.
        return _read_idx_pair(name, folder, stems(split), classes, transpose=True, label_offset=offset)

    kind = {"balanced": "digits and letters, 47 balanced classes",
            "byclass": "digits and letters, 62 unbalanced classes",
            "bymerge": "digits and letters, 47 unbalanced classes",
            "letters": "letters a-z, 26 classes", "digits": "digits, 10 classes",
            "mnist": "digits, 10 classes, MNIST's sizes"}[variant]
    return Entry(
        _info(name, f"EMNIST {variant}", f"Handwritten {kind}", "EMNIST/raw", (1, 28, 28),
              {"train": n_train, "test": n_test}, len(classes),
              f"one 562 MB zip of every EMNIST split from {_EMNIST_URL}"),
        stems, read, "EMNIST", lambda split: {"split": variant, "train": split == "train"},
        gzip_ok=True,
    )


# ------------------------------------------------------------------------------------- CIFAR


def _cifar(name: str, title: str, folder: str, tv_class: str, train_files: tuple[str, ...],
           test_file: str, label_key: str, meta: tuple[str, str], num_classes: int, url: str) -> Entry:
    from genzoo.data.formats import cifar

    def files(split: str) -> tuple[str, ...]:
        return (*(train_files if split == "train" else (test_file,)), meta[0])

    def read(base: Path, split: str, size: tuple[int, int] | None) -> Loaded:
        names = files(split)
        images, labels = cifar.read_batches([base / f for f in names[:-1]], label_key)
        classes = cifar.read_class_names(base / meta[0], meta[1])
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise DataError(f"{base} holds labels {labels.min()}..{labels.max()} but {base / meta[0]} "
                            f"names {len(classes)} classes. Download the data set again.")
        return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), name, classes)

    return Entry(
        _info(name, title, f"32x32 colour photos of {num_classes} object classes", folder,
              (3, 32, 32), {"train": 50_000, "test": 10_000}, num_classes, f"one tar.gz from {url}"),
        files, read, tv_class, lambda split: {"train": False},
    )


# -------------------------------------------------------------------------------------- SVHN

_SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


def _svhn() -> Entry:
    from genzoo.data.formats import svhn

    def read(folder: Path, split: str, size: tuple[int, int] | None) -> Loaded:
        images, labels = svhn.read_mat(folder / _SVHN_FILES[split])
        return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), "svhn", _DIGITS)

    return Entry(
        _info("svhn", "SVHN", "32x32 colour crops of house-number digits from Street View", "SVHN",
              (3, 32, 32), {"train": 73_257, "test": 26_032, "extra": 531_131}, 10,
              "one .mat file per split from http://ufldl.stanford.edu/housenumbers/"),
        lambda split: (_SVHN_FILES[split],), read, "SVHN", lambda split: {"split": split},
        torchvision_root="SVHN",
    )


# ------------------------------------------------------------------------------------ STL-10

_STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
_STL10_URL = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"


def _stl10() -> Entry:
    from genzoo.data.formats import stl10

    def files(split: str) -> tuple[str, ...]:
        labelled = ("train_X.bin", "train_y.bin") if split.startswith("train") else ("test_X.bin", "test_y.bin")
        return {"unlabeled": ("unlabeled_X.bin",),
                "train+unlabeled": (*labelled, "unlabeled_X.bin")}.get(split, labelled)

    def read(folder: Path, split: str, size: tuple[int, int] | None) -> Loaded:
        class_file = folder / "class_names.txt"
        classes = (tuple(class_file.read_text(encoding="utf-8").split())
                   if class_file.is_file() else _STL10_CLASSES)
        if split in ("train", "test"):
            images = stl10.map_images(folder / f"{split}_X.bin")
            labels = stl10.read_labels(folder / f"{split}_y.bin", len(images))
            return ImageSet(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels),
                            "stl10", classes)
        parts = [stl10.map_images(folder / f) for f in files(split) if f.endswith("_X.bin")]
        offsets = np.cumsum([0] + [len(p) for p in parts])

        def reader(idx: np.ndarray) -> np.ndarray:
            out = np.empty((len(idx), 3, 96, 96), dtype=np.uint8)
            for part, start, stop in zip(parts, offsets[:-1], offsets[1:]):
                mask = (idx >= start) & (idx < stop)
                out[mask] = part[idx[mask] - start]
            return out

        return StreamedImageSet(reader, int(offsets[-1]), (3, 96, 96), name="stl10",
                                source=str(folder / "unlabeled_X.bin"))

    return Entry(
        _info("stl10", "STL-10", "96x96 colour photos of 10 classes, and 100,000 unlabelled ones",
              "stl10_binary", (3, 96, 96),
              {"train": 5_000, "test": 8_000, "unlabeled": 100_000, "train+unlabeled": 105_000}, 10,
              f"one 2.6 GB tar.gz from {_STL10_URL}",
              streamed=frozenset({"unlabeled", "train+unlabeled"})),
        files, read, "STL10", lambda split: {"split": "test"},
    )


# ------------------------------------------------------------------------------------ CelebA

#: CelebA's default output size (height, width), the aligned faces centre-cropped at 64×64.
CELEBA_SIZE = (64, 64)


def _celeba() -> Entry:
    from genzoo.data.formats import celeba

    def read(folder: Path, split: str, size: tuple[int, int] | None) -> Loaded:
        names = celeba.read_partition(folder / "list_eval_partition.txt", split)
        image_dir = folder / "img_align_celeba"
        if not image_dir.is_dir():
            raise DataError(f"{image_dir} is missing: extract img_align_celeba.zip into {folder}.")
        celeba.check_images(image_dir, names)
        hw = size or CELEBA_SIZE
        return StreamedImageSet(celeba.image_reader(image_dir, names, hw), len(names), (3, *hw),
                                name="celeba", source=str(image_dir))

    splits = {"train": 162_770, "valid": 19_867, "test": 19_962, "all": 202_599}
    return Entry(
        _info("celeba", "CelebA", "Aligned celebrity faces, centre-cropped and resized to 64x64",
              "celeba", (3, *CELEBA_SIZE), splits, None,
              "img_align_celeba.zip (1.4 GB) and 5 text files from Google Drive (often over quota; "
              "download them by hand from the CelebA page if it fails)",
              streamed=frozenset(splits)),
        lambda split: ("img_align_celeba", "list_eval_partition.txt"), read, "CelebA",
        lambda split: {"split": "test", "target_type": []},
    )


# ---------------------------------------------------------------------------------- catalog

_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def _entries() -> list[Entry]:
    return [
        _mnist_like("mnist", "MNIST", "Handwritten digits, 28x28 grayscale", "MNIST", _DIGITS, _MNIST_URL),
        _mnist_like("fashion-mnist", "Fashion-MNIST", "Zalando clothing photos, 28x28 grayscale",
                    "FashionMNIST",
                    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        _mnist_like("kmnist", "Kuzushiji-MNIST", "Cursive Japanese (Kuzushiji) characters, 28x28 grayscale",
                    "KMNIST", ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
                    "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
        *(_emnist(v) for v in _EMNIST),
        _cifar("cifar10", "CIFAR-10", "cifar-10-batches-py", "CIFAR10",
               tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "labels", ("batches.meta", "label_names"),
               10, "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
        _cifar("cifar100", "CIFAR-100", "cifar-100-python", "CIFAR100", ("train",), "test", "fine_labels",
               ("meta", "fine_label_names"), 100, "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
        _svhn(),
        _stl10(),
        _celeba(),
    ]


ENTRIES: dict[str, Entry] = {e.info.name: e for e in _entries()}
