"""A data set too large for memory: images read from disk on demand."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from genzoo.data.errors import DataError
from genzoo.data.image_set import ImageSet
from genzoo.data.transforms import check_size, convert_channels, resize_images

__all__ = ["StreamedImageSet"]

#: A function that reads the images at the given indices (an ``int64`` array) as ``uint8`` ``K×C×H×W``.
Reader = Callable[[np.ndarray], np.ndarray | torch.Tensor]


class StreamedImageSet:
    """An image data set that stays on disk; :meth:`read` decodes the images asked for.

    It has the attributes of :class:`ImageSet` except ``images`` (which would not fit in
    memory): ``name``, ``labels`` (small, so held in memory), ``classes``, ``image_shape`` and
    ``len()``. Train on it with :class:`StreamingLoader` (or :func:`make_loader`); turn a
    part of it that fits in memory into an :class:`ImageSet` with :meth:`load`.

    Args:
        reader: Reads the images at an ``int64`` index array, in that order, as ``uint8``
            ``K×C×H×W`` (numpy or torch). It must be safe to call from several threads.
        size: Number of images.
        image_shape: ``(C, H, W)`` of what ``reader`` returns.
        name: A short human-readable name.
        labels: ``int64`` labels, one per image, or ``None``.
        classes: Class names indexed by label, or ``None``.
        source: Where the images come from, for messages (a folder or file).

    Raises:
        DataError: If the labels do not match the images.
    """

    def __init__(self, reader: Reader, size: int, image_shape: tuple[int, int, int], *, name: str,
                 labels: torch.Tensor | None = None, classes: Sequence[str] | None = None,
                 source: str = "") -> None:
        if labels is not None and (labels.dim() != 1 or labels.dtype != torch.int64 or len(labels) != size):
            raise DataError(
                f"StreamedImageSet {name!r}: labels must be an int64 tensor of {size} entries, "
                f"got {tuple(labels.shape)} {labels.dtype}."
            )
        self._reader = reader
        self._size = int(size)
        self._shape = tuple(int(v) for v in image_shape)
        self.name = name
        self.labels = labels
        self.classes = None if classes is None else tuple(classes)
        self.source = source

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape ``(C, H, W)`` of one image."""
        return self._shape  # type: ignore[return-value]

    def __len__(self) -> int:
        return self._size

    def read(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Decode the images at ``indices``, in that order.

        Args:
            indices: Image indices in ``[0, len(self))``.

        Returns:
            A ``uint8`` CPU tensor ``K×C×H×W``.

        Raises:
            DataError: An index is out of range, or a file cannot be read (the file is named).
        """
        if isinstance(indices, torch.Tensor):
            indices = indices.cpu().numpy()
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self._size):
            raise DataError(f"{self.name}: image indices must lie in [0, {self._size}), "
                            f"got {int(idx.min())}..{int(idx.max())}.")
        out = self._reader(idx)
        images = torch.from_numpy(np.ascontiguousarray(out)) if isinstance(out, np.ndarray) else out
        if images.dtype != torch.uint8 or tuple(images.shape) != (len(idx), *self._shape):
            raise DataError(
                f"{self.name}: the reader returned {tuple(images.shape)} {images.dtype} for "
                f"{len(idx)} images of shape {self._shape}; it must return uint8 K x C x H x W."
            )
        return images

    def transformed(self, *, channels: int | None = None,
                    size: int | tuple[int, int] | None = None) -> StreamedImageSet:
        """The same set read with a channel conversion and/or a resize (see
        :func:`genzoo.data.transforms.convert_channels` and :func:`~genzoo.data.transforms.resize_images`).

        Args:
            channels: 1 or 3 channels, or ``None`` to keep them.
            size: ``size x size`` or ``(height, width)``, or ``None`` to keep it.
        """
        hw = check_size(size)
        convert_channels(torch.zeros(0, 1, 1, 1, dtype=torch.uint8), channels)  # validates
        if (channels is None or channels == self._shape[0]) and (hw is None or hw == self._shape[1:]):
            return self
        inner = self.read

        def reader(idx: np.ndarray) -> torch.Tensor:
            return resize_images(convert_channels(inner(idx), channels), hw)

        shape = (channels or self._shape[0], *(hw or self._shape[1:]))
        return StreamedImageSet(reader, self._size, shape, name=self.name, labels=self.labels,  # type: ignore[arg-type]
                                classes=self.classes, source=self.source)

    def load(self, indices: Sequence[int] | np.ndarray | torch.Tensor | None = None, *,
             chunk: int = 1024) -> ImageSet:
        """Read images into memory as an :class:`ImageSet` (all of them by default).

        Args:
            indices: Which images (default: all, in order).
            chunk: Images decoded per read.

        Returns:
            The images with their labels and class names.
        """
        idx = np.arange(self._size) if indices is None else np.asarray(
            indices.cpu() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64).reshape(-1)
        images = torch.empty((len(idx), *self._shape), dtype=torch.uint8)
        for start in range(0, len(idx), chunk):
            images[start : start + chunk] = self.read(idx[start : start + chunk])
        labels = None if self.labels is None else self.labels[torch.from_numpy(idx)]
        return ImageSet(images=images, labels=labels, name=self.name, classes=self.classes)

    def __repr__(self) -> str:
        labels = "None" if self.labels is None else f"{len(self.labels)} labels"
        classes = "" if self.classes is None else f", {len(self.classes)} classes"
        source = f", from {self.source}" if self.source else ""
        return (f"StreamedImageSet(name={self.name!r}, {len(self)} images of shape {self.image_shape}, "
                f"{labels}{classes}{source})")
