"""The run state: where a run stands and every state it needs to go on exactly, written to each
checkpoint by :func:`save_checkpoint` and read back by :func:`read_checkpoint_state`.

A run checkpoint is the model's part (:func:`genzoo.checkpoint.model_payload`: name, config,
weights, versions) plus a :class:`RunState`. This module also owns what makes a resume exact:
the random states (:func:`capture_rng`, :func:`restore_rng`), the random streams of several
processes (:class:`RandomStreams`), and the record of what fixes the data order
(:func:`describe_data_order`, checked on resume by :func:`check_data_order`).

Exact resume replays the interrupted epoch's batch order from the saved random states. That only
holds for the same data, cut into the same batches, drawn the same way, by as many processes; a
resume that changes one of these would train on another order without a word, so the runner
refuses it, naming each difference.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import (LAST_CHECKPOINT, last_checkpoint, model_payload, read_checkpoint,
                          write_checkpoint)
from ..config import saved_config
from ..errors import CheckpointError, ConfigError
from ..sampling import sampling_fields
from .options import RunOptions
from .processes import World

__all__ = ["LAST_CHECKPOINT", "RunState", "save_checkpoint", "read_checkpoint_state",
           "find_resume", "restore", "seed_everything", "capture_rng", "restore_rng",
           "RandomStreams", "skip_batches", "describe_data_order", "check_data_order",
           "fingerprint"]


@dataclass
class RunState:
    """The runner's part of a checkpoint: where the run stands, and the states it goes on from.

    Its fields are the checkpoint's entries of the same names (so a checkpoint written before
    this class existed reads back the same; entries it lacks take the defaults).

    Attributes:
        epoch: Epochs completed.
        step: Training steps taken (optimizer iterations).
        batch_in_epoch: Batches of the next epoch already trained on (a checkpoint written
            mid-epoch; 0 at an epoch's end).
        rng: Every random state when it was written (:func:`capture_rng`); in several processes
            the shared stream a resume restarts from and every rank's ``noise`` stream.
        rng_epoch_start: The random states at the start of the interrupted epoch, to redraw its
            order (mid-epoch only).
        optimizers: Each optimizer's ``state_dict`` by name (``None`` when a sharded run keeps
            them in its DCP folder).
        scaler: The float16 gradient scaler's state (``None`` without one).
        schedules: The learning-rate schedulers' states.
        ema: The weight EMA's decay, update count and averaged weights (``None`` without one).
        metrics: The last epoch's metrics.
        data_order: What fixes the data order (:func:`describe_data_order`).
        world_size: How many processes trained.
        strategy: ``"none"``, ``"ddp"`` or ``"fsdp"``.
        sharded: A sharded run's DCP folder (weights and optimizer states), else ``None``.
        run: The run options (:class:`~genzoo.RunOptions` as a dict), ``precision`` as it
            resolved (``"auto"`` never: a resume goes on in the precision recorded here).
        teacher: A student's teacher (:meth:`genzoo.teacher.Teacher.record`: its source, the
            SHA-256 of its weights and its model name), never its weights; ``None`` without one.
    """

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    rng: dict[str, Any] = field(default_factory=dict)
    rng_epoch_start: dict[str, Any] | None = None
    optimizers: dict[str, Any] | None = None
    scaler: dict[str, Any] | None = None
    schedules: dict[str, Any] | None = None
    ema: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    data_order: dict[str, Any] | None = None
    world_size: int = 1
    strategy: str = "none"
    sharded: str | None = None
    run: dict[str, Any] = field(default_factory=dict)
    teacher: dict[str, Any] | None = None

    @classmethod
    def from_checkpoint(cls, payload: Mapping[str, Any]) -> RunState:
        """The run state in a checkpoint's ``payload`` (a ``save()`` file has none: defaults)."""
        values = {f.name: payload[f.name] for f in dataclasses.fields(cls)
                  if payload.get(f.name) is not None}
        for name in ("epoch", "step", "batch_in_epoch", "world_size"):
            if name in values:
                values[name] = int(values[name])
        return cls(**values)


