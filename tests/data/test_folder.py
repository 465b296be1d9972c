from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import DataError, load_folder


def _save(path: Path, size: tuple[int, int] = (6, 4), mode: str = "L", value: int = 100) -> Path:
    """Save a ``size`` = (width, height) image filled with ``value``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode in ("L", "I;16") else (value, 255 - value, 0)
    Image.new(mode, size, color).save(path)
    return path


def test_flat_grayscale(tmp_path: Path) -> None:
    for i, name in enumerate(["b.png", "a.PNG", "c.bmp"]):
        _save(tmp_path / "imgs" / name, value=10 * (i + 1))
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    _save(tmp_path / "imgs" / ".hidden.png")
    s = load_folder(tmp_path / "imgs")
    assert s.images.shape == (3, 1, 4, 6) and s.images.dtype == torch.uint8
    assert s.labels is None and s.classes is None and s.name == "imgs"
    assert s.images[:, 0, 0, 0].tolist() == [20, 10, 30]  # sorted: a.PNG, b.png, c.bmp


def test_nested_gives_labels(tmp_path: Path) -> None:
    _save(tmp_path / "dog" / "1.png")
    _save(tmp_path / "cat" / "2.jpg", mode="RGB")
    _save(tmp_path / "cat" / "deep" / "3.jpeg")
    _save(tmp_path / "emu" / "4.webp")
    s = load_folder(tmp_path)
    assert s.classes == ("cat", "dog", "emu")
    assert s.labels is not None and s.labels.dtype == torch.int64
    assert s.labels.tolist() == [0, 0, 1, 2]  # cat/2.jpg, cat/deep/3.jpeg, dog/1.png, emu/4.webp
    assert s.image_shape == (3, 4, 6)  # one RGB image -> all RGB


def test_mixed_flat_and_nested_has_no_labels(tmp_path: Path) -> None:
    _save(tmp_path / "top.png")
    _save(tmp_path / "sub" / "x.png")
    s = load_folder(tmp_path)
    assert len(s) == 2 and s.labels is None and s.classes is None


def test_channel_conversion(tmp_path: Path) -> None:
    _save(tmp_path / "rgb.png", mode="RGB", value=200)
    _save(tmp_path / "rgba.png", mode="RGBA", value=200)
    assert load_folder(tmp_path).image_shape == (3, 4, 6)
    gray = load_folder(tmp_path, channels=1)
    assert gray.image_shape == (1, 4, 6)
    expected = round(200 * 0.299 + 55 * 0.587)
    assert abs(int(gray.images[0, 0, 0, 0]) - expected) <= 1
    with pytest.raises(DataError, match="channels"):
        load_folder(tmp_path, channels=2)


def test_gray_to_rgb_and_16_bit(tmp_path: Path) -> None:
    arr = np.full((4, 6), 65535, dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "sixteen.png")
    s = load_folder(tmp_path)
    assert s.image_shape == (1, 4, 6) and int(s.images.min()) == 255
    rgb = load_folder(tmp_path, channels=3)
    assert rgb.image_shape == (3, 4, 6) and int(rgb.images.min()) == 255


def test_resize(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", size=(10, 20))
    _save(tmp_path / "b.png", size=(30, 30))
    assert load_folder(tmp_path, size=8).image_shape == (1, 8, 8)
    s = load_folder(tmp_path, size=(8, 12))  # (height, width)
    assert s.image_shape == (1, 8, 12)
    assert int(s.images.min()) == 100 == int(s.images.max())  # a flat colour stays flat
    with pytest.raises(DataError, match="size"):
        load_folder(tmp_path, size=(0, 3))


def test_mixed_sizes_need_size(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", size=(10, 20))
    _save(tmp_path / "b.png", size=(30, 30))
    with pytest.raises(DataError, match="size=") as e:
        load_folder(tmp_path)
    assert str(tmp_path / "b.png") in str(e.value)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="No images") as e:
        load_folder(tmp_path)
    assert str(tmp_path) in str(e.value) and ".png" in str(e.value) and ".jpg" in str(e.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "nope")
    _save(tmp_path / "a.png")
    with pytest.raises(DataError, match="not a folder"):
        load_folder(tmp_path / "a.png")


def test_corrupt_file_named(tmp_path: Path) -> None:
    _save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"this is not a png")
    with pytest.raises(DataError) as e:
        load_folder(tmp_path)
    assert str(tmp_path / "bad.png") in str(e.value)


def test_truncated_file_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as e:
        load_folder(tmp_path)
    assert str(tmp_path / "t.png") in str(e.value)
