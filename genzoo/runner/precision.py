"""Mixed precision: autocast for the forward pass, a gradient scaler for float16."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from ..errors import PrecisionError

__all__ = ["Precision"]


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
