"""Drawing many samples from a model in fixed blocks, repeatably and without side effects."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from .._words import model_label
from .errors import MetricsError

__all__ = ["map_samples", "class_proportional_labels", "block_seed", "device_of", "check_model_shape",
           "check_model_channels", "fixed_subset", "DEFAULT_SAMPLE_BLOCK"]

#: Images per sampling call, by default (on the protocol card: it decides which images a seed
#: gives).
DEFAULT_SAMPLE_BLOCK = 500
#: Seeds the choice of real images that stand beside the samples (training images for the
#: floor, reference images for precision/recall).
_SUBSET_SEED = 0

T = TypeVar("T")


def map_samples(model: Any, n: int, fn: Callable[[torch.Tensor], T], *, seed: int,
                block: int = DEFAULT_SAMPLE_BLOCK, labels: torch.Tensor | None = None) -> list[T]:
    """Draw ``n`` samples from ``model`` in blocks of ``block`` and return ``fn`` of each block.

    With ``labels`` (``n`` classes of a conditional model), each block samples its slice of them.

    Block ``b`` draws its latents from a CPU generator seeded with :func:`block_seed` of
    ``(seed, b)``, and torch's global generators (which some models also draw from) are seeded
    the same way and restored afterwards. So the same model, seed and block give the same
    samples, the first ``m`` blocks are the same whatever ``n``, and the caller's random state
    is untouched.

    Raises:
        MetricsError: ``block`` is not a positive integer.
    """
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise MetricsError(f"the sampling block must be a positive integer, got {block!r}")
    device = device_of(model)
    results = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for index, start in enumerate(range(0, n, block)):
            seed_b = block_seed(seed, index)
            torch.manual_seed(seed_b)
            generator = torch.Generator().manual_seed(seed_b)
            count = min(block, n - start)
            extra = {} if labels is None else {"labels": labels[start:start + count]}
            results.append(fn(model.sample(count, generator=generator, **extra)))
    return results


def class_proportional_labels(labels: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """``n`` classes, each as often as among ``labels`` (rounded by largest remainders), in a
    fixed shuffled order: what a conditional model samples to stand for the data's distribution.

    Raises:
        MetricsError: ``labels`` are not classes in ``[0, num_classes)``.
    """
    labels = torch.as_tensor(labels).long().flatten()
    if len(labels) == 0 or labels.min() < 0 or labels.max() >= num_classes:
        raise MetricsError(f"labels must be classes in [0, {num_classes}); got none or others")
    share = torch.bincount(labels, minlength=num_classes).double() * (n / len(labels))
    counts = share.floor().long()
    remainders = torch.argsort(share - counts, descending=True, stable=True)
    counts[remainders[: n - int(counts.sum())]] += 1
    ordered = torch.repeat_interleave(torch.arange(num_classes), counts)
    return ordered[torch.randperm(n, generator=torch.Generator().manual_seed(_SUBSET_SEED))]


def block_seed(seed: int, block: int) -> int:
    """The seed of sampling block ``block`` of the sampling seed ``seed`` (63 bits of a hash)."""
    digest = hashlib.sha256(f"genzoo-samples:{seed}:{block}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def check_model_shape(model: Any, shape: tuple[int, int, int], dataset: str) -> None:
    """Raise :class:`MetricsError` when ``model`` makes images of another shape than ``shape``
    (bits/dim scores the data's own images, so the shape must match exactly)."""
    made = getattr(model, "image_shape", None)
    if made is not None and tuple(made) != tuple(shape):
        raise MetricsError(
            f"{model_label(model)} makes images of shape {tuple(made)} (C, H, W) but "
            f"{dataset} images are {tuple(shape)}; evaluate it against a data set of its own "
            f"image shape"
        )


def check_model_channels(model: Any, channels: int, what: str) -> None:
    """Raise :class:`MetricsError` when ``model`` makes images of another channel count."""
    made = getattr(model, "image_shape", None)
    if made is not None and int(made[0]) != channels:
        raise MetricsError(
            f"{model_label(model)} makes images of {made[0]} channel(s) (shape {tuple(made)}) "
            f"but {what} has {channels}; evaluate it against data with images like its own"
        )


def device_of(model: Any) -> torch.device:
    """The device of a model's parameters (its ``device`` attribute first); the CPU if none."""
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        first = next(iter(parameters()), None)
        if first is not None:
            return first.device
    return torch.device("cpu")


def fixed_subset(tensor: torch.Tensor, n: int) -> torch.Tensor:
    """A fixed random subset of ``n`` rows, the same every time (all rows, in order, when ``n``
    is not smaller); the subset for a smaller ``n`` is the start of the one for a larger."""
    if n >= len(tensor):
        return tensor
    order = torch.randperm(len(tensor), generator=torch.Generator().manual_seed(_SUBSET_SEED))
    return tensor[order[:n]]
