"""Resuming a run: find its checkpoint, check it fits the model, restore every state."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoint import read_checkpoint
from ..errors import CheckpointError, ConfigError
from ..sampling import sampling_fields
from .options import RunOptions
from .rng import restore_rng
from .step import Step

__all__ = ["LAST_CHECKPOINT", "ResumePoint", "find_resume", "restore"]

#: Where in the run folder the runner keeps the latest checkpoint.
LAST_CHECKPOINT = Path("checkpoints") / "last.pt"


@dataclass(frozen=True)
class ResumePoint:
    """Where a restored run continues.

    Attributes:
        epoch: Epochs completed.
        batch: Batches of the next epoch already trained on (a mid-epoch checkpoint).
        epoch_rng: The random states at the start of that epoch (to redraw its order), if mid-epoch.
        noise: Every rank's noise stream, when the run had as many processes as this one.
    """

    epoch: int
    batch: int
    epoch_rng: dict[str, Any] | None
    noise: list[Any] | None = None


def find_resume(model: Any, opts: RunOptions) -> tuple[dict[str, Any], Path] | None:
    """The checkpoint ``opts.resume`` names, read and checked against ``model``'s config.

    Returns:
        The checkpoint's payload and path, or ``None`` when there is nothing to resume.

    Raises:
        ConfigError: ``resume="auto"`` without a run folder.
        CheckpointError: the checkpoint is unreadable, of another model or of another config.
    """
    resume = opts.resume
    if resume is None:
        return None
    if resume == "auto":
        if opts.out is None:
            raise ConfigError("resume='auto' needs out= (the run folder to resume in)")
        path = Path(opts.out) / LAST_CHECKPOINT
        if not path.exists():
            return None
    else:
        path = Path(resume)
    name = getattr(model, "registry_name", "") or None
    payload = read_checkpoint(path, model=name, map_location="cpu")
    mine = model.config_dict() if hasattr(model, "config_dict") else payload["config"]
    free = sampling_fields(getattr(model, "config", None))  # they do not change training
    differ = sorted(k for k in set(mine) | set(payload["config"])
                    if k not in free and mine.get(k) != _plain(payload["config"].get(k)))
    if differ:
        detail = ", ".join(f"{k}: checkpoint {payload['config'].get(k)!r}, model {mine.get(k)!r}"
                           for k in differ)
        raise CheckpointError(
            f"cannot resume from {path}: the model's config differs ({detail}); build the "
            "model with the checkpoint's config, e.g. genzoo.load(path), to continue it"
        )
    return payload, path


def restore(model: Any, payload: dict[str, Any], path: Path, step: Step) -> ResumePoint:
    """Load the weights, optimizer and scaler states, counters and random states of ``payload``.

    A checkpoint of a sharded run loads its weights and optimizer states from its DCP folder,
    into any number of processes; a whole checkpoint loads into a sharded run too. When the
    number of processes differs from the checkpoint's, a warning says what is then exact.

    Raises:
        CheckpointError: the weights or optimizers do not fit the model.
    """
    parallel = step.parallel
    if payload.get("sharded"):
        from .sharded import load_sharded

        load_sharded(path, payload["sharded"], model, step.optimizers)
    else:
        saved = payload.get("optimizers") or {}
        if set(saved) != set(step.optimizers):
            raise CheckpointError(
                f"{path} has optimizers {sorted(saved)} but the model makes {sorted(step.optimizers)}; "
                "it was not written by the runner for this model (a save() file holds weights only)"
            )
        try:
            if parallel.sharded:
                from .sharded import load_full_into_sharded

                load_full_into_sharded(model, step.optimizers, payload["state_dict"], saved)
            else:
                model.load_state_dict(payload["state_dict"])
                for name, opt in step.optimizers.items():
                    opt.load_state_dict(saved[name])
        except (RuntimeError, KeyError, ValueError) as err:
            raise CheckpointError(f"the weights in {path} do not fit this model: {err}") from err
    if step.scaler is not None and payload.get("scaler"):
        step.scaler.load_state_dict(payload["scaler"])
    step.index = int(payload["step"])
    restore_rng(payload["rng"])
    batch = int(payload.get("batch_in_epoch", 0))
    saved_size, size = int(payload.get("world_size", 1)), parallel.world.size
    if saved_size != size:
        batch = batch * saved_size // size  # the same share of the epoch's order, in all
        if parallel.world.is_main:
            warnings.warn(world_size_change(path, saved_size, size), stacklevel=5)
    noise = payload["rng"].get("noise") if saved_size == size else None
    return ResumePoint(int(payload["epoch"]), batch, payload.get("rng_epoch_start"), noise)


def world_size_change(path: Path, saved: int, now: int) -> str:
    """What a resume in another number of processes restores exactly, and what it does not."""
    return (
        f"{path} was written by a run in {saved} process(es) and resumes in {now}: the weights, "
        "the optimizer states, the counters and the data order of the current epoch are "
        "restored exactly, but each step now averages over "
        f"{now} process batch(es) instead of {saved}, and the random noise of each process and "
        "the batch-norm statistics differ, so the run does not repeat an uninterrupted one bit "
        "for bit (an interrupted epoch goes on from the same point of its order, to within "
        "one batch per process)"
    )


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
