"""What every genzoo loader shares: the epoch order, batching, sharding and length."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from genzoo.data.errors import DataError

__all__ = ["BatchLoader"]

#: What a loader yields: a tensor of images, or an ``(images, labels)`` tuple; the runner turns
#: it into a :class:`genzoo.Batch` (:func:`genzoo.batches.to_batch`).
RawBatch = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class BatchLoader:
    """The loader interface of :class:`InMemoryLoader` and :class:`StreamingLoader`.

    Each call to ``iter()`` draws the epoch's order with ``torch.randperm`` from torch's
    *global* CPU generator (so ``torch.manual_seed`` / ``torch.set_rng_state`` reproduce it,
    which makes exact resume possible), then yields batches of ``batch_size`` images (and
    labels, when the data have them). Without ``shuffle`` the order is the index order and no
    random numbers are consumed. The order is drawn when ``iter()`` is called, not at the
    first batch. A subclass stores the data and implements :meth:`_batches`.

    Args:
        size: Number of samples in the whole data set.
        batch_size: Samples per batch (per rank after :meth:`shard`).
        shuffle: Draw a new random order each epoch.
        drop_last: Drop the last, smaller batch.

    Raises:
        DataError: If an argument is invalid.
    """

    def __init__(self, size: int, *, batch_size: int, shuffle: bool, drop_last: bool) -> None:
        if size == 0:
            raise DataError(f"{type(self).__name__}: the data set is empty (0 images); load some data first.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"{type(self).__name__}: batch_size must be an int >= 1, got {batch_size!r}.")
        self._size = int(size)
        self._batch_size = batch_size
        self._shuffle = bool(shuffle)
        self._drop_last = bool(drop_last)
        self._rank = 0
        self._world_size = 1
        self._check_nonempty()

    def _replace(self, **changes: Any) -> Any:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for k, v in changes.items():
            setattr(new, f"_{k}", v)
        return new

    def shard(self, rank: int, world_size: int) -> Any:
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
            A new loader of the same kind sharing the same data.

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
                f"{type(self).__name__}: drop_last=True with {self.num_samples} samples per rank and "
                f"batch_size={self._batch_size} yields no batch. Use a smaller batch_size or "
                f"drop_last=False."
            )

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
        return self._size

    @property
    def num_samples(self) -> int:
        """Samples this loader visits per epoch (``N // world_size``; ``N`` unsharded)."""
        return self.dataset_size // self._world_size

    def __len__(self) -> int:
        """Number of batches per epoch."""
        m, b = self.num_samples, self._batch_size
        return m // b if self._drop_last else -(-m // b)

    def _epoch_index(self) -> torch.Tensor:
        """This epoch's sample indices for this rank (a CPU ``int64`` tensor)."""
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
        return order

    def __iter__(self) -> Iterator[RawBatch]:
        # Draw the order now (at iter()), not lazily at the first next().
        return self._batches(self._epoch_index())

    def _batches(self, order: torch.Tensor) -> Iterator[RawBatch]:
        """The epoch's batches, for this rank's sample indices ``order`` (on the CPU)."""
        raise NotImplementedError