def save_checkpoint(path: Path, model: Any, state: RunState,
                    weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a run checkpoint atomically: the model's payload and ``state``.

    Args:
        path: The file (the run folder's :data:`LAST_CHECKPOINT`).
        model: The model being trained.
        state: Where the run stands.
        weights: The whole weights, when the model's own are sharded.
    """
    payload = model_payload(model, weights)
    payload.update((f.name, getattr(state, f.name)) for f in dataclasses.fields(state))
    return write_checkpoint(payload, path)


def read_checkpoint_state(path: Path, model: Any) -> tuple[RunState, dict[str, torch.Tensor]]:
    """Read a run checkpoint for ``model``: its run state and its weights.

    Raises:
        CheckpointError: the checkpoint is unreadable, of another model or of another config
            (sampling options aside: they do not change training).
    """
    name = getattr(model, "registry_name", "") or None
    payload = read_checkpoint(path, model=name, map_location="cpu")
    saved = saved_config(type(getattr(model, "config", None)), payload["config"])
    mine = model.config_dict() if hasattr(model, "config_dict") else saved
    free = sampling_fields(getattr(model, "config", None))
    differ = sorted(k for k in set(mine) | set(saved)
                    if k not in free and mine.get(k) != _plain(saved.get(k)))
    if differ:
        detail = ", ".join(f"{k}: checkpoint {saved.get(k)!r}, model {mine.get(k)!r}"
                           for k in differ)
        raise CheckpointError(
            f"cannot resume from {path}: the model's config differs ({detail}); build the "
            "model with the checkpoint's config, e.g. genzoo.load(path), to continue it"
        )
    return RunState.from_checkpoint(payload), payload["state_dict"]


def find_resume(model: Any, opts: RunOptions) -> tuple[RunState, dict[str, torch.Tensor], Path] | None:
    """The checkpoint ``opts.resume`` names, read and checked against ``model``'s config.

    Returns:
        Its run state, its weights and its path; ``None`` when there is nothing to resume.

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
        path = last_checkpoint(Path(resume)) or Path(resume)  # a run folder: its last checkpoint
    state, weights = read_checkpoint_state(path, model)
    return state, weights, path


def restore(model: Any, state: RunState, weights: dict[str, torch.Tensor], path: Path,
            step: Any) -> RunState:
    """Load the weights, optimizer and scaler states, step counter and random states.

    A checkpoint of a sharded run loads its weights and optimizer states from its DCP folder,
    into any number of processes; a whole checkpoint loads into a sharded run too. When the
    number of processes differs from the checkpoint's, a warning says what is then exact.

    Args:
        model: The model, on its device and prepared for the strategy.
        state: The checkpoint's run state.
        weights: The checkpoint's weights.
        path: The checkpoint (for messages, and the DCP folder beside it).
        step: The run's :class:`~genzoo.runner.Step` (its optimizers, scaler and counter).

    Returns:
        Where the run continues: ``state`` with ``batch_in_epoch`` counted in this run's
        processes, and its ``noise`` streams only when there are as many processes as before.

    Raises:
        CheckpointError: the weights or optimizers do not fit the model.
    """
    parallel = step.parallel
    if state.sharded:
        from .processes import load_sharded

        load_sharded(path, state.sharded, model, step.optimizers)
    else:
        saved = state.optimizers or {}
        if set(saved) != set(step.optimizers):
            raise CheckpointError(
                f"{path} has optimizers {sorted(saved)} but the model makes {sorted(step.optimizers)}; "
                "it was not written by the runner for this model (a save() file holds weights only)"
            )
        try:
            if parallel.sharded:
                from .processes import load_full_into_sharded

                load_full_into_sharded(model, step.optimizers, weights, saved)
            else:
                model.load_state_dict(weights)
                for name, opt in step.optimizers.items():
                    opt.load_state_dict(saved[name])
        except (RuntimeError, KeyError, ValueError) as err:
            raise CheckpointError(f"the weights in {path} do not fit this model: {err}") from err
    if step.scaler is not None and state.scaler:
        step.scaler.load_state_dict(state.scaler)
    step.index = state.step
    restore_rng(state.rng)
    batch, size = state.batch_in_epoch, parallel.world.size
    rng = state.rng
    if state.world_size != size:
        batch = batch * state.world_size // size  # the same share of the epoch's order, in all
        rng = {k: v for k, v in rng.items() if k != "noise"}
        if parallel.world.is_main:
            warnings.warn(world_size_change(path, state.world_size, size), stacklevel=5)
    return dataclasses.replace(state, batch_in_epoch=batch, rng=rng)


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


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every GPU) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """Every global random state, as tensors and plain values (safe for ``weights_only``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the random states :func:`capture_rng` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32),
                         np_state["pos"], np_state["has_gauss"], np_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"][: torch.cuda.device_count()]
        for index, cuda_state in enumerate(cuda_states):
            torch.cuda.set_rng_state(cuda_state, index)


class RandomStreams:
    """In several processes, keep the data order's random stream shared by all ranks and give
    each rank its own stream for the draws made while training. In one process: a no-op.

    A checkpoint written mid-epoch keeps the shared stream as it was before that epoch's order
    was drawn, so that a resumed run draws the same order again and skips the batches done.
    Checkpoints keep every rank's noise stream too (``noise``: one state per rank), so a run
    resumed in as many processes draws the same noise as an uninterrupted one.
    """

    def __init__(self, world: World, salt: int, noise: list[torch.Tensor] | None = None) -> None:
        self.world = world
        if world.size > 1:
            self.shared, self.noise = world.split_random_streams(torch.initial_seed() + salt)
            if noise is not None and len(noise) == world.size:
                self.noise = noise[world.rank]
            self.epoch_start = self.shared

    def start_epoch(self, batches: Iterable[Any]) -> Iterator[Any]:
        """Iterate ``batches`` with the shared stream drawing the order, then switch to noise."""
        if self.world.size <= 1:
            return iter(batches)
        self.epoch_start = self.shared
        torch.set_rng_state(self.shared)
        iterator = iter(batches)
        first = next(iterator, None)  # the loader draws its order here
        self.shared = torch.get_rng_state()
        torch.set_rng_state(self.noise)
        return iterator if first is None else _prepend(first, iterator)

    def resume_noise(self) -> None:
        """Go back to this rank's stream after a mid-epoch resume restored the saved states."""
        if self.world.size > 1:
            torch.set_rng_state(self.noise)

    def end_epoch(self) -> None:
        """Remember where this rank's noise stream stands at the end of an epoch."""
        if self.world.size > 1:
            self.noise = torch.get_rng_state()

    def checkpoint_state(self, state: dict[str, Any], mid_epoch: bool) -> dict[str, Any]:
        """``state`` (from :func:`capture_rng`) with the shared stream a resume must restart and
        every rank's noise stream (a collective: every rank calls it)."""
        if self.world.size > 1:
            state = {**state, "torch": self.epoch_start if mid_epoch else self.shared,
                     "noise": self.world.all_gather(torch.get_rng_state())}
        return state


def skip_batches(batches: Iterator[Any], n: int) -> int:
    """Move ``batches`` past ``n`` batches; return how many it had.

    An iterator with a ``skip(n)`` method (a :class:`genzoo.data.StreamingLoader`'s) is asked
    to skip without producing the batches (a streamed data set then decodes no images for
    them); any other is advanced with ``next``.
    """
    skip = getattr(batches, "skip", None)
    if callable(skip):
        return int(skip(n))
    done = 0
    while done < n and next(batches, None) is not None:
        done += 1
    return done


class _prepend(Iterator[Any]):  # noqa: N801 - used like the generator it replaced
    """``first``, then ``rest``; skipping forwards to ``rest``."""

    def __init__(self, first: Any, rest: Iterator[Any]) -> None:
        self._first: list[Any] = [first]
        self._rest = rest

    def __next__(self) -> Any:
        return self._first.pop() if self._first else next(self._rest)

    def skip(self, n: int) -> int:
        done = 0
        if n and self._first:
            self._first.clear()
            done = 1
        return done + skip_batches(self._rest, n - done)


_LABELS = {
    "dataset_size": "data set size",
    "fingerprint": "image contents (fingerprint)",
    "batch_size": "batch size",
    "shuffle": "shuffle",
    "drop_last": "drop_last",
    "batches": "batches per epoch",
    "world_size": "processes (world size)",
}
_SAMPLE = 1 << 20  # elements hashed at most


def fingerprint(images: torch.Tensor) -> str:
    """A short hash of a tensor's shape, type and values (an even sample of at most 2**20)."""
    flat = images.detach().reshape(-1)
    sample = flat[:: max(1, flat.numel() // _SAMPLE)].cpu().contiguous()
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{tuple(images.shape)}|{images.dtype}".encode())
    digest.update(sample.view(torch.uint8).numpy().tobytes() if sample.numel() else b"")
    return digest.hexdigest()


def describe_data_order(data: Any, world_size: int) -> dict[str, Any]:
    """The record of what fixes ``data``'s batch order (whatever of it can be known).

    An in-memory loader (anything with ``images``, ``batch_size`` and ``shuffle``) is described
    fully, its images by :func:`fingerprint`; a :class:`torch.utils.data.DataLoader` by its batch
    size, sampler and data set size; any other sized iterable by its number of batches.
    """
    record: dict[str, Any] = {"world_size": int(world_size)}
    images = getattr(data, "images", None)
    if isinstance(images, torch.Tensor) and hasattr(data, "batch_size") and hasattr(data, "shuffle"):
        record.update(dataset_size=int(images.shape[0]), fingerprint=fingerprint(images),
                      batch_size=int(data.batch_size), shuffle=bool(data.shuffle),
                      drop_last=bool(getattr(data, "drop_last", False)))
        return record
    if isinstance(data, torch.utils.data.DataLoader):
        record.update(batch_size=data.batch_size, drop_last=bool(data.drop_last),
                      shuffle=isinstance(data.sampler, torch.utils.data.RandomSampler))
        try:
            record["dataset_size"] = len(data.dataset)  # type: ignore[arg-type]
        except TypeError:
            pass
        return record
    try:
        record["batches"] = len(data)
    except TypeError:
        pass
    return record


def check_data_order(recorded: dict[str, Any] | None, now: dict[str, Any], path: Path) -> None:
    """Refuse to resume from ``path`` when the data order it recorded differs from ``now``.

    Raises:
        CheckpointError: naming each difference (a checkpoint without a record passes).
    """
    if not isinstance(recorded, dict):
        return
    differ = [k for k in _LABELS if k in recorded and k in now and recorded[k] != now[k]]
    if "world_size" in differ:  # a resume in another number of processes is supported (and
        differ = [k for k in differ if k not in ("world_size", "batches")]  # warned about)
    if not differ:
        return
    detail = "; ".join(f"{_LABELS[k]}: checkpoint {recorded[k]!r}, now {now[k]!r}" for k in differ)
    raise CheckpointError(
        f"cannot resume from {path} exactly: the data order differs ({detail}); resume with the "
        "data, batch size and number of processes the run started with, or start a new run"
    )
