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
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["sampling_option", "sampling_fields", "sampling_progress"]

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
