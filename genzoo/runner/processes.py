"""Training in several processes under ``torchrun``: the process group, data sharding, the
DDP and FSDP2 engines, and the checkpoints of sharded runs.

**Processes.** Each process (rank) runs the same ``fit``. Parameters start equal (broadcast from
rank 0), each rank trains on its own share of every epoch's batches, and the strategy's engine
averages gradients across ranks during backward, so the weights stay identical everywhere.
Rank 0 alone writes checkpoints, grids and logs. Random draws made during training (a GAN's
noise, a VAE's reparameterisation) use a separate per-rank stream (see
:class:`genzoo.runner.state.RandomStreams`), so ranks do not draw the same noise.

**Sharding the data** works on any iterable that yields the same sequence on every rank (ranks
share the random state that decides the order): rank ``r`` takes batches ``r, r + size, ...``
and a last incomplete round is dropped so that every rank takes the same number of steps. A
loader with a ``shard(rank, size)`` method (such as :class:`genzoo.data.InMemoryLoader`) shards
itself instead, and a :class:`~torch.utils.data.DataLoader` over a map-style data set (with its
own sampler, shuffling or not) is rebuilt with a :class:`ShardSampler`, so that each rank loads
only its own samples, in :class:`~torch.utils.data.DistributedSampler`'s order.

**Engines.** ``strategy="ddp"`` (the default under ``torchrun``) gives each optimizer's
parameters their own :class:`~torch.nn.parallel.DistributedDataParallel` reducer: bucketed
all-reduces that start while backward still runs. The runner arms an optimizer's reducer on the
loss it is about to back-propagate (:meth:`Parallel.sync`), not on a module's forward: a model's
training step is free to call any of its submodules, or their layers one by one (a projection
discriminator does), to run a network for another optimizer's loss (a GAN's generator step goes
through the discriminator), or to leave modules unused; the model's code does not change.
Parameters that a loss does not reach are found by DDP's graph traversal and left alone.
``strategy="fsdp"`` shards every parameter, gradient and optimizer state across the ranks with
FSDP2 (:func:`torch.distributed.fsdp.fully_shard`), one unit per module that holds parameters
itself, so again any call pattern of the model's step works.

**Sharded checkpoints** go through :mod:`torch.distributed.checkpoint` (DCP). A sharded run keeps
two things in ``checkpoints/``:

* ``sharded/step_<N>/``: DCP's files, the weights and every optimizer's state, each rank
  writing its own shards (the run folder must be on storage every node sees);
* ``last.pt``: the consolidated checkpoint rank 0 writes after them: the whole weights (so
  :func:`genzoo.load` and ``genzoo sample`` read it in one process), the run state, and the
  name of the DCP folder that holds the optimizer states.

``last.pt`` is written last and atomically, and older DCP folders are removed only after it, so
a crash at any moment leaves a ``last.pt`` whose folder is complete. State is keyed by parameter
names (DCP's ``state_dict`` helpers), not by position, so a sharded checkpoint loads into any
number of processes, sharded or not, and a checkpoint of a run in one process (or under DDP)
loads into a sharded run.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..errors import CheckpointError, ConfigError, PrecisionError

__all__ = ["World", "ShardSampler", "STRATEGIES", "Parallel", "resolve_strategy",
           "SHARDED_FOLDER", "save_sharded", "remove_older", "load_sharded",
           "load_full_into_sharded"]


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


#: The values of :attr:`genzoo.RunOptions.strategy`.
STRATEGIES = ("auto", "ddp", "fsdp")


def resolve_strategy(name: str, world: World) -> str:
    """``"auto"`` → ``"ddp"`` under ``torchrun`` (and ``"none"`` in one process).

    In a single process every strategy trains the plain model (``"none"``), so that a run and
    its checkpoints are the same whatever the option says; asking for ``"ddp"`` or ``"fsdp"``
    there warns that it does nothing (a run meant for several processes started without
    ``torchrun``).

    Raises:
        ConfigError: ``name`` is not a strategy.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    if world.size <= 1:
        if name != "auto":
            warnings.warn(f"strategy={name!r} (--strategy {name}) shares training among processes "
                          "launched by torchrun, and this is one process: it trains the plain model; "
                          "launch it with torchrun --nproc-per-node N to train in N processes",
                          stacklevel=5)  # the caller of model.fit
        return "none"
    return "ddp" if name == "auto" else name


class _Gradients(nn.Module):
    """One optimizer's parameters as a module DDP can own; its forward passes the loss through.

    Calling the DDP wrapper on the loss is what arms DDP's reducer for the backward that
    follows (finding the parameters the loss does not reach), exactly as a forward pass would.
    """

    def __init__(self, params: list[nn.Parameter]) -> None:
        super().__init__()
        self.params = nn.ParameterList(params)

    def forward(self, loss: torch.Tensor) -> torch.Tensor:
        return loss


