"""Choosing the training device."""

from __future__ import annotations

import torch

from ..errors import DeviceError

__all__ = ["resolve_device"]


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
