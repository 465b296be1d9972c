"""The real data an evaluation compares with: a named data set or an image folder, split in two.

* A **named data set** (``"mnist"``, ``"cifar10"``, ``"stl10:unlabeled"``...): its test split
  is the *reference* the images are compared with; its training split (or the split named after
  a colon) trains the feature network and gives the *floor*'s images. A split larger than
  :data:`MAX_HALF_IMAGES` (CelebA's, read from disk) is represented by a fixed random subset.
* An **image folder** (flat, or one sub-folder per class): a fixed random half (seed 0) is the
  reference and the other half trains the feature network and gives the floor's images, so the
  reference is never seen by the network, as with a named set's test split.

The **fingerprint** is a hash of the images and labels; the feature networks are cached by it
and the protocol card shows it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import (DataError, ImageSet, StreamedImageSet, dataset_info, is_dataset_name, load_images,
                    load_source)
from .errors import MetricsError

__all__ = ["EvalData", "load_eval_data", "named_data", "fingerprint", "MAX_HALF_IMAGES"]

#: The most images of one half an evaluation holds in memory: a larger split (CelebA's) is
#: represented by a fixed random subset (seed 0) of this many.
MAX_HALF_IMAGES = 20_000

#: Seeds the split of an image folder into reference and floor halves.
_SPLIT_SEED = 0


@dataclass(frozen=True, eq=False)
class EvalData:
    """The two halves of the real data an evaluation uses.

    Attributes:
        name: The data set's name or the folder's name.
        train: Trains the feature network; the floor's real images are a fixed subset of it.
        reference: The images scores compare with.
        reference_split: Where the reference comes from, in words.
        floor_split: Where the floor's images come from, in words.
        fingerprint: A hash (hex) of both halves' images and labels.
        key: What caches are keyed by: a named set's name (and split), else the folder's name
            and the fingerprint's start.
    """

    name: str
    train: ImageSet
    reference: ImageSet
    reference_split: str
    floor_split: str
    fingerprint: str
    key: str

    @property
    def labelled(self) -> bool:
        """Whether both halves have labels (a domain classifier can be trained)."""
        return self.train.labels is not None and self.reference.labels is not None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of the data's images."""
        return self.reference.image_shape

    @property
    def num_classes(self) -> int:
        """The number of classes (0 without labels)."""
        if not self.labelled:
            return 0
        if self.train.classes:
            return len(self.train.classes)
        assert self.train.labels is not None and self.reference.labels is not None
        return int(max(self.train.labels.max(), self.reference.labels.max())) + 1

    def card(self) -> dict[str, object]:
        """The data's part of the protocol card."""
        return {"name": self.name, "fingerprint": self.fingerprint,
                "image_shape": list(self.image_shape), "labels": self.labelled,
                "reference_split": self.reference_split, "reference_images": len(self.reference),
                "floor_split": self.floor_split}


def load_eval_data(source: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                   download: bool = True) -> EvalData:
    """Load the real data of an evaluation: a named data set, or a folder of images.

    Args:
        source: A name from :func:`genzoo.data.dataset_names`, or a folder of images (one
            sub-folder per class gives labels).
        root: Where named data sets live (see :func:`genzoo.data.data_root`).
        download: Download a named data set that is missing.

    Raises:
        MetricsError: the folder has too few images to split (at least 16).
        genzoo.data.DataError: the data cannot be found or read.
    """
    text = os.fspath(source)
    named = named_data(text)
    if named is not None:
        name, split, _ = named
        train, train_words = _in_memory(load_images(name, split=split, root=root, download=download))
        test, test_words = _in_memory(load_images(name, split="test", root=root, download=download))
        return EvalData(name=named_key(named), train=train, reference=test,
                        reference_split=f"{name} test split{test_words}",
                        floor_split=f"{name} {split} split{train_words}, a fixed random subset (seed 0)",
                        fingerprint=fingerprint(train, test), key=named_key(named))
    try:
        images = load_source(text, root=root)
    except DataError as err:
        raise _in_eval_words(err) from None
    if not isinstance(images, ImageSet):
        images = images.load()
    if len(images) < 16:
        raise MetricsError(
            f"{text} has {len(images)} images; evaluation splits a folder into a reference half "
            f"and a floor half and needs at least 16 (hundreds for meaningful numbers)"
        )
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(_SPLIT_SEED))
    half = len(images) // 2
    reference, train = (_subset(images, order[:half]), _subset(images, order[half:]))
    digest = fingerprint(train, reference)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in images.name) or "folder"
    return EvalData(name=images.name, train=train, reference=reference,
                    reference_split=f"folder {images.name}: a fixed random half (seed 0)",
                    floor_split=f"folder {images.name}: the other half, a fixed random subset (seed 0)",
                    fingerprint=digest, key=f"{safe}-{digest[:12]}")


def _in_eval_words(err: DataError) -> DataError:
    """``err`` with advice that fits ``genzoo eval``, which takes the data as it is: it has no
    option to resize a folder whose images differ in size (training's ``--image-size``)."""
    text = str(err)
    cut = text.find(" Pass size=N")
    if cut < 0 or "differ in size" not in text:
        return err
    return DataError(f"{text[:cut]} An evaluation compares the samples with the images as they "
                     "are, so they must all have one size: resize the files to one size (the "
                     "one the model was trained at, say), or evaluate against another folder.")


def named_data(source: str | os.PathLike[str]) -> tuple[str, str, bool] | None:
    """For a named data set (not a folder of that name): its canonical name, the split that
    trains the feature network, and whether that split has labels; else ``None``.

    Raises:
        MetricsError: the split named is the test split (which is the reference).
    """
    text = os.fspath(source)
    if not is_dataset_name(text) or Path(text).is_dir():
        return None
    base, _, split = text.partition(":")
    info = dataset_info(base)
    split = split or next(iter(info.splits))
    if split == "test":
        raise MetricsError(f"{text}: the test split is the reference samples are compared with; "
                           f"name the split the floor and the feature network use instead "
                           f"(e.g. {info.name}, which uses {next(iter(info.splits))})")
    return info.name, split, info.num_classes is not None and "unlabeled" not in split


def named_key(named: tuple[str, str, bool]) -> str:
    """The name a named data set's evaluation caches go by: ``"cifar10"``, ``"stl10-unlabeled"``
    for a split other than the first."""
    name, split, _ = named
    first = next(iter(dataset_info(name).splits))
    return name if split == first else f"{name}-{split}"


def fingerprint(*sets: ImageSet) -> str:
    """A SHA-256 (hex) of the image sets' shapes, pixels and labels, in order."""
    digest = hashlib.sha256()
    for images in sets:
        digest.update(repr(tuple(images.images.shape)).encode())
        digest.update(images.images.contiguous().numpy().tobytes())
        if images.labels is not None:
            digest.update(images.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def _in_memory(images: ImageSet | StreamedImageSet) -> tuple[ImageSet, str]:
    """The images in memory, at most :data:`MAX_HALF_IMAGES` of them (a fixed random subset),
    and words for the card when it is a subset."""
    if isinstance(images, ImageSet):
        return images, ""
    if len(images) <= MAX_HALF_IMAGES:
        return images.load(), ""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(_SPLIT_SEED))
    subset = order[:MAX_HALF_IMAGES].sort().values
    return images.load(subset), f" (a fixed random {MAX_HALF_IMAGES} of {len(images)} images, seed 0)"


def _subset(images: ImageSet, index: torch.Tensor) -> ImageSet:
    labels = None if images.labels is None else images.labels[index]
    return ImageSet(images=images.images[index], labels=labels, name=images.name, classes=images.classes)
