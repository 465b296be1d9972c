"""What sampling needs from the core: sampling-only config fields and a progress bar for models
that sample in many steps.

A config field marked with :func:`sampling_option` changes how a model samples but not how it
trains (a temperature, a number of steps, a sampler, a guidance scale). Such fields may be
changed when a trained model is loaded (``genzoo.load(path, temperature=0.7)``,
``genzoo sample CKPT --set temperature=0.7``) and do not stop a run from resuming; every other
field is fixed by training.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch

__all__ = ["sampling_option", "sampling_fields", "sampling_progress", "generate_in_chunks",
           "CPU_SAMPLE_CHUNK"]

T = TypeVar("T")

_METADATA_KEY = "genzoo.sampling"


def sampling_option(default: Any, **field_options: Any) -> Any:
    """A dataclass field for a model config that affects only sampling.

    Use it in a config dataclass in place of a plain default::

        @dataclass(frozen=True)
        class MyConfig:
            image_shape: tuple[int, int, int] = (1, 28, 28)
            temperature: float = genzoo.sampling.sampling_option(1.0)

    Args:
        default: The field's default value.
        **field_options: Further arguments of :func:`dataclasses.field`.
    """
    metadata = {**field_options.pop("metadata", {}), _METADATA_KEY: True}
    return dataclasses.field(default=default, metadata=metadata, **field_options)


def sampling_fields(config: Any) -> frozenset[str]:
    """The names of the fields of ``config`` (a config dataclass or its class) that
    :func:`sampling_option` marks as affecting only sampling."""
    if not dataclasses.is_dataclass(config):
        return frozenset()
    return frozenset(f.name for f in dataclasses.fields(config) if f.metadata.get(_METADATA_KEY))


def sampling_progress(steps: Iterable[T], *, total: int | None = None, desc: str = "sampling",
                      enabled: bool | None = None) -> Iterator[T]:
    """Iterate over ``steps`` with a progress bar, for a model's sampling loop.

    The bar goes to stderr and appears only when stderr is a terminal and sampling takes more
    than a second, so short calls, tests and logs stay quiet.

    Args:
        steps: The sampling steps (timesteps, say).
        total: Their number, when ``steps`` has no length.
        desc: The bar's label.
        enabled: ``True`` or ``False`` to force the bar on or off.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield from steps
        return
    from tqdm.auto import tqdm

    yield from tqdm(steps, total=total, desc=desc, unit="step", delay=0.0 if enabled else 1.0,
                    leave=False, file=sys.stderr, dynamic_ncols=True)


#: Images per network call when a model samples many on a CPU. Many small calls beat one large
#: one there: a UNet's activations for 100 images (200 with guidance) stay in the caches,
#: and calls of 100 images take about 30% less time than calls of 500 (flow matching, class-
#: guided, 2-core CPU: 28–30 against 42 s per 1,000 images; ``python benchmarks/sampling.py
#: --models flow-matching --set num_classes=10 --set guidance=1.25 --chunks 100 500`` prints
#: both). Unguided, the two are alike.
CPU_SAMPLE_CHUNK = 100


def generate_in_chunks(generate: Callable[..., torch.Tensor], z: torch.Tensor,
                       labels: torch.Tensor | None = None, *, chunk: int | None = None,
                       **options: Any) -> torch.Tensor:
    """``generate(z, labels, **options)`` over ``z`` a chunk of images at a time, concatenated.

    For models that sample in many network calls (diffusion, flow matching): the images are the
    same as from one call (the latents are drawn before), only the work is split.

    Args:
        generate: A model's ``generate(z, labels, **options)``.
        z: ``N×...`` latents, already on the model's device.
        labels: ``N`` labels (expand them first, so each chunk gets its own), or ``None``.
        chunk: Images per call; ``None``: :data:`CPU_SAMPLE_CHUNK` on a CPU, all at once on other
            devices (where large batches are what is fast).
        **options: Passed to every call (steps, guidance, sampler...).

    Raises:
        ValueError: ``chunk`` is not a positive integer.
    """
    if chunk is None:
        chunk = CPU_SAMPLE_CHUNK if z.device.type == "cpu" else max(1, z.shape[0])
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive number of images, got {chunk!r}")
    if z.shape[0] <= chunk:
        return generate(z, labels, **options)
    return torch.cat([generate(z[i:i + chunk], None if labels is None else labels[i:i + chunk],
                               **options) for i in range(0, z.shape[0], chunk)])
