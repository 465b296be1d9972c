"""A loader for data sets read from disk batch by batch (:class:`StreamedImageSet`)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from genzoo.data.batching import BatchLoader, RawBatch
from genzoo.data.errors import DataError
from genzoo.data.streamed import StreamedImageSet

__all__ = ["StreamingLoader"]


def _default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 1) - 1))


class StreamingLoader(BatchLoader):
    """Batches of a :class:`StreamedImageSet`, decoded from disk as they are needed.

    It behaves exactly as :class:`InMemoryLoader` over the same images would: the same epoch
    order from torch's global generator (drawn at ``iter()``), the same batches, the same
    :meth:`shard` split, the same ``len()``, so exact resume works the same way. The batches
    are decoded by ``workers`` threads a few batches ahead of the one being trained on (image
    decoding and resizing release Python's lock), then moved to ``device``.

    The iterator also has ``skip(n)``, which the runner calls to resume mid-epoch: it moves
    past ``n`` batches without decoding them.

    Args:
        images: The data set.
        batch_size: Samples per batch (per rank after :meth:`shard`).
        shuffle: Draw a new random order each epoch.
        drop_last: Drop the last, smaller batch.
        device: Where to put the batches (default: stay on the CPU).
        workers: Decoding threads; ``0`` decodes in the calling thread, one batch at a time.
            Default: one less than the CPU count, at most 4.
        prefetch: Batches decoded ahead per worker.

    Raises:
        DataError: If an argument is invalid.
    """

    def __init__(self, images: StreamedImageSet, *, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, device: str | torch.device | None = None,
                 workers: int | None = None, prefetch: int = 2) -> None:
        if not isinstance(images, StreamedImageSet):
            raise DataError(f"StreamingLoader reads a StreamedImageSet, got {type(images).__name__}; "
                            f"use InMemoryLoader for data held in memory.")
        workers = _default_workers() if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise DataError(f"StreamingLoader: workers must be an int >= 0, got {workers!r}.")
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
            raise DataError(f"StreamingLoader: prefetch must be an int >= 1, got {prefetch!r}.")
        super().__init__(len(images), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
        self._set = images
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        self._workers = workers
        self._prefetch = prefetch

    @classmethod
    def from_image_set(cls, image_set: StreamedImageSet, **kwargs: Any) -> StreamingLoader:
        """Same as the constructor (so both loaders are built alike)."""
        return cls(image_set, **kwargs)

    def to(self, device: str | torch.device) -> StreamingLoader:
        """Return a loader that puts its batches on ``device``."""
        return self._replace(device=torch.device(device))

    @property
    def image_set(self) -> StreamedImageSet:
        """The data set."""
        return self._set

    @property
    def labels(self) -> torch.Tensor | None:
        """All labels (not sharded), or ``None``."""
        return self._set.labels

    @property
    def device(self) -> torch.device:
        """Where the batches are put."""
        return self._device

    @property
    def workers(self) -> int:
        """Decoding threads (``0``: decode in the calling thread)."""
        return self._workers

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape ``(C, H, W)`` of one image."""
        return self._set.image_shape

    def _batches(self, order: torch.Tensor) -> Iterator[RawBatch]:
        return _Stream(self, order.split(self._batch_size))

    def __repr__(self) -> str:
        shard = f", rank={self._rank}/{self._world_size}" if self._world_size > 1 else ""
        return (
            f"StreamingLoader({self.dataset_size} x {self.image_shape} uint8 from "
            f"{self._set.source or self._set.name} to {self.device}, batch_size={self._batch_size}, "
            f"shuffle={self._shuffle}, drop_last={self._drop_last}, labels={self.labels is not None}, "
            f"workers={self._workers}{shard}, {len(self)} batches)"
        )


class _Stream(Iterator[RawBatch]):
    """One epoch of a :class:`StreamingLoader`: decodes ahead in threads; ``skip`` decodes nothing."""

    def __init__(self, loader: StreamingLoader, chunks: tuple[torch.Tensor, ...]) -> None:
        self._set = loader.image_set
        self._labels = self._set.labels
        self._device = loader.device
        self._chunks = chunks
        self._next = 0  # the batch __next__ returns next
        self._ahead: deque[Future[torch.Tensor]] = deque()  # decoding batches _next, _next + 1, ...
        self._pool = (ThreadPoolExecutor(loader.workers, thread_name_prefix="genzoo-decode")
                      if loader.workers else None)
        self._depth = loader.workers * loader._prefetch

    def skip(self, n: int) -> int:
        """Move past up to ``n`` batches without decoding them; return how many were skipped."""
        skipped = max(0, min(n, len(self._chunks) - self._next))
        self._cancel()
        self._next += skipped
        return skipped

    def __next__(self) -> RawBatch:
        if self._next >= len(self._chunks):
            self.close()
            raise StopIteration
        idx = self._chunks[self._next]
        if self._pool is None:
            images = self._read(idx)
        else:
            while len(self._ahead) < self._depth and self._next + len(self._ahead) < len(self._chunks):
                self._ahead.append(self._pool.submit(self._read, self._chunks[self._next + len(self._ahead)]))
            try:
                images = self._ahead.popleft().result()
            except BaseException:
                self.close()
                raise
        self._next += 1
        images = self._to_device(images)
        if self._labels is None:
            return images
        return images, self._to_device(self._labels.index_select(0, idx))

    def _read(self, idx: torch.Tensor) -> torch.Tensor:
        images = self._set.read(idx)
        # page-locked in the decoding thread, so the copy to the GPU can overlap the step
        return images.pin_memory() if self._device.type == "cuda" else images

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        if self._device.type == "cpu":
            return t
        return t.to(self._device, non_blocking=t.is_pinned())

    def _cancel(self) -> None:
        while self._ahead:
            self._ahead.pop().cancel()  # one already running finishes; its result is dropped

    def close(self) -> None:
        """Stop decoding ahead and release the threads."""
        self._cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __del__(self) -> None:
        self.close()
