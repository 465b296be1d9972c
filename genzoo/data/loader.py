"""A fast loader for data sets that fit in (device) memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from genzoo.data.errors import DataError
from genzoo.data.image_set import ImageSet

__all__ = ["InMemoryLoader"]

Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class InMemoryLoader:
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
        if n == 0:
            raise DataError("InMemoryLoader: the data set is empty (0 images); load some data first.")
        if labels is not None:
            if not isinstance(labels, torch.Tensor) or labels.dim() == 0:
                raise DataError(f"InMemoryLoader: labels must be a tensor with N rows, got {labels!r:.80}.")
            if int(labels.shape[0]) != n:
                raise DataError(
                    f"InMemoryLoader: {n} images but {int(labels.shape[0])} labels; "
                    f"pass one label per image."
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"InMemoryLoader: batch_size must be an int >= 1, got {batch_size!r}.")

        if device is not None:
            images = images.to(torch.device(device))
        if labels is not None:
            labels = labels.to(images.device)  # index_select needs both on one device
        self._images = images
        self._labels = labels
        self._batch_size = batch_size
        self._shuffle = bool(shuffle)
        self._drop_last = bool(drop_last)
        self._rank = 0
        self._world_size = 1
        self._check_nonempty()

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_image_set(cls, image_set: ImageSet, **kwargs: Any) -> InMemoryLoader:
        """Build a loader over an :class:`ImageSet` (with its labels, if any).

        Args:
            image_set: The data.
            **kwargs: ``batch_size``, ``shuffle``, ``drop_last``, ``device``.

        Returns:
            The loader.
        """
        return cls(image_set.images, image_set.labels, **kwargs)

    def _replace(self, **changes: Any) -> InMemoryLoader:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for k, v in changes.items():
            setattr(new, f"_{k}", v)
        return new

    def to(self, device: str | torch.device) -> InMemoryLoader:
        """Return a loader with the data on ``device`` (``self`` if already there)."""
        device = torch.device(device)
        if device.type == self.device.type and (device.index is None or device == self.device):
            return self
        labels = None if self._labels is None else self._labels.to(device)
        return self._replace(images=self._images.to(device), labels=labels)

    def shard(self, rank: int, world_size: int) -> InMemoryLoader:
        """Return the loader for one rank of a data-parallel job.

        Every epoch, all ranks draw the same permutation (their global RNGs are
        seeded alike) and rank ``r`` takes the disjoint strided slice
        ``perm[r : m * world_size : world_size]`` with ``m = N // world_size``;
        the ``N % world_size`` left-over samples of that epoch are skipped. All
        ranks therefore yield the same number of batches of ``batch_size``
        (per rank) and stay in step.

        Args:
            rank: This process's rank, ``0 <= rank < world_size``.
            world_size: Number of processes.

        Returns:
            A new loader sharing the same tensors.

        Raises:
            DataError: If the arguments are invalid, the loader is already
                sharded, or a rank would get no batch.
        """
        for arg, v in (("rank", rank), ("world_size", world_size)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise DataError(f"shard: {arg} must be an int, got {v!r}.")
        if world_size < 1 or not 0 <= rank < world_size:
            raise DataError(
                f"shard: need world_size >= 1 and 0 <= rank < world_size, got rank={rank}, "
                f"world_size={world_size}."
            )
        if self._world_size != 1:
            raise DataError("shard: this loader is already sharded; shard the original loader instead.")
        if self.dataset_size < world_size:
            raise DataError(
                f"shard: {self.dataset_size} samples cannot be split over {world_size} ranks; "
                f"use fewer ranks or more data."
            )
        new = self._replace(rank=rank, world_size=world_size)
        new._check_nonempty()
        return new

    def _check_nonempty(self) -> None:
        if len(self) == 0:
            raise DataError(
                f"InMemoryLoader: drop_last=True with {self.num_samples} samples per rank and "
                f"batch_size={self._batch_size} yields no batch. Use a smaller batch_size or "
                f"drop_last=False."
            )

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
    def batch_size(self) -> int:
        """Samples per batch (per rank)."""
        return self._batch_size

    @property
    def shuffle(self) -> bool:
        """Whether each epoch draws a new random order."""
        return self._shuffle

    @property
    def drop_last(self) -> bool:
        """Whether the last, smaller batch is dropped."""
        return self._drop_last

    @property
    def rank(self) -> int:
        """This loader's rank (0 when not sharded)."""
        return self._rank

    @property
    def world_size(self) -> int:
        """Number of shards (1 when not sharded)."""
        return self._world_size

    @property
    def dataset_size(self) -> int:
        """Number of samples in the whole data set."""
        return int(self._images.shape[0])

    @property
    def num_samples(self) -> int:
        """Samples this loader visits per epoch (``N // world_size``; ``N`` unsharded)."""
        return self.dataset_size // self._world_size

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape ``(C, H, W)`` of one image."""
        c, h, w = self._images.shape[1:]
        return (int(c), int(h), int(w))

    # ----------------------------------------------------------------- iteration

    def __len__(self) -> int:
        """Number of batches per epoch."""
        m, b = self.num_samples, self._batch_size
        return m // b if self._drop_last else -(-m // b)

    def _epoch_index(self) -> torch.Tensor:
        n = self.dataset_size
        if self._shuffle:
            order = torch.randperm(n, generator=None)  # global CPU RNG: reproducible, resumable
        else:
            order = torch.arange(n)
        if self._world_size > 1:
            m = self.num_samples
            order = order[self._rank : m * self._world_size : self._world_size]
        if self._drop_last:
            order = order[: len(self) * self._batch_size]
        return order.to(self.device)

    def __iter__(self) -> Iterator[Batch]:
        # Draw the order now (at iter()), not lazily at the first next().
        chunks = self._epoch_index().split(self._batch_size)
        return self._batches(chunks)

    def _batches(self, chunks: tuple[torch.Tensor, ...]) -> Iterator[Batch]:
        images, labels = self._images, self._labels
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
