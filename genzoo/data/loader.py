"""A fast loader for data sets that fit in (device) memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from genzoo.data.batching import BatchLoader, RawBatch
from genzoo.data.errors import DataError
from genzoo.data.image_set import ImageSet

__all__ = ["InMemoryLoader"]


class InMemoryLoader(BatchLoader):
    """Batches of a data set held as one tensor, ideally already on the GPU.

    The whole set is moved to ``device`` once. Each call to ``iter()`` draws a
    fresh order with ``torch.randperm`` from torch's *global* CPU generator (so
    ``torch.manual_seed`` / ``torch.set_rng_state`` reproduce the epoch order,
    which makes exact resume possible), moves the index to the device, and
    yields ``images.index_select(0, idx)`` batches. Images keep their dtype
    (``uint8`` stays ``uint8``; convert on the device).

    The permutation is drawn when ``iter()`` is called, not at the first batch.

    Args:
        images: ``N x C x H x W`` tensor (``uint8`` or floating point).
        labels: Optional tensor with ``N`` rows; batches are then
            ``(images, labels)`` tuples.
        batch_size: Samples per batch (per rank after :meth:`shard`).
        shuffle: Draw a new random order each epoch; otherwise keep index order
            (and consume no random numbers).
        drop_last: Drop the last, smaller batch.
        device: Where to keep the data; ``None`` keeps the tensors where they are.

    Raises:
        DataError: If an argument is invalid.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise DataError(
                f"InMemoryLoader: images must be a 4-D tensor N x C x H x W, got {got}. "
                f"Add a channel axis with images.unsqueeze(1) for N x H x W data."
            )
        n = int(images.shape[0])
        if labels is not None:
            if not isinstance(labels, torch.Tensor) or labels.dim() == 0:
                raise DataError(f"InMemoryLoader: labels must be a tensor with N rows, got {labels!r:.80}.")
            if int(labels.shape[0]) != n:
                raise DataError(
                    f"InMemoryLoader: {n} images but {int(labels.shape[0])} labels; "
                    f"pass one label per image."
                )
        super().__init__(n, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
        if device is not None:
            images = images.to(torch.device(device))
        if labels is not None:
            labels = labels.to(images.device)  # index_select needs both on one device
        self._images = images
        self._labels = labels

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_image_set(cls, image_set: ImageSet, **kwargs: Any) -> InMemoryLoader:
        """Build a loader over an :class:`ImageSet` (with its labels, if any).

        Args:
            image_set: The data.
            **kwargs: ``batch_size``, ``shuffle``, ``drop_last``, ``device``.

        Returns:
            The loader.

        Raises:
            DataError: ``image_set`` is not in memory (a :class:`StreamedImageSet`).
        """
        if not isinstance(image_set, ImageSet):
            raise DataError(
                f"InMemoryLoader.from_image_set needs an ImageSet, got {type(image_set).__name__} "
                f"{getattr(image_set, 'name', '')!r}. A set streamed from disk is served by "
                f"StreamingLoader (make_loader picks the right loader), or .load() a part of it "
                f"into memory first."
            )
        return cls(image_set.images, image_set.labels, **kwargs)

    def to(self, device: str | torch.device) -> InMemoryLoader:
        """Return a loader with the data on ``device`` (``self`` if already there)."""
        device = torch.device(device)
        if device.type == self.device.type and (device.index is None or device == self.device):
            return self
        labels = None if self._labels is None else self._labels.to(device)
        return self._replace(images=self._images.to(device), labels=labels)

    # ----------------------------------------------------------------- properties

    @property
    def images(self) -> torch.Tensor:
        """All images (not sharded)."""
        return self._images

    @property
    def labels(self) -> torch.Tensor | None:
        """All labels (not sharded), or ``None``."""
        return self._labels

    @property
    def device(self) -> torch.device:
        """The device holding the data."""
        return self._images.device

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape ``(C, H, W)`` of one image."""
        c, h, w = self._images.shape[1:]
        return (int(c), int(h), int(w))

    # ----------------------------------------------------------------- iteration

    def _batches(self, order: torch.Tensor) -> Iterator[RawBatch]:
        images, labels = self._images, self._labels
        chunks = order.to(images.device).split(self._batch_size)
        if labels is None:
            for idx in chunks:
                yield images.index_select(0, idx)
        else:
            for idx in chunks:
                yield images.index_select(0, idx), labels.index_select(0, idx)

    def __repr__(self) -> str:
        shard = f", rank={self._rank}/{self._world_size}" if self._world_size > 1 else ""
        return (
            f"InMemoryLoader({self.dataset_size} x {self.image_shape} {self._images.dtype} on "
            f"{self.device}, batch_size={self._batch_size}, shuffle={self._shuffle}, "
            f"drop_last={self._drop_last}, labels={self._labels is not None}{shard}, "
            f"{len(self)} batches)"
        )
