"""Where the domain classifiers are cached, and reading and writing the cache files.

A cache file is a ``torch.save`` dict of tensors and plain values only (read back with
``weights_only=True``), written atomically. A file that cannot be used is reported with a
:class:`ClassifierCacheWarning`, and the caller retrains.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import write_checkpoint
from .errors import ClassifierCacheWarning

__all__ = ["CACHE_FORMAT", "CLASSIFIER_VERSION", "classifier_cache_dir", "classifier_cache_path",
           "read_cache", "write_cache", "warn_unusable"]

CACHE_FORMAT = "genzoo-domain-classifier"
#: Bumped when the network, its training or the cached contents change; part of the file name.
CLASSIFIER_VERSION = 1


def classifier_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder of cached classifiers.

    ``cache_dir`` when given; else ``$XDG_CACHE_HOME/genzoo/classifiers`` when
    ``XDG_CACHE_HOME`` is an absolute path; else ``~/.cache/genzoo/classifiers``.
    """
    if cache_dir is not None:
        return Path(os.fspath(cache_dir)).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "genzoo" / "classifiers"


def classifier_cache_path(dataset: str, *, cache_dir: str | os.PathLike[str] | None = None,
                          epochs: int = 2, max_train_images: int | None = None) -> Path:
    """The cache file of ``dataset``'s classifier: ``<dir>/<dataset>-v1.pt`` for the default
    training, with the epochs and image count in the name otherwise."""
    name = f"{dataset}-v{CLASSIFIER_VERSION}"
    if epochs != 2 or max_train_images is not None:
        name += f"-e{epochs}" + (f"-n{max_train_images}" if max_train_images is not None else "")
    return classifier_cache_dir(cache_dir) / f"{name}.pt"


def read_cache(path: Path) -> dict[str, Any] | None:
    """The cached payload at ``path``; ``None`` when there is none or it cannot be used (with a
    :class:`ClassifierCacheWarning` saying why)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways; all mean "retrain"
        warn_unusable(path, f"it cannot be read ({_first_line(err)})")
        return None
    if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT:
        warn_unusable(path, "it is not a genzoo domain classifier")
        return None
    if payload.get("format_version") != CLASSIFIER_VERSION:
        warn_unusable(path, f"it has version {payload.get('format_version')!r}, not {CLASSIFIER_VERSION}")
        return None
    return payload


def write_cache(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (a crash leaves the previous file intact)."""
    return write_checkpoint(payload, path)


def warn_unusable(path: Path, reason: str) -> None:
    """Warn that the cache file at ``path`` cannot be used for ``reason`` and is retrained."""
    warnings.warn(f"the cached domain classifier {path} is unusable: {reason}; retraining it",
                  ClassifierCacheWarning, stacklevel=4)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
