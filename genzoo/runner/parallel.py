"""Data-parallel training on torch's own engines: DDP and FSDP2.

``strategy="ddp"`` (the default under ``torchrun``) gives each optimizer's parameters their own
:class:`~torch.nn.parallel.DistributedDataParallel` reducer: bucketed all-reduces that start
while backward still runs. The runner arms an optimizer's reducer on the loss it is about to
back-propagate (:meth:`Parallel.sync`), not on a module's forward: a model's training step is
free to call any of its submodules, or their layers one by one (a projection discriminator
does), to run a network for another optimizer's loss (a GAN's generator step goes through the
discriminator), or to leave modules unused; the model's code does not change. Parameters that a
loss does not reach are found by DDP's graph traversal and left alone.

``strategy="fsdp"`` shards every parameter, gradient and optimizer state across the ranks with
FSDP2 (:func:`torch.distributed.fsdp.fully_shard`), one unit per module that holds parameters
itself, so again any call pattern of the model's step works. Its checkpoints go through
:mod:`torch.distributed.checkpoint` (see :mod:`.sharded`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
import torch
from torch import nn

from ..errors import ConfigError, PrecisionError
from .distributed import World

__all__ = ["STRATEGIES", "Parallel", "resolve_strategy"]

#: The values of :attr:`genzoo.RunOptions.strategy`.
STRATEGIES = ("auto", "ddp", "fsdp")


def resolve_strategy(name: str, world: World) -> str:
    """``"auto"`` → ``"ddp"`` under ``torchrun`` (and ``"none"`` in one process).

    In a single process every strategy trains the plain model (``"none"``), so that a run and
    its checkpoints are the same whatever the option says.

    Raises:
        ConfigError: ``name`` is not a strategy.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    if world.size <= 1:
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
