"""Reading and writing the IDX format used by MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, ``ndim``
big-endian ``uint32`` dimensions, then the array data in C order (big-endian for
multi-byte types). Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip as _gzip
import os
from pathlib import Path

import numpy as np

from genzoo.data.errors import DataError

__all__ = ["read_idx", "write_idx"]

# IDX type code -> big-endian numpy dtype.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_SIZE_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in _CODE_TO_DTYPE.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 16


def _fix_hint(path: Path) -> str:
    return f"Delete {path} and download it again, or replace it with an intact copy."


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    The header is validated before the data are used: the magic number, the
    number of dimensions and that the file holds exactly as many bytes as the
    dimensions announce, so a truncated download gives a clear error.

    Args:
        path: The file to read. Gzip compression is detected from the content,
            not the name.

    Returns:
        A writable array in native byte order with the file's shape and dtype
        (``uint8`` for MNIST images and labels).

    Raises:
        DataError: If the file is missing, unreadable, not IDX, or truncated.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise DataError(
            f"IDX file {path} does not exist. Check the path, or download the data set again."
        )
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == _GZIP_MAGIC:
                with _gzip.GzipFile(fileobj=f) as gz:
                    buf = bytearray(gz.read())
            else:
                buf = bytearray(os.fstat(f.fileno()).st_size)
                n = f.readinto(buf)
                del buf[n:]
    except (OSError, EOFError, _gzip.BadGzipFile) as e:
        raise DataError(
            f"Could not read IDX file {path} ({type(e).__name__}: {e}); the file is "
            f"unreadable or a truncated/corrupted gzip archive. {_fix_hint(path)}"
        ) from e
    return _parse(buf, path)


def _parse(buf: bytearray, path: Path) -> np.ndarray:
    if len(buf) < 4:
        raise DataError(
            f"{path} is not an IDX file: it has only {len(buf)} bytes, fewer than the "
            f"4-byte header. {_fix_hint(path)}"
        )
    zero0, zero1, code, ndim = buf[0], buf[1], buf[2], buf[3]
    if zero0 != 0 or zero1 != 0 or code not in _CODE_TO_DTYPE or not 1 <= ndim <= _MAX_NDIM:
        raise DataError(
            f"{path} is not an IDX file: bad magic number 0x{bytes(buf[:4]).hex()} "
            f"(expected 0x0000 followed by a type code in "
            f"{{{', '.join(f'0x{c:02x}' for c in _CODE_TO_DTYPE)}}} and 1-{_MAX_NDIM} dimensions). "
            f"{_fix_hint(path)}"
        )
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise DataError(
            f"{path} is truncated: its header announces {ndim} dimensions "
            f"({header} header bytes) but the file has only {len(buf)} bytes. {_fix_hint(path)}"
        )
    shape = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _CODE_TO_DTYPE[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(buf) - header
    if found != expected:
        what = "truncated" if found < expected else "corrupted (it has trailing bytes)"
        raise DataError(
            f"{path} is {what}: its header announces shape {shape} of {dtype.newbyteorder('=')} "
            f"({expected} data bytes) but the file holds {found} data bytes. {_fix_hint(path)}"
        )
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def _idx_array(array: np.ndarray, path: Path) -> tuple[int, np.ndarray]:
    """Pick the IDX type code for ``array`` and return it with a big-endian copy."""
    arr = np.asarray(array)
    code = _KIND_SIZE_TO_CODE.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None and arr.dtype.kind in "iub":
        # Integer types IDX cannot store (int64 labels, bool, ...): narrow if lossless.
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if 0 <= lo and hi <= 0xFF:
            code = 0x08
        elif -(2**31) <= lo and hi < 2**31:
            code = 0x0C
    if code is None:
        raise DataError(
            f"Cannot write a {arr.dtype} array to {path}: IDX stores uint8, int8, int16, "
            f"int32, float32 and float64 (other integer arrays are narrowed to uint8 or "
            f"int32 when their values fit). Convert the array with .astype(...) first."
        )
    if arr.ndim < 1 or arr.ndim > _MAX_NDIM:
        raise DataError(
            f"Cannot write a {arr.ndim}-dimensional array to {path}: IDX needs 1 to "
            f"{_MAX_NDIM} dimensions. Reshape the array first."
        )
    if any(d >= 2**32 for d in arr.shape):
        raise DataError(f"Cannot write shape {arr.shape} to {path}: IDX dimensions must be < 2**32.")
    return code, np.ascontiguousarray(arr, dtype=_CODE_TO_DTYPE[code])


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, gzip: bool = False
) -> Path:
    """Write an array in the IDX format.

    Args:
        path: Destination file (parent folders are created). The name is used
            as given; add ``.gz`` yourself when ``gzip`` is true if you want it.
        array: The data. ``uint8``, ``int8``, ``int16``, ``int32``, ``float32``
            and ``float64`` are stored as such; other integer arrays (e.g.
            ``int64`` labels) are stored as ``uint8`` if all values are in
            0..255, else as ``int32`` if they fit.
        gzip: Compress the file with gzip.

    Returns:
        The path written.

    Raises:
        DataError: If the array's dtype or shape cannot be stored in IDX.
    """
    path = Path(os.fspath(path))
    code, arr = _idx_array(array, path)
    header = bytes([0, 0, code, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = _gzip.open if gzip else open
    with opener(path, "wb") as f:
        f.write(header)
        f.write(arr.tobytes())
    return path
