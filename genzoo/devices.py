"""Devices and precision: which device a name means, and how a run computes on it.

:func:`resolve_device` turns ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a
:class:`torch.device` that exists on this machine (one :class:`~genzoo.errors.DeviceError`
otherwise); :class:`Precision` is a run's numeric precision on that device: full, bfloat16
autocast, or float16 autocast with a gradient scaler.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from .errors import DeviceError, PrecisionError

__all__ = ["resolve_device", "Precision"]


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
        name: ``"32"``, ``"bf16"`` or ``"16"``.
        device: The training device.

    Raises:
        PrecisionError: the combination is not supported (float16 off CUDA, bfloat16 on a GPU
            without it); nothing silently falls back to another precision.
    """

    def __init__(self, name: str, device: torch.device) -> None:
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
            raise PrecisionError(f"unknown precision {name!r}; use '32', 'bf16' or '16'")

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
