"""CIFAR-10 and CIFAR-100: the "python version" pickled batches.

A batch file is a pickled ``dict`` with ``"data"`` (``N×3072`` ``uint8``, each row the red,
green and blue 32×32 planes) and ``"labels"`` (CIFAR-10) or ``"fine_labels"`` (CIFAR-100);
the meta file holds the class names. The files come from Python 2, so they are unpickled with
``encoding="latin1"`` as torchvision does, but through an unpickler that only rebuilds numpy
arrays and plain containers: a tampered file cannot run code.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from genzoo.data.errors import DataError

__all__ = ["read_batches", "read_class_names"]

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

# The only globals a CIFAR pickle names: numpy's array reconstructors (and, in a file
# re-pickled by Python 3 with protocol 2, the codec that rebuilds bytes).
_ALLOWED = {
    ("_codecs", "encode"): codecs.encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return found


def _unpickle(path: Path) -> dict[str, Any]:
    try:
        data = _ArraysOnly(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as e:
        raise DataError(
            f"Could not read {path} ({type(e).__name__}: {e}): it is not an intact CIFAR batch "
            f"file. Delete it and download the data set again."
        ) from e
    if not isinstance(data, dict):
        raise DataError(f"{path} holds a {type(data).__name__}, not a CIFAR batch (a dict). "
                        f"Delete it and download the data set again.")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in data.items()}


def read_batches(paths: list[Path], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and concatenate CIFAR batch files.

    Args:
        paths: The batch files, in order.
        label_key: ``"labels"`` (CIFAR-10) or ``"fine_labels"`` (CIFAR-100).

    Returns:
        ``uint8`` images ``N×3×32×32`` and ``int64`` labels.

    Raises:
        DataError: A file is unreadable or does not hold ``N×3072`` images with ``N`` labels.
    """
    images, labels = [], []
    for path in paths:
        batch = _unpickle(path)
        data, lab = batch.get("data"), batch.get(label_key)
        data = np.asarray(data) if data is not None else None
        if data is None or lab is None or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            what = "missing" if data is None else f"{data.dtype} {data.shape}"
            raise DataError(
                f"{path} is not a CIFAR batch: expected 'data' as uint8 N x 3072 and "
                f"'{label_key}', got data {what}. Delete it and download the data set again."
            )
        lab = np.asarray(lab, dtype=np.int64).reshape(-1)
        if len(lab) != len(data):
            raise DataError(f"{path} has {len(data)} images but {len(lab)} labels. "
                            f"Delete it and download the data set again.")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def read_class_names(path: Path, key: str) -> tuple[str, ...]:
    """The class names stored under ``key`` in a CIFAR meta file.

    Raises:
        DataError: The file is unreadable or lacks ``key``.
    """
    names = _unpickle(path).get(key)
    if not isinstance(names, list) or not all(isinstance(n, (str, bytes)) for n in names):
        raise DataError(f"{path} has no list of class names under {key!r}. "
                        f"Delete it and download the data set again.")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else n for n in names)
