"""Where feature networks are cached, and reading and writing the cache files.

A cache file is a ``torch.save`` dict of tensors and plain values only (read back with
``weights_only=True``), written atomically. Its name holds the data's name and fingerprint, the
kind of network and, for non-default training settings, a hash of them. A file that cannot be
used is reported with a :class:`FeatureCacheWarning`, and the caller trains again.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import write_checkpoint
from ..files import probe_writable
from .errors import FeatureCacheWarning

__all__ = ["CACHE_FORMAT", "CACHE_VERSION", "feature_cache_dir", "feature_cache_path", "read_cache",
           "write_cache", "warn_unusable", "cache_write_problem", "keep_or_warn", "warn_unwritable"]

CACHE_FORMAT = "genzoo-feature-space"
#: Bumped when the networks, their training or the cached contents change; part of the file name.
CACHE_VERSION = 2


def feature_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder of cached feature networks.

    ``cache_dir`` when given; else ``$XDG_CACHE_HOME/genzoo/features`` when ``XDG_CACHE_HOME``
    is an absolute path; else ``~/.cache/genzoo/features``.
    """
    if cache_dir is not None:
        return Path(os.fspath(cache_dir)).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "genzoo" / "features"


def feature_cache_path(key: str, kind: str, *, cache_dir: str | os.PathLike[str] | None = None,
                       settings: dict[str, Any] | None = None) -> Path:
    """The cache file of the ``kind`` feature network of the data ``key`` (its name and
    fingerprint): ``<dir>/<key>-<kind>-v2.pt``, with a hash of ``settings`` before ``.pt`` when
    they are not the defaults (``None``)."""
    name = f"{key}-{kind}-v{CACHE_VERSION}"
    if settings:
        name += "-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return feature_cache_dir(cache_dir) / f"{name}.pt"


def read_cache(path: Path) -> dict[str, Any] | None:
    """The cached payload at ``path``; ``None`` when there is none or it cannot be used (with a
    :class:`FeatureCacheWarning` saying why)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways; all mean "retrain"
        warn_unusable(path, f"it cannot be read ({_first_line(err)})")
        return None
    if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT:
        warn_unusable(path, "it is not a genzoo feature network")
        return None
    if payload.get("format_version") != CACHE_VERSION:
        warn_unusable(path, f"it has version {payload.get('format_version')!r}, not {CACHE_VERSION}")
        return None
    return payload


def write_cache(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (a crash leaves the previous file intact)."""
    return write_checkpoint(payload, path)


def cache_write_problem(folder: Path) -> str | None:
    """Why feature networks cannot be cached in ``folder`` (created if needed), or ``None``."""
    try:
        probe_writable(folder)
    except OSError as err:
        return f"{err.filename or folder}: {err.strerror or err}"
    return None


def keep_or_warn(path: Path, payload: dict[str, Any]) -> bool:
    """Write a cache file; when it cannot be written, warn (naming the setting that moves the
    cache) and go on: what was computed is used all the same, just not kept.

    Returns:
        Whether the file was written.
    """
    try:
        write_cache(path, payload)
    except OSError as err:
        warn_unwritable(path.parent, f"{err.filename or path}: {err.strerror or err}")
        return False
    return True


def warn_unwritable(folder: Path, reason: str) -> None:
    """Warn that feature networks cannot be cached in ``folder`` for ``reason``."""
    warnings.warn(
        f"cannot write the feature network cache {folder} ({reason}): what is computed now is "
        "used for this evaluation but not kept, so the next one trains it again; set "
        "XDG_CACHE_HOME to a writable folder (feature networks go to "
        "$XDG_CACHE_HOME/genzoo/features; cache_dir= in Python)", FeatureCacheWarning, stacklevel=3)


def warn_unusable(path: Path, reason: str) -> None:
    """Warn that the cache file at ``path`` cannot be used for ``reason`` and is retrained."""
    warnings.warn(f"the cached feature network {path} is unusable: {reason}; training it again",
                  FeatureCacheWarning, stacklevel=4)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
