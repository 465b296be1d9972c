"""The exceptions genzoo raises.

Every error genzoo raises on purpose derives from :class:`GenzooError`, so ``except GenzooError``
catches a user mistake without hiding a bug. Each also derives from the matching built-in
(``LookupError``, ``ValueError``...) so code written against those keeps working.
"""

from __future__ import annotations

__all__ = [
    "GenzooError",
    "UnknownModelError",
    "ConfigError",
    "DuplicateModelError",
    "PluginError",
    "BatchError",
    "CheckpointError",
    "RunFolderError",
    "DeviceError",
    "PrecisionError",
    "NonFiniteLossError",
    "OutputExistsError",
    "UnsafeFileError",
    "HubError",
    "TrackerError",
]


class GenzooError(Exception):
    """Base class of every error genzoo raises on purpose."""


class UnknownModelError(GenzooError, LookupError):
    """No registered model has the name asked for."""

    def __str__(self) -> str:  # LookupError would quote the message like a dict key
        return str(self.args[0]) if self.args else ""


class ConfigError(GenzooError, ValueError):
    """A model or run option is unknown, ill-typed or out of range."""


class DuplicateModelError(GenzooError):
    """Two different distributions register the same model name."""


class PluginError(GenzooError):
    """A plugin could not be loaded or broke the plugin contract."""


class BatchError(GenzooError, ValueError):
    """A training batch is not what a model expects (shape, dtype or value range)."""


class CheckpointError(GenzooError):
    """A checkpoint file is missing, damaged, of another model, or of an unknown format."""


class RunFolderError(GenzooError):
    """A run folder cannot be used: it holds another run, another process trains in it, or a
    file of the run cannot be written there (disk full, read-only, no permission)."""


class DeviceError(GenzooError, RuntimeError):
    """The requested device does not exist on this machine."""


class PrecisionError(GenzooError, ValueError):
    """The requested precision is unknown or not supported on the chosen device."""


class NonFiniteLossError(GenzooError, FloatingPointError):
    """Training produced a NaN or infinite loss (or weights), so the run stopped.

    Attributes:
        step: The training step (counting from 1) where it first happened.
        name: The loss's name (or ``"weights"``).
        value: The value, ``nan``, ``inf`` or ``-inf``.
    """

    def __init__(self, message: str, *, step: int, name: str, value: float) -> None:
        super().__init__(message)
        self.step, self.name, self.value = step, name, value


class OutputExistsError(GenzooError):
    """An output would replace a file that is not the command's own kind of output (a
    checkpoint, a run's files, data), or would join a data set; ``--force`` replaces files."""


class UnsafeFileError(GenzooError):
    """A file genzoo was handed is not safe to read or to give a library: a link out of the
    folder it belongs to, not a regular file, too large, or holding code rather than data."""


class HubError(GenzooError):
    """The Hugging Face Hub cannot be reached, refuses a request, or has no such repository or
    revision; or a repository is asked for offline (``HF_HUB_OFFLINE``) and is not in the cache."""


class TrackerError(GenzooError):
    """An experiment tracker the run asks for (``--mlflow``, ``--wandb``) could not start: its
    server does not answer, its URI or login is wrong. Raised before the run's first step; a
    tracker that fails later costs a warning, never the run."""
