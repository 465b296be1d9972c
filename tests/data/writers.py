"""Tiny data sets written in each named set's real on-disk format, in torchvision's layout.

Every writer returns the images as they must load (``uint8`` ``N×C×H×W``, upright) and the
labels, so tests compare what genzoo reads with what was written.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from genzoo.data import write_idx


def _images(rng: np.random.Generator, n: int, c: int, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, c, h, w), dtype=np.uint8)


def write_cifar(root: Path, *, hundred: bool = False, per_batch: int = 3,
                seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``cifar-10-batches-py/`` (or ``cifar-100-python/``) with pickled batches as the real ones."""
    rng = np.random.default_rng(seed)
    classes = 100 if hundred else 10
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True, exist_ok=True)
    label_key = "fine_labels" if hundred else "labels"
    train_files = ["train"] if hundred else [f"data_batch_{i}" for i in range(1, 6)]
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, files in (("train", train_files), ("test", ["test" if hundred else "test_batch"])):
        all_x, all_y = [], []
        for f in files:
            x = _images(rng, per_batch, 3, 32, 32)
            y = rng.integers(0, classes, size=per_batch)
            batch = {"batch_label": f"batch {f}", "data": x.reshape(per_batch, 3072),
                     label_key: [int(v) for v in y], "filenames": [f"img{i}.png" for i in range(per_batch)]}
            if hundred:
                batch["coarse_labels"] = [int(v) // 5 for v in y]
            (folder / f).write_bytes(pickle.dumps(batch, protocol=2))
            all_x.append(x)
            all_y.append(y)
        splits[split] = (np.concatenate(all_x), np.concatenate(all_y))
    meta = ({"fine_label_names": [f"class{i}" for i in range(100)],
             "coarse_label_names": [f"super{i}" for i in range(20)]} if hundred else
            {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                             "ship", "truck"], "num_cases_per_batch": per_batch, "num_vis": 3072})
    (folder / ("meta" if hundred else "batches.meta")).write_bytes(pickle.dumps(meta, protocol=2))
    return splits


def cifar_tarball(root: Path, out: Path) -> Path:
    """``cifar-10-python.tar.gz`` holding ``root/cifar-10-batches-py/``, as the real archive."""
    with tarfile.open(out, "w:gz") as tar:
        tar.add(root / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return out


def write_svhn(root: Path, splits: dict[str, int], seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``SVHN/{split}_32x32.mat`` (MATLAB v5) with ``X`` 32×32×3×N and ``y`` N×1, 10 for the digit 0."""
    import scipy.io

    rng = np.random.default_rng(seed)
    (root / "SVHN").mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in splits.items():
        x = _images(rng, n, 3, 32, 32)
        y = rng.integers(0, 10, size=n)
        y[0] = 0  # the digit 0, stored as 10
        stored = np.where(y == 0, 10, y).astype(np.uint8).reshape(n, 1)
        scipy.io.savemat(root / "SVHN" / f"{split}_32x32.mat", {"X": x.transpose(2, 3, 1, 0), "y": stored})
        out[split] = (x, y)
    return out


def write_stl10(root: Path, *, train: int = 4, test: int = 3, unlabeled: int = 5,
                seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """``stl10_binary/*_X.bin`` (column-major 3×96×96 images) and ``*_y.bin`` (labels 1..10)."""
    rng = np.random.default_rng(seed)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for split, n in (("train", train), ("test", test), ("unlabeled", unlabeled)):
        x = _images(rng, n, 3, 96, 96)
        (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(x.transpose(0, 1, 3, 2)).tobytes())
        y = None
        if split != "unlabeled":
            y = rng.integers(0, 10, size=n)
            (folder / f"{split}_y.bin").write_bytes((y + 1).astype(np.uint8).tobytes())
        out[split] = (x, y)
    (folder / "class_names.txt").write_text(
        "\n".join(["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]) + "\n")
    return out


def write_emnist(root: Path, variant: str, *, train: int = 6, test: int = 4, classes: int = 47,
                 offset: int = 0, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``EMNIST/raw/emnist-{variant}-{split}-*-ubyte``, images stored transposed as EMNIST's are."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", train), ("test", test)):
        x = _images(rng, n, 1, 28, 28)
        y = rng.integers(0, classes, size=n)
        raw = root / "EMNIST" / "raw"
        write_idx(raw / f"emnist-{variant}-{split}-images-idx3-ubyte", x[:, 0].transpose(0, 2, 1))
        write_idx(raw / f"emnist-{variant}-{split}-labels-idx1-ubyte", (y + offset).astype(np.uint8))
        out[split] = (x, y)
    return out


#: CelebA's aligned image size (height, width).
CELEBA_HW = (218, 178)


def write_celeba(root: Path, partition: list[int], seed: int = 0) -> np.ndarray:
    """``celeba/img_align_celeba/NNNNNN.jpg`` (178×218 JPEGs) and the five text files.

    Each image's central 178×178 square is one flat colour and the bands above and below it
    another, so a correct centre crop shows only the first. Returns the flat colours ``N×3``.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = root / "celeba"
    images = folder / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    n = len(partition)
    colours = rng.integers(30, 226, size=(n, 3), dtype=np.uint8)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name, colour in zip(names, colours):
        pixels = np.empty((*CELEBA_HW, 3), dtype=np.uint8)
        pixels[:] = colour + 128  # wraps: every channel 128 away from the centre
        top = (CELEBA_HW[0] - CELEBA_HW[1]) // 2
        pixels[top : top + CELEBA_HW[1]] = colour
        Image.fromarray(pixels).save(images / name, quality=95)
    (folder / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(names, partition)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{f} {i % 7 + 1}\n" for i, f in enumerate(names)))
    attrs = ["5_o_Clock_Shadow", "Smiling"]
    (folder / "list_attr_celeba.txt").write_text(
        f"{n}\n{' '.join(attrs)}\n" + "".join(f"{f} {' '.join('1' if (i + j) % 2 else '-1' for j in range(2))}\n"
                                            for i, f in enumerate(names)))
    return colours


def pickled_exploit() -> bytes:
    """A pickle that would call ``os.system`` if unpickled without restrictions."""

    class Exploit:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, ("echo pwned",))

    buffer = io.BytesIO()
    pickle.dump({"data": Exploit()}, buffer, protocol=2)
    return buffer.getvalue()
