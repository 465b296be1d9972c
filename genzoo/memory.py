"""Sizes against the memory this process may really use: refuse up front, with the estimate,
what cannot fit, and turn an out-of-memory error that still happens into one line.

The memory a process may use is the smallest of this machine's physical memory, its cgroup's
limit (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``, over the whole hierarchy) and its
address-space limit (``RLIMIT_AS``, ``ulimit -v``); what it already uses is subtracted (its
resident memory, or for ``RLIMIT_AS`` its address space, several GB once torch is imported).

The estimates are measured, not guessed (peak resident memory from ``resource.getrusage``
over a baseline, on a 2-core CPU; the docs' *runner* guide has the table):

* **sampling** ``n`` images: the model's own stage (the images, and the largest layer's input,
  output and, for a convolution, its unfolded columns per image, found by running the model on
  two images with forward hooks) or the
  saving stage (a grid converts the images to 3 channels and to bytes: ``1.5 + 2.5 × max(1,
  3 / C)`` times the images' float32 size, measured 8.9–9.1 for grey and 3.6 for colour; a
  folder of PNGs 2.5 times, measured 2.0–3.4), whichever is larger;
* **training**: :data:`TRAINING_FACTOR` times the weights (weights, gradients, Adam's two
  moments, its temporaries and the checkpoint being written), one more with a weight EMA.
"""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, GenzooError

__all__ = ["physical_memory", "format_bytes", "check_images_fit", "check_sample_size", "MemoryLimit",
           "memory_limit", "sample_memory", "training_memory", "check_training_memory", "TRAINING_FACTOR",
           "OutOfMemoryError", "is_out_of_memory"]

#: Peak memory of training on a CPU in units of the model's float32 weights, measured with
#: Adam (weights, gradients, two moments, the optimizer step's temporaries and the checkpoint):
#: 4.2 for the vae (``hidden_dim`` 23,000 and 46,000), 6.9 for the gan (widths 2,048); the
#: larger, rounded up.
TRAINING_FACTOR = 7

#: Where the cgroup file systems and this process's cgroup are read (tests point them elsewhere).
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
PROC_STATUS = Path("/proc/self/status")
#: A cgroup v1 "no limit" is the largest page-aligned 64-bit number; anything above this is none.
_NO_LIMIT = 1 << 60


class OutOfMemoryError(GenzooError, MemoryError):
    """Training or sampling ran out of memory; the message says what to change (and, for a
    run, that its last checkpoint is intact)."""


@dataclass(frozen=True)
class MemoryLimit:
    """A limit on the memory this process may use.

    Attributes:
        limit: The limit in bytes.
        used: What this process already uses against it, in bytes.
        source: What sets it, for messages, with ``{limit}`` where the limit goes
            (``"this machine's {limit} of memory"``...).
    """

    limit: int
    used: int
    source: str

    @property
    def available(self) -> int:
        """The bytes still free under this limit."""
        return max(0, self.limit - self.used)

    def describe(self) -> str:
        """``"6.2 GB this process may still use (under the cgroup's 7.0 GB limit, memory.max)"``."""
        return (f"{format_bytes(self.available)} this process may still use (under "
                f"{self.source.format(limit=format_bytes(self.limit))})")


def physical_memory() -> int:
    """This machine's memory in bytes (0 where it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def memory_limit() -> MemoryLimit | None:
    """The limit that leaves this process the least memory: physical memory, the cgroup's
    limit or the address-space limit; ``None`` where none can be told."""
    limits = [limit for limit in (_physical(), _cgroup(), _address_space()) if limit is not None]
    return min(limits, key=lambda limit: limit.available, default=None)


def _resident() -> int:
    """This process's resident memory now (bytes), else its peak."""
    value = _status_kb("VmRSS")
    if value is not None:
        return value
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status_kb(field: str) -> int | None:
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _physical() -> MemoryLimit | None:
    total = physical_memory()
    return MemoryLimit(total, _resident(), "this machine's {limit} of memory") if total else None


def _cgroup() -> MemoryLimit | None:
    """The smallest memory limit over this process's cgroup and its parents (v2 or v1)."""
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return None
    found: list[tuple[int, str]] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: one unified hierarchy
            found += _limits_up(CGROUP_ROOT, path, "memory.max", "the cgroup's {limit} limit, memory.max")
        elif "memory" in controllers.split(","):
            found += _limits_up(CGROUP_ROOT / "memory", path, "memory.limit_in_bytes",
                                "the cgroup's {limit} limit, memory.limit_in_bytes")
    if not found:
        return None
    limit, source = min(found)
    return MemoryLimit(limit, _resident(), source)


def _limits_up(base: Path, path: str, name: str, source: str) -> list[tuple[int, str]]:
    """The limits in the file ``name`` of the cgroup at ``path`` and of each of its parents."""
    found = []
    folder = base / path.strip("/")
    while True:
        try:
            text = (folder / name).read_text().strip()
            value = int(text)
            if 0 < value < _NO_LIMIT:
                found.append((value, source))
        except (OSError, ValueError):  # "max", missing, unreadable: no limit here
            pass
        if folder == base or base not in folder.parents:
            return found
        folder = folder.parent


def _address_space() -> MemoryLimit | None:
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ValueError, OSError, AttributeError):
        return None
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    used = _status_kb("VmSize") or _resident()
    return MemoryLimit(soft, used, "the {limit} address-space limit, ulimit -v")


def format_bytes(count: float) -> str:
    """``count`` bytes for a person: ``"3.1 TB"``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000:
            return f"{int(count)} B" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} PB"


def sample_memory(model: Any, count: int, *, grid: bool = True) -> int:
    """Bytes drawing ``count`` images of ``model`` at once and saving them needs, at its peak.

    The larger of the model's stage (the images, and the largest layer's input and output per
    image, times the images a call makes at once: all of them, or 100 for a model that samples
    in steps on a CPU) and the saving stage (a grid: ``1.5 + 2.5 × max(1, 3 / C)`` times the
    images' float32 size; a folder of PNGs: 2.5 times).

    Args:
        model: The model, with an ``image_shape``.
        count: How many images.
        grid: Whether they are saved as one grid (else one file each).
    """
    shape = tuple(getattr(model, "image_shape", ()) or ())
    if not shape:
        return 0
    images = count * math.prod(shape) * 4
    channels = shape[0]
    saving = images * (1.5 + 2.5 * max(1.0, 3 / channels) if grid else 2.5)
    at_once = count
    from .protocols import IterativeGenerator
    from .sampling import CPU_SAMPLE_CHUNK

    device = getattr(model, "device", None)
    if isinstance(model, IterativeGenerator) and getattr(device, "type", "cpu") == "cpu":
        at_once = min(count, CPU_SAMPLE_CHUNK)
    modelling = images + _largest_layer_per_image(model) * at_once
    return int(max(saving, modelling))


def _largest_layer_per_image(model: Any, probe: int = 2) -> int:
    """The largest input plus output of one layer of ``model`` per image, in bytes, seen while
    it samples ``probe`` images (0 where the model cannot be probed)."""
    import torch

    largest = [0]

    def hook(module: Any, inputs: Any, output: Any) -> None:
        tensors = [t for t in (*inputs, output) if isinstance(t, torch.Tensor)]
        size = sum(t.numel() * t.element_size() for t in tensors)
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and tensors:
            # a convolution's unfolded columns on a CPU: kernel × channels × positions
            positions = output if isinstance(module, torch.nn.Conv2d) else inputs[0]
            channels = module.in_channels if isinstance(module, torch.nn.Conv2d) else module.out_channels
            size += (positions.shape[0] * channels * math.prod(module.kernel_size)
                     * math.prod(positions.shape[2:]) * tensors[-1].element_size())
        largest[0] = max(largest[0], size)

    modules = getattr(model, "modules", None)
    if not callable(modules):
        return 0
    handles = [m.register_forward_hook(hook) for m in modules() if not list(m.children())]
    try:
        from .protocols import IterativeGenerator

        options = {"steps": 1} if isinstance(model, IterativeGenerator) else {}
        with torch.no_grad():
            model.sample(probe, seed=0, **options)
    except Exception:  # noqa: BLE001 - a model that cannot be probed is estimated without it
        return 0
    finally:
        for handle in handles:
            handle.remove()
    return largest[0] // probe


def check_images_fit(shape: tuple[int, ...], count: int, *, option: str = "n") -> None:
    """Refuse ``count`` float32 images of ``shape`` that alone would not fit in the memory this
    process may use (a cheap check before anything is drawn: see :func:`check_sample_size` for
    the whole estimate).

    Raises:
        ConfigError: naming the images' size, the limit and how many would fit.
    """
    limit = memory_limit()
    per_image = math.prod(shape) * 4
    if limit is None or not per_image or count * per_image <= limit.available:
        return
    raise ConfigError(
        f"{option}={count} images of {'x'.join(map(str, shape))} take "
        f"{format_bytes(count * per_image)} of memory, more than the {limit.describe()}; draw "
        f"at most about {max(1, limit.available // per_image // 2)} at a time"
    )


def check_sample_size(model: Any, count: int, *, option: str = "-n", grid: bool = True) -> None:
    """Refuse to draw ``count`` images at once when they would not fit in the memory this
    process may use (see :func:`sample_memory` and :func:`memory_limit`).

    Raises:
        ConfigError: naming the estimate, the limit and how many images would fit.
    """
    shape = tuple(getattr(model, "image_shape", ()) or ())
    limit = memory_limit()
    if not shape or limit is None:
        return
    needed = sample_memory(model, count, grid=grid)
    if needed > limit.available:
        per_image = max(1, needed // count)
        fits = max(1, limit.available // per_image // 2)
        raise ConfigError(
            f"{option} {count} images of {'x'.join(map(str, shape))} need about "
            f"{format_bytes(needed)} of memory, more than the {limit.describe()}; draw at most "
            f"about {fits} at a time"
        )


def training_memory(weights: int, *, ema: bool = False) -> int:
    """Bytes training a model with ``weights`` bytes of weights needs (see
    :data:`TRAINING_FACTOR`), one copy more with a weight EMA."""
    return weights * (TRAINING_FACTOR + (1 if ema else 0))


def check_training_memory(model: Any, *, ema: bool = False, what: str = "this model") -> None:
    """Refuse to train ``model`` (already built, so its weights are counted as in use) when
    training would not fit in the memory this process may use.

    Raises:
        ConfigError: with the estimate and the limit.
    """
    parameters = getattr(model, "parameters", None)
    limit = memory_limit()
    if not callable(parameters) or limit is None:
        return
    weights = sum(p.numel() * p.element_size() for p in parameters())
    needed = training_memory(weights, ema=ema)
    if needed - weights > limit.available:
        raise ConfigError(
            f"training {what} needs about {format_bytes(needed)} of memory ({format_bytes(weights)} "
            f"of weights, with their gradients, the optimizer's state and a checkpoint), more "
            f"than the {limit.describe()}; use smaller sizes"
        )


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` says that memory ran out (a CPU or GPU allocation failed)."""
    import torch

    if isinstance(err, (MemoryError, torch.OutOfMemoryError)) and not isinstance(err, OutOfMemoryError):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and ("can't allocate memory" in text
                                              or "out of memory" in text.lower())
