"""Training in several processes under ``torchrun``: the process group and data sharding.

Each process (rank) runs the same ``fit``. Parameters start equal (broadcast from rank 0), each
rank trains on its own share of every epoch's batches, and the strategy's engine (DDP or FSDP,
see :mod:`.parallel`) averages gradients across ranks during backward, so the weights stay
identical everywhere. Rank 0 alone writes checkpoints, grids and logs.

Sharding works on any iterable that yields the same sequence on every rank (ranks share the
random state that decides the order): rank ``r`` takes batches ``r, r + size, ...`` and a last
incomplete round is dropped so that every rank takes the same number of steps. A loader with a
``shard(rank, size)`` method (such as :class:`genzoo.data.InMemoryLoader`) shards itself instead,
and a :class:`~torch.utils.data.DataLoader` over a map-style data set (with its own sampler,
shuffling or not) is rebuilt with a :class:`ShardSampler`, so that each rank loads only its own
samples, in :class:`~torch.utils.data.DistributedSampler`'s order.
Random draws made during training (a GAN's noise, a VAE's reparameterisation) use a separate
per-rank stream, so ranks do not draw the same noise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["World", "ShardSampler"]


@dataclass
class World:
    """This process's place among the training processes.

    Attributes:
        rank: This process's index.
        size: How many processes train together (1 without ``torchrun``).
        local_rank: The index on this machine, which picks the GPU.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    _owns_group: bool = False
    _device: torch.device = field(default_factory=lambda: torch.device("cpu"), repr=False)

    @classmethod
    def from_env(cls) -> World:
        """Read ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` as ``torchrun`` sets them."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        return cls(rank=int(os.environ.get("RANK", "0")), size=size,
                   local_rank=int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def is_main(self) -> bool:
        """Whether this process writes files (rank 0)."""
        return self.rank == 0

    def setup(self, device: torch.device) -> None:
        """Join the process group: NCCL on CUDA, gloo on the CPU."""
        self._device = device  # where collectives on the runner's own tensors run (NCCL: CUDA)
        if self.size <= 1:
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if dist.is_initialized():
            return
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        self._owns_group = True

    def teardown(self) -> None:
        """Leave the process group if :meth:`setup` joined it."""
        if self._owns_group and dist.is_initialized():
            try:
                dist.barrier()  # no rank leaves while another still talks to it
            finally:
                dist.destroy_process_group()
                self._owns_group = False

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank."""
        if self.size > 1:
            for tensor in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(tensor.data, src=0)

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Copy rank 0's buffers (batch-norm statistics) to every rank."""
        if self.size > 1:
            for tensor in module.buffers():
                dist.broadcast(tensor.data, src=0)

    def broadcast_object(self, obj: Any) -> Any:
        """Return rank 0's ``obj`` on every rank."""
        if self.size <= 1:
            return obj
        holder = [obj]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's ``tensor`` (the same shape on each), in rank order, on the CPU."""
        if self.size <= 1:
            return [tensor]
        local = tensor.to(self._device)
        gathered = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(gathered, local)
        return [t.cpu() for t in gathered]

    def all_true(self, flag: bool) -> bool:
        """Whether ``flag`` holds on every rank."""
        if self.size <= 1:
            return flag
        value = torch.tensor([1 if flag else 0], device=self._device)
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value.item())

    def shard(self, data: Iterable[Any]) -> Iterable[Any]:
        """This rank's share of ``data`` (``data`` itself in a single process)."""
        if self.size <= 1:
            return data
        if hasattr(data, "shard"):
            return data.shard(self.rank, self.size)
        sampled = _shard_data_loader(data, self.rank, self.size)
        if sampled is not None:
            return sampled
        if hasattr(data, "__len__"):
            return _SizedRoundRobin(data, self.rank, self.size)
        return _RoundRobin(data, self.rank, self.size)

    def split_random_streams(self, noise_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The shared data stream (rank 0's CPU state) and this rank's noise stream.

        The shared stream is broadcast from rank 0, so the ranks agree on the data order even
        when their random states differ (``torch.manual_seed(rank)``, or no ``seed=``). On CUDA
        this rank's generator is re-seeded too (a resumed checkpoint holds rank 0's state).
        """
        shared = torch.get_rng_state()
        if self.size <= 1:
            return shared, shared
        on_device = shared.to(self._device)
        dist.broadcast(on_device, src=0)
        shared = on_device.cpu()
        rank_seed = (noise_seed * 7919 + self.rank) % 2**63
        if self._device.type == "cuda":
            torch.cuda.manual_seed(rank_seed)
        noise = torch.Generator().manual_seed(rank_seed).get_state()
        return shared, noise


class ShardSampler(torch.utils.data.Sampler[int]):
    """:class:`~torch.utils.data.DistributedSampler`'s order, drawn from the global generator.

    Every epoch, rank ``r`` of ``size`` takes ``order[r : m * size : size]`` of one order of the
    ``n`` indices (``m = n // size``; the last ``n % size`` are left out, so every rank takes the
    same number): a permutation when ``shuffle``, else ``0 .. n-1``. The permutation comes from
    torch's global generator, which the runner sets to the stream all ranks share when an
    epoch's iteration starts, so the ranks agree, the order follows the seed, and a resumed run
    draws it again.

    Args:
        n: The data set's length.
        rank: This rank.
        size: How many ranks.
        shuffle: Draw a new permutation every epoch.
    """

    def __init__(self, n: int, rank: int, size: int, shuffle: bool) -> None:
        self.n, self.rank, self.size, self.shuffle = n, rank, size, shuffle

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.n) if self.shuffle else torch.arange(self.n)
        return iter(order[self.rank:len(self) * self.size:self.size].tolist())

    def __len__(self) -> int:
        return self.n // self.size


def _shard_data_loader(data: Any, rank: int, size: int) -> Any:
    """A DataLoader over a map-style data set, rebuilt to load only this rank's samples
    (:class:`ShardSampler`); ``None`` for anything else (a custom sampler, an iterable data set)."""
    from torch.utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler

    if (type(data) is not DataLoader or isinstance(data.dataset, IterableDataset)
            or data.batch_size is None or type(data.sampler) not in (RandomSampler, SequentialSampler)
            or (isinstance(data.sampler, RandomSampler) and data.sampler.replacement)):
        return None
    sampler = ShardSampler(len(data.dataset), rank, size, isinstance(data.sampler, RandomSampler))
    return DataLoader(
        data.dataset, batch_size=data.batch_size, sampler=sampler, num_workers=data.num_workers,
        collate_fn=data.collate_fn, pin_memory=data.pin_memory, drop_last=data.drop_last,
        timeout=data.timeout, worker_init_fn=data.worker_init_fn,
        multiprocessing_context=data.multiprocessing_context, generator=data.generator,
        prefetch_factor=data.prefetch_factor, persistent_workers=data.persistent_workers,
        pin_memory_device=data.pin_memory_device,
    )


class _RoundRobin:
    """Rank ``r``'s batches ``r, r + size, ...``, dropping a last incomplete round."""

    def __init__(self, data: Iterable[Any], rank: int, size: int) -> None:
        self.data, self.rank, self.size = data, rank, size

    def __iter__(self) -> Iterator[Any]:
        batches = iter(self.data)
        while True:
            round_ = []
            for _ in range(self.size):
                try:
                    round_.append(next(batches))
                except StopIteration:
                    return
            yield round_[self.rank]


class _SizedRoundRobin(_RoundRobin):
    """:class:`_RoundRobin` over data with a length (a data without one gets no ``__len__``)."""

    def __len__(self) -> int:
        return len(self.data) // self.size  # type: ignore[arg-type]
