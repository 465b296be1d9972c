"""Devices and precision: which device a name means, and how a run computes on it.

:func:`resolve_device` turns ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a
:class:`torch.device` that exists on this machine (one :class:`~genzoo.errors.DeviceError`
otherwise); :class:`Precision` is a run's numeric precision on that device: full, bfloat16
autocast, or float16 autocast with a gradient scaler. :func:`resolve_precision` turns
``"auto"`` into the faster of full and bfloat16 precision on a device (:func:`native_bf16`,
:func:`bf16_slowdown`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from .errors import DeviceError, PrecisionError
from .files import atomic_output, cache_folder

__all__ = ["resolve_device", "Precision", "resolve_precision", "native_bf16", "bf16_slowdown",
           "bf16_warning", "BF16_SLOWER"]

#: bfloat16 counts as slower than full precision on a CPU when a convolution step takes this
#: many times as long in it (a margin above 1 for the noise of a short measurement).
BF16_SLOWER = 1.1


def resolve_device(spec: str | torch.device = "auto", local_rank: int | None = None) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a device that exists.

    ``"auto"`` picks CUDA, then MPS, then the CPU. Under ``torchrun``, ``local_rank`` picks the
    process's GPU for ``"auto"`` and ``"cuda"``.

    Raises:
        DeviceError: the device is unknown or not present on this machine.
    """
    text = str(spec).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            text = "cuda"
        elif _mps_available():
            text = "mps"
        else:
            text = "cpu"
    try:
        device = torch.device(text)
    except RuntimeError:
        raise DeviceError(
            f"unknown device {spec!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {spec!r} was asked for but CUDA is not available here "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); "
                "use device='cpu' or 'auto'"
            )
        count = torch.cuda.device_count()
        index = device.index if device.index is not None else (local_rank or 0)
        if index >= count:
            raise DeviceError(f"device {spec!r} does not exist: this machine has {count} CUDA device(s)")
        return torch.device("cuda", index)
    if device.type == "mps":
        if not _mps_available():
            raise DeviceError(f"device {spec!r} was asked for but MPS (Apple GPU) is not available here")
        return torch.device("mps")
    raise DeviceError(f"device type {device.type!r} is not supported; use 'cpu', 'cuda' or 'mps'")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


class Precision:
    """The numeric precision of a run on one device.

    Args:
        name: ``"32"``, ``"bf16"``, ``"16"``, or ``"auto"`` (resolved by
            :func:`resolve_precision`; :attr:`name` is then what it resolved to).
        device: The training device.

    Raises:
        PrecisionError: the combination is not supported (float16 off CUDA, bfloat16 on a GPU
            without it); nothing silently falls back to another precision.
    """

    def __init__(self, name: str, device: torch.device) -> None:
        self.requested = name
        name = resolve_precision(name, device)
        self.name = name
        self.device = device
        if name == "32":
            self.dtype = None
        elif name == "bf16":
            if device.type == "cuda" and not torch.cuda.is_bf16_supported():
                raise PrecisionError(
                    f"precision 'bf16' needs a GPU with bfloat16 support; {torch.cuda.get_device_name(device)} "
                    "has none: use precision='16' (float16 with a gradient scaler) or '32'"
                )
            self.dtype = torch.bfloat16
        elif name == "16":
            if device.type != "cuda":
                raise PrecisionError(
                    f"precision '16' (float16 with a gradient scaler) is supported on CUDA only, "
                    f"not on {device.type}; use precision='bf16' or '32' there"
                )
            self.dtype = torch.float16
        else:
            raise PrecisionError(f"unknown precision {name!r}; use '32', 'bf16', '16' or 'auto'")

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """A context in which the forward pass runs in this precision."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def make_scaler(self) -> torch.amp.GradScaler | None:
        """A fresh gradient scaler for float16, else ``None``."""
        if self.dtype is torch.float16:
            return torch.amp.GradScaler(self.device.type)
        return None


# -- "auto": the faster precision ---------------------------------------------------------------


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision ``name`` means on ``device``: ``"auto"`` resolved, any other name as it is.

    ``"auto"`` is ``"bf16"`` where the device computes in bfloat16 natively and faster:

    * a CUDA GPU with native bfloat16 (compute capability 8.0 and newer: A100, RTX 30xx, H100);
    * a CPU with native bfloat16 instructions (AVX-512-BF16 or AMX on x86, the BF16 extension on
      Arm) on which a short measurement of a convolution step (:func:`bf16_slowdown`, once per
      process, a fraction of a second) finds bfloat16 autocast faster than full precision;

    and ``"32"`` everywhere else: a CPU without native bfloat16 (where bfloat16 convolutions
    fall back to a slow reference kernel, about ten times slower), an older GPU, Apple's MPS.
    float16 (``"16"``) is never chosen: it needs a gradient scaler and can overflow.
    """
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if _cuda_native_bf16(device) else "32"
    if device.type == "cpu":
        native, _ = native_bf16()
        if native:
            slowdown = bf16_slowdown()
            return "bf16" if slowdown is not None and slowdown < 1.0 else "32"
    return "32"


def _cuda_native_bf16(device: torch.device) -> bool:
    if not torch.cuda.is_available():
        return False
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


