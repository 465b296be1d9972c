"""SVHN: the cropped-digits ``*_32x32.mat`` files (MATLAB v5, read with scipy).

``X`` is ``32×32×3×N`` ``uint8``; ``y`` is ``N×1`` with the digit 0 stored as 10, mapped back
to 0 as torchvision does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genzoo.data.errors import DataError
from genzoo.extras import require

__all__ = ["read_mat"]


def read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an SVHN ``.mat`` file.

    Returns:
        ``uint8`` images ``N×3×32×32`` and ``int64`` labels in ``0..9``.

    Raises:
        DataError: The file is unreadable or its arrays have the wrong shapes.
    """
    scipy_io = require("scipy.io", "datasets", "Reading SVHN's .mat files")

    try:
        mat = scipy_io.loadmat(path, variable_names=["X", "y"])
    except (OSError, ValueError, TypeError, EOFError, NotImplementedError) as e:
        raise DataError(f"Could not read {path} ({type(e).__name__}: {e}); it is not an intact "
                        f"SVHN .mat file. Delete it and download it again.") from e
    x, y = mat.get("X"), mat.get("y")
    if (x is None or y is None or x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8
            or y.size != x.shape[3]):
        got = "missing arrays" if x is None or y is None else f"X {x.dtype} {x.shape}, y {y.shape}"
        raise DataError(f"{path} is not an SVHN file: expected X uint8 32x32x3xN and y with N labels, "
                        f"got {got}. Delete it and download it again.")
    labels = y.reshape(-1).astype(np.int64)
    labels[labels == 10] = 0
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path} has labels outside 0..10; delete it and download it again.")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels
