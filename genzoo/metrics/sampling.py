"""Drawing many samples from a model in batches, repeatably and without side effects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

from .._words import model_label
from .errors import MetricsError

__all__ = ["map_samples", "device_of", "check_model_shape", "fixed_subset"]

#: Seeds the choice of real images that stand beside the samples (training images for the
#: floor, test images for precision/recall).
_SUBSET_SEED = 0

T = TypeVar("T")


def map_samples(model: Any, n: int, fn: Callable[[torch.Tensor], T], *, seed: int,
                batch_size: int) -> list[T]:
    """Draw ``n`` samples from ``model`` in batches and return ``fn`` of each batch.

    The latents come from a CPU generator seeded with ``seed``, and torch's global generators
    (which some models also draw from) are seeded too and restored afterwards: the same model,
    seed and batch size give the same samples, and the caller's random state is untouched.
    """
    device = device_of(model)
    results = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        for start in range(0, n, batch_size):
            results.append(fn(model.sample(min(batch_size, n - start), generator=generator)))
    return results


def check_model_shape(model: Any, shape: tuple[int, int, int], dataset: str) -> None:
    """Raise :class:`MetricsError` when ``model`` makes images of another shape than ``shape``."""
    made = getattr(model, "image_shape", None)
    if made is not None and tuple(made) != tuple(shape):
        raise MetricsError(
            f"{model_label(model)} makes images of shape {tuple(made)} (C, H, W) but "
            f"{dataset} images are {tuple(shape)}; evaluate it against a data set of its own "
            f"image shape"
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
    is not smaller)."""
    if n >= len(tensor):
        return tensor
    order = torch.randperm(len(tensor), generator=torch.Generator().manual_seed(_SUBSET_SEED))
    return tensor[order[:n]]
