"""What fixes a run's data order, recorded in its checkpoints and checked on resume.

Exact resume replays the interrupted epoch's batch order from the saved random states. That only
holds for the same data, cut into the same batches, drawn the same way, by as many processes; a
resume that changes one of these would train on another order without a word. The runner stores
:func:`describe`'s record in every checkpoint and :func:`check` refuses a resume that differs,
naming each difference.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError

__all__ = ["describe", "check", "fingerprint"]

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


def describe(data: Any, world_size: int) -> dict[str, Any]:
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


def check(recorded: dict[str, Any] | None, now: dict[str, Any], path: Path) -> None:
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
