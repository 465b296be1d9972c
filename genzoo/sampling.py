"""What sampling needs from the core: sampling-only config fields and a progress bar for models
that sample in many steps.

A config field marked with :func:`sampling_option` changes how a model samples but not how it
trains (a temperature, a number of steps, a sampler, a guidance scale). Such fields may be
changed when a trained model is loaded (``genzoo.load(path, temperature=0.7)``,
``genzoo sample CKPT --set temperature=0.7``) and do not stop a run from resuming; every other
field is fixed by training.

Sampling options are checked like training settings: a number must be finite and inside the
bounds its :func:`sampling_option` gives (:func:`check_sampling_options`), and a step count
asked for at sampling time is checked as the model's ``sample_steps`` would be
(:func:`check_sampling_steps`). Images with NaN or infinite pixels are never turned into image
files (:func:`finite_images`), and a model samples in eval mode (:func:`eval_mode`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch

from .errors import ConfigError, GenzooError

__all__ = ["sampling_option", "sampling_fields", "sampling_progress", "generate_in_chunks",
           "CPU_SAMPLE_CHUNK", "MAX_SAMPLING_STEPS", "check_sampling_options",
           "check_sampling_steps", "sample_generator", "finite_images", "NonFiniteSamplesError",
           "eval_mode"]

T = TypeVar("T")

_METADATA_KEY = "genzoo.sampling"
_BOUNDS_KEY = "genzoo.sampling.bounds"

#: The most steps a model that samples in steps may be asked for when its ``sample_steps``
#: option gives no bound of its own: far beyond any useful count (a few hundred at most), and
#: a bound, so that a typo's extra zeros are an error rather than hours of sampling.
MAX_SAMPLING_STEPS = 10_000


class NonFiniteSamplesError(GenzooError, FloatingPointError):
    """A model's samples have NaN or infinite pixels (nothing is saved from them)."""


def sampling_option(default: Any, *, minimum: float | None = None, maximum: float | None = None,
                    **field_options: Any) -> Any:
    """A dataclass field for a model config that affects only sampling.

    Use it in a config dataclass in place of a plain default::

        @dataclass(frozen=True)
        class MyConfig:
            image_shape: tuple[int, int, int] = (1, 28, 28)
            temperature: float = genzoo.sampling.sampling_option(1.0, minimum=0.0, maximum=100.0)

    A number in such a field must be finite, and within ``[minimum, maximum]`` where these are
    given; :func:`check_sampling_options` enforces it when the model is built and whenever a
    sampling option changes (``genzoo.load(path, **overrides)``, ``genzoo sample --set``).

    Args:
        default: The field's default value.
        minimum: The smallest value allowed (``None``: no lower bound).
        maximum: The largest value allowed (``None``: no upper bound).
        **field_options: Further arguments of :func:`dataclasses.field`.
    """
    metadata = {**field_options.pop("metadata", {}), _METADATA_KEY: True,
                _BOUNDS_KEY: (minimum, maximum)}
    return dataclasses.field(default=default, metadata=metadata, **field_options)


def check_sampling_options(config: Any, owner: str = "model") -> None:
    """Refuse sampling options that are not finite numbers or lie outside their bounds.

    Args:
        config: A model config dataclass.
        owner: Who the config belongs to, for the message (``"model 'vae'"``).

    Raises:
        ConfigError: naming the option, its value and what it must be.
    """
    if not dataclasses.is_dataclass(config):
        return
    for f in dataclasses.fields(config):
        if not f.metadata.get(_METADATA_KEY):
            continue
        value = getattr(config, f.name)
        values = value if isinstance(value, (tuple, list)) else (value,)
        for item in values:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if not math.isfinite(item):
                raise ConfigError(f"{owner}: the sampling option {f.name} must be a finite "
                                  f"number, got {value!r}")
            low, high = f.metadata.get(_BOUNDS_KEY, (None, None))
            if (low is not None and item < low) or (high is not None and item > high):
                raise ConfigError(f"{owner}: the sampling option {f.name} must be "
                                  f"{_bounds(low, high)}, got {value!r}")


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode for the block, then restore the mode it had."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def sample_generator(n: Any, seed: Any = None,
                     generator: torch.Generator | None = None) -> torch.Generator | None:
    """Check the arguments every ``sample(n, seed=..., generator=...)`` takes; return the
    generator to draw from (a new one seeded from ``seed`` when given, else ``generator``).

    Raises:
        ConfigError: ``n`` is not a positive whole number, ``seed`` not a 64-bit whole number,
            or ``generator`` not a :class:`torch.Generator`.
    """
    from .config import check_count, check_seed

    check_count(n)
    seed = check_seed(seed)
    if seed is not None:
        return torch.Generator().manual_seed(seed)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ConfigError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def check_sampling_steps(model: Any, steps: Any, *, option: str = "steps") -> int:
    """Check a step count asked for at sampling time as the model's own would be.

    For a model whose config has the sampling option ``sample_steps``, ``steps`` is checked
    exactly as ``sample_steps=steps`` would be (its bounds and the config's own checks: a
    diffusion model cannot take more steps than it was trained with); otherwise it must be
    between 1 and :data:`MAX_SAMPLING_STEPS`.

    Args:
        model: The model to sample.
        steps: The step count asked for.
        option: How the caller names it, for the message (``"--steps"``).

    Returns:
        ``steps``.

    Raises:
        ConfigError: ``steps`` is not a whole number the model can take, and why.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"{option} must be a positive number of sampling steps (a whole number), "
                          f"got {steps!r}")
    config = getattr(model, "config", None)
    if "sample_steps" in sampling_fields(config):
        from .config import config_to_dict, resolve_config

        try:
            changed = resolve_config(type(config), {**config_to_dict(config), "sample_steps": steps})
            check_sampling_options(changed)
        except ConfigError as err:
            reason = str(err).split(": ", 1)[-1]
            raise ConfigError(f"{option} {steps} is more than this model can take ({reason}); "
                              f"take fewer steps") from None
    elif steps > MAX_SAMPLING_STEPS:
        raise ConfigError(f"{option} {steps} is more than the {MAX_SAMPLING_STEPS:,} sampling steps "
                          "genzoo allows; take fewer steps")
    return steps


def finite_images(images: torch.Tensor, what: str = "samples") -> torch.Tensor:
    """``images`` if every pixel is a finite number; the one place samples are checked before
    they become image files (a NaN pixel would be saved as black without a word).

    Args:
        images: ``N×C×H×W`` images.
        what: What they are, for the message (``"samples of vae"``).

    Returns:
        ``images``, unchanged.

    Raises:
        NonFiniteSamplesError: how many images have NaN or infinite pixels; nothing is saved.
    """
    if images.is_floating_point() and images.numel():
        rows = images.detach().flatten(1)
        per_block = max(1, (1 << 20) // max(1, rows.shape[1]))  # about a million pixels a time
        count = sum(int((~torch.isfinite(rows[i:i + per_block]).all(1)).sum())
                    for i in range(0, rows.shape[0], per_block))
        if count:
            raise NonFiniteSamplesError(
                f"{count} of {images.shape[0]} {what} have NaN or infinite pixels, so no image "
                "was saved; check the sampling options (--set, steps, guidance, temperature) or "
                "the checkpoint"
            )
    return images


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