class Parallel:
    """How a run spreads over its processes: the strategy's engine for one model.

    Args:
        strategy: ``"none"``, ``"ddp"`` or ``"fsdp"`` (see :func:`resolve_strategy`).
        world: The processes.
        device: The training device.
    """

    def __init__(self, strategy: str, world: World, device: torch.device) -> None:
        self.strategy = strategy
        self.world = world
        self.device = device
        self._reducers: dict[str, nn.Module] = {}

    @property
    def sharded(self) -> bool:
        """Whether parameters are sharded across ranks (FSDP)."""
        return self.strategy == "fsdp"

    def check_precision(self, precision: str) -> None:
        """Refuse float16 with FSDP: its gradient scaler would judge each rank's shards alone.

        Raises:
            PrecisionError: ``precision="16"`` with ``strategy="fsdp"``.
        """
        if self.sharded and precision == "16":
            raise PrecisionError(
                "precision='16' is not supported with strategy='fsdp' (the gradient scaler would "
                "decide on each rank's shard of the gradients alone); use precision='bf16', "
                "which needs no scaler, or strategy='ddp'"
            )

    def prepare_model(self, model: nn.Module) -> None:
        """Before the optimizers are made: give every rank rank 0's weights; shard for FSDP.

        Raises:
            ConfigError: for FSDP, the model holds parameters on itself rather than in a
                submodule (no forward pass of a submodule would gather them).
        """
        self.world.broadcast_module(model)
        if self.sharded:
            _fully_shard_by_module(model, self.world, self.device)

    def prepare_optimizers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        """For DDP, one reducer per optimizer over its trainable parameters."""
        if self.strategy != "ddp":
            return
        from torch.nn.parallel import DistributedDataParallel

        for name, opt in optimizers.items():
            params = [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
            if not params:
                continue
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*find_unused_parameters.*")
                self._reducers[name] = DistributedDataParallel(
                    _Gradients(params),
                    device_ids=[self.device.index] if self.device.type == "cuda" else None,
                    broadcast_buffers=False, find_unused_parameters=True,
                )

    def sync(self, optimizer: str, loss: torch.Tensor) -> torch.Tensor:
        """``loss``, routed so that its backward averages the optimizer's gradients (DDP)."""
        reducer = self._reducers.get(optimizer)
        return loss if reducer is None else reducer(loss)


def _fully_shard_by_module(model: nn.Module, world: World, device: torch.device) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    own = [name for name, _ in model.named_parameters(recurse=False)]
    if own:
        raise ConfigError(
            f"strategy='fsdp' shards a model module by module, but {type(model).__name__} holds "
            f"parameters itself ({', '.join(own)}); move them into a submodule, or use "
            "strategy='ddp'"
        )
    mesh = init_device_mesh(device.type, (world.size,))
    holders = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    for module in holders:
        fully_shard(module, mesh=mesh, reshard_after_forward=True)


#: Where in the run folder sharded checkpoints are kept.
SHARDED_FOLDER = Path("checkpoints") / "sharded"


def save_sharded(out: Path, step_index: int, model: nn.Module,
                 optimizers: Mapping[str, torch.optim.Optimizer],
                 rank: int) -> tuple[str, dict[str, torch.Tensor]]:
    """Every rank writes its shards of the weights and optimizer states; then the whole
    weights are gathered on rank 0's CPU. Collectives: every rank calls it.

    Returns:
        The DCP folder, relative to ``out/checkpoints``, for ``last.pt`` to name; and the whole
        weights and buffers (``{}`` on ranks other than 0).
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    folder = out / SHARDED_FOLDER / f"step_{step_index:09d}"
    dcp.save(_state(model, optimizers), checkpoint_id=folder)
    whole = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                 cpu_offload=True))
    return str(folder.relative_to(out / "checkpoints")), whole if rank == 0 else {}


def remove_older(out: Path, keep: str | None) -> None:
    """Delete the DCP folders other than ``keep`` (run by rank 0 after ``last.pt`` is written)."""
    kept = (out / "checkpoints" / keep).resolve() if keep else None
    for folder in (out / SHARDED_FOLDER).glob("step_*"):
        if folder.resolve() != kept:
            shutil.rmtree(folder, ignore_errors=True)


def load_sharded(checkpoint: Path, folder: str, model: nn.Module,
                 optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
    """Load a DCP checkpoint into ``model`` and ``optimizers``, however they are sharded now.

    Works in any number of processes, with or without FSDP (DCP reshards on load).

    Raises:
        CheckpointError: the folder ``last.pt`` names is missing or does not fit the model.
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    path = checkpoint.parent / folder
    if not (path / ".metadata").is_file():
        raise CheckpointError(
            f"{checkpoint} keeps its weights and optimizer states in {path}, which is missing or "
            "incomplete; the run folder must be copied whole (on every node)"
        )
    state = _state(model, optimizers)
    try:
        with warnings.catch_warnings():  # loading in one process is meant, not a mistake
            warnings.filterwarnings("ignore", message=".*assuming the intent is to load in a single process.*")
            dcp.load(state, checkpoint_id=path)
    except Exception as err:  # DCP raises CheckpointException, RuntimeError, KeyError...
        raise CheckpointError(f"the sharded checkpoint {path} does not fit this model: "
                              f"{str(err).strip().splitlines()[0] if str(err).strip() else err!r}") from err
    set_model_state_dict(model, state["model"])
    for name, opt in optimizers.items():
        set_optimizer_state_dict(model, opt, state["optimizers"][name])


def load_full_into_sharded(model: nn.Module, optimizers: Mapping[str, torch.optim.Optimizer],
                           state_dict: dict[str, torch.Tensor],
                           optimizer_states: Mapping[str, dict[str, Any]]) -> None:
    """Load a whole checkpoint (of one process or DDP) into a sharded model: each rank keeps its
    shards. ``optimizer_states`` are ``Optimizer.state_dict()``'s, keyed by position."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    whole = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, state_dict, options=whole)
    names = {id(p): n for n, p in model.named_parameters()}
    for name, opt in optimizers.items():
        saved = optimizer_states[name]
        order = [names[id(p)] for group in opt.param_groups for p in group["params"]]
        keyed = {
            "state": {order[i]: value for i, value in saved["state"].items()},
            "param_groups": [{**group, "params": [order[i] for i in group["params"]]}
                             for group in saved["param_groups"]],
        }
        set_optimizer_state_dict(model, opt, keyed, options=whole)


def _state(model: nn.Module, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    return {"model": get_model_state_dict(model),
            "optimizers": {name: get_optimizer_state_dict(model, opt)
                           for name, opt in optimizers.items()}}
