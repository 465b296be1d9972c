"""Hostile image files: decompression bombs, headers whose sizes overflow, garbled data. Each
gives one DataError naming the file, never a MemoryError, a PIL exception or a hang."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genzoo.data import DataError, load_folder


def _png(width: int, height: int, *, mode: int = 0, depth: int = 8, data: bytes = b"") -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, depth, mode, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(data))
            + chunk(b"IEND", b""))


def _bmp(width: int, height: int, bits: int = 24) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + 16, 0, 0, 14 + len(info)) + info + b"\0" * 16


def _good_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


HOSTILE = {
    "png-huge": _png(0x7FFFFFFF, 0x7FFFFFFF),
    "png-wide": _png(0x7FFFFFFF, 1),
    "png-over-2-31": _png(0xFFFFFFFF, 0xFFFFFFFF),
    "png-zero": _png(0, 0),
    "png-bomb-under-the-hard-limit": _png(20000, 9000, data=b"\0" * 100),
    "png-truncated": _good_png()[:40],
    "png-garbled-data": _png(8, 8, data=b"\xff" * 3),
    "png-bad-depth": _png(8, 8, depth=7),
    "bmp-huge": _bmp(0x7FFFFFFF, 0x7FFFFFFF),
    "bmp-negative": _bmp(-(2**31), -(2**31)),
    "bmp-bits": _bmp(8, 8, bits=999),
    "random-bytes": bytes(range(256)) * 4,
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_one_data_error_naming_it(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "fine.png").write_bytes(_good_png())
    suffix = ".bmp" if name.startswith("bmp") else ".png"
    (folder / f"{name}{suffix}").write_bytes(HOSTILE[name])
    with pytest.raises(DataError, match=rf"{name}\{suffix}"):
        load_folder(folder, size=8)


def test_a_decompression_bomb_is_refused_not_warned_about(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(folder / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64 - 1)  # PIL would only warn
    with pytest.raises(DataError, match=r"bomb\.png is too large to decode safely.*decompression bomb"):
        load_folder(folder)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64)
    assert load_folder(folder).images.shape == (1, 1, 64, 64)


def test_images_that_would_not_fit_in_memory_are_refused_with_the_estimate(tmp_path: Path,
                                                                          monkeypatch) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    monkeypatch.setattr("genzoo.data.folder.physical_memory", lambda: 20_000)
    with pytest.raises(DataError, match=r"3 images of 64x64x3 .* need 36\.9 kB .*--image-size"):
        load_folder(folder)
    assert load_folder(folder, size=8).images.shape == (3, 3, 8, 8)