def native_bf16() -> tuple[bool, str]:
    """Whether this machine's CPU computes in bfloat16 natively, and what it has, in words.

    On x86 it needs AVX-512 (the vector width PyTorch's CPU kernels use, as
    :func:`torch.backends.cpu.get_cpu_capability` reports it) with the AVX-512-BF16
    instructions, or AMX tiles; on Arm the BF16 extension. A flag PyTorch reports without
    AVX-512 itself (as some virtual machines show) does not count.

    Returns:
        ``(native, description)``, e.g. ``(False, "no native bf16: AVX2")``.
    """
    capability = _cpu_capability()
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i386", "i686"):
        amx = _torch_cpu_flag("_is_amx_tile_supported")
        avx512_bf16 = capability.startswith("AVX512") and _torch_cpu_flag("_is_avx512_bf16_supported")
        if amx or avx512_bf16:
            return True, f"native bf16: {'AMX' if amx else 'AVX512-BF16'}"
        return False, f"no native bf16: {capability}"
    if machine in ("arm64", "aarch64"):
        if "bf16" in _cpu_flags():
            return True, "native bf16: Arm BF16"
        return False, f"no native bf16: {capability or machine}"
    return False, f"no native bf16: {machine or 'unknown CPU'}"


def _cpu_capability() -> str:
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def _torch_cpu_flag(name: str) -> bool:
    check = getattr(torch.cpu, name, None)
    try:
        return bool(check()) if callable(check) else False
    except RuntimeError:
        return False


def _cpu_flags() -> frozenset[str]:
    return frozenset((_cpuinfo_value("flags", "Features") or "").split())


def _cpuinfo_value(*keys: str) -> str | None:
    """The value of the first line of ``/proc/cpuinfo`` whose key is one of ``keys``."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys:
            return value.strip()
    return None


def _machine_key() -> str:
    model = _cpuinfo_value("model name") or platform.processor()
    return (f"{platform.machine()} | {model} | {_cpu_capability()} | torch "
            f"{torch.__version__} | {torch.get_num_threads()} threads")


@functools.lru_cache(maxsize=1)
def bf16_slowdown() -> float | None:
    """How many times longer a convolution step (forward and backward) takes under bfloat16
    autocast than in full precision on this CPU: above 1, bfloat16 is slower.

    Measured once per machine: the reading is kept in ``$XDG_CACHE_HOME/genzoo/bf16_slowdown.json``
    (else ``~/.cache/genzoo/``), one per CPU, PyTorch version and thread count, so that every
    run there resolves ``"auto"`` alike (a measurement made again in each process, under
    whatever else the machine was doing, could choose differently, and two runs of one command
    with one seed would then differ); where that file cannot be read or written, once per
    process. The measurement: a few repetitions of a 3×3 convolution
    of 64 channels over 32 images of 14×14 (the size of genzoo's UNet's inner levels on MNIST),
    the fastest of each kept; about 0.1 s on a CPU with native bfloat16, up to a second or so
    on one without (where only an explicit ``bf16`` is measured). A smaller convolution
    measures mostly overhead: 32 channels over 4 images of 16×16 read 0.93 to 1.18 in eight
    processes on an AVX-512-BF16 CPU where the UNets' steps run 0.8 times as long in bfloat16,
    so ``"auto"`` chose differently from one run to the next; this one reads about 0.65 there.

    Returns:
        The ratio, or ``None`` when this PyTorch cannot run a bfloat16 convolution on the CPU.
    """
    path, key = cache_folder("bf16_slowdown.json"), _machine_key()
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    kept = kept if isinstance(kept, dict) else {}
    reading = kept.get(key, 0)
    if reading is None or (type(reading) is float and reading > 0):
        return reading
    reading = _measure_bf16_slowdown()
    with contextlib.suppress(OSError):  # atomically: a reader sees the old file or the new one
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as file:
            file.write(json.dumps({**kept, key: reading}, indent=1).encode())
    return reading


def _measure_bf16_slowdown() -> float | None:
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(32, 64, 14, 14, generator=torch.Generator().manual_seed(0))

    def step(dtype: torch.dtype | None) -> float:
        context = (torch.autocast("cpu", dtype=dtype) if dtype is not None
                   else contextlib.nullcontext())
        started = time.perf_counter()
        with context:
            conv(x).float().square().mean().backward()
        return time.perf_counter() - started

    try:
        with torch.random.fork_rng(devices=[]):
            best = {None: float("inf"), torch.bfloat16: float("inf")}
            deadline = time.perf_counter() + 0.1
            for repeat in range(5):
                for dtype in best:
                    seconds = step(dtype)
                    if repeat:  # the first of each warms up
                        best[dtype] = min(best[dtype], seconds)
                if repeat >= 2 and time.perf_counter() > deadline:
                    break
    except RuntimeError:
        return None
    return best[torch.bfloat16] / best[None] if best[None] > 0 else None


def bf16_warning(device: torch.device) -> str | None:
    """The one-line warning for bfloat16 asked for where it runs slower than full precision
    (a CPU without native bfloat16, measured by :func:`bf16_slowdown`), else ``None``."""
    if device.type != "cpu":
        return None
    slowdown = bf16_slowdown()
    if slowdown is None or slowdown < BF16_SLOWER:
        return None
    _, what = native_bf16()
    return (f"bf16 autocast runs convolutions {slowdown:.1f}x slower than fp32 on this CPU "
            f"({what}); use --precision fp32 or auto (precision='32' or 'auto')")
