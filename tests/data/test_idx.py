import gzip
from pathlib import Path

import numpy as np
import pytest

from genzoo.data import DataError, read_idx, write_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path: Path, dtype: str, compress: bool) -> None:
    arr = (np.arange(2 * 3 * 5) % 120 - (0 if dtype == "uint8" else 50)).astype(dtype).reshape(2, 3, 5)
    path = write_idx(tmp_path / "a.idx", arr, gzip=compress)
    out = read_idx(path)
    assert out.dtype == arr.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_header_layout(tmp_path: Path) -> None:
    write_idx(tmp_path / "x", np.zeros((3, 2), np.uint8))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x02"
    assert raw[4:12] == (3).to_bytes(4, "big") + (2).to_bytes(4, "big")
    assert len(raw) == 12 + 6


def test_int64_labels_are_narrowed(tmp_path: Path) -> None:
    write_idx(tmp_path / "l", np.array([0, 9, 3], dtype=np.int64))
    out = read_idx(tmp_path / "l")
    assert out.dtype == np.uint8 and out.tolist() == [0, 9, 3]
    write_idx(tmp_path / "big", np.array([-1, 70000], dtype=np.int64))
    assert read_idx(tmp_path / "big").dtype == np.int32
    with pytest.raises(DataError, match="Cannot write"):
        write_idx(tmp_path / "huge", np.array([2**40]))
    with pytest.raises(DataError, match="Cannot write"):
        write_idx(tmp_path / "c", np.zeros(3, np.complex64))


def test_truncated_file_is_named(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.ones((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as e:
        read_idx(path)
    assert str(path) in str(e.value) and "(4, 28, 28)" in str(e.value)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "f", np.ones(4, np.uint8))
    path.write_bytes(path.read_bytes() + b"xx")
    with pytest.raises(DataError, match="trailing"):
        read_idx(path)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "only 0 bytes"),
        (b"\x00\x00", "only 2 bytes"),
        (b"PK\x03\x04rest", "bad magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01x", "bad magic"),
        (b"\x00\x00\x08\x00", "bad magic"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated"),
    ],
)
def test_bad_headers(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_gzip(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "f.gz", np.arange(5000, dtype=np.int32) * 7919, gzip=True)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="gzip") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "no-suffix"
    write_idx(tmp_path / "plain", np.arange(6, dtype=np.uint8))
    path.write_bytes(gzip.compress((tmp_path / "plain").read_bytes()))
    assert read_idx(path).tolist() == list(range(6))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope")
