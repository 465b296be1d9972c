"""Checkpoints of sharded (FSDP) runs, through :mod:`torch.distributed.checkpoint` (DCP).

A sharded run keeps two things in ``checkpoints/``:

* ``sharded/step_<N>/``: DCP's files, the weights and every optimizer's state, each rank
  writing its own shards (the run folder must be on storage every node sees);
* ``last.pt``: the consolidated checkpoint rank 0 writes after them: the whole weights (so
  :func:`genzoo.load` and ``genzoo sample`` read it in one process), the counters and random
  states, and the name of the DCP folder that holds the optimizer states.

``last.pt`` is written last and atomically, and older DCP folders are removed only after it, so
a crash at any moment leaves a ``last.pt`` whose folder is complete.

State is keyed by parameter names (DCP's ``state_dict`` helpers), not by position, so a sharded
checkpoint loads into any number of processes, sharded or not, and a checkpoint of a run in one
process (or under DDP) loads into a sharded run.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError

__all__ = ["SHARDED_FOLDER", "save_sharded", "remove_older", "load_sharded",
           "load_full_into_sharded"]

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
