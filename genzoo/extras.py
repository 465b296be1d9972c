"""The optional parts of genzoo: which extra brings which package, and the one error when it is
missing.

genzoo's core dependencies cover building, training and sampling. Each other package it uses
belongs to an extra (``pip install "genzoo[eval]"``), and is imported through :func:`require`
where it is first needed, so that a command run without it stops with one line naming the extra
instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import GenzooError

__all__ = ["EXTRAS", "NOT_IN_ALL", "MissingExtraError", "require"]

#: The extras that ``genzoo[all]`` leaves out (the experiment trackers, whose packages are large).
NOT_IN_ALL = frozenset({"mlflow", "wandb"})

#: Each extra and the distributions it brings, as ``pyproject.toml`` declares them.
EXTRAS: dict[str, tuple[str, ...]] = {
    "eval": ("torchmetrics",),
    "pretrained": ("torchmetrics", "torch-fidelity"),
    "report": ("matplotlib",),
    "tensorboard": ("tensorboard",),
    "datasets": ("scipy",),
    "hub": ("huggingface_hub",),
    "mlflow": ("mlflow",),
    "wandb": ("wandb",),
}


class MissingExtraError(GenzooError, ImportError):
    """A feature needs a package of one of genzoo's extras, and it is not installed."""

    def __str__(self) -> str:  # ImportError would add nothing, but keep the one line plain
        return str(self.args[0]) if self.args else ""


def require(module: str, extra: str, needed_for: str) -> ModuleType:
    """Import ``module``, or say in one line which extra brings it.

    Args:
        module: The module to import, e.g. ``"torchmetrics.image.fid"``.
        extra: The extra that brings it (a key of :data:`EXTRAS`).
        needed_for: What needs it, for the message (``"genzoo eval"``, ``"the report's plots"``).

    Returns:
        The imported module.

    Raises:
        MissingExtraError: the package is not installed (or a package it needs is missing).
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{needed_for} needs {' and '.join(EXTRAS[extra])} (genzoo's {extra!r} extra), which "
            f"could not be imported ({err}); install it with: pip install \"genzoo[{extra}]\""
        ) from err
