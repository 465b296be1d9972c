"""A checkpoint damaged anywhere gives CheckpointError, never another exception type, and never
loads as different weights: every byte position of a small checkpoint is changed in turn."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import genzoo
from genzoo.checkpoint import FORMAT, FORMAT_VERSION, read_checkpoint, write_checkpoint
from genzoo.errors import CheckpointError


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict]:
    """A minimal genzoo checkpoint (every entry read_checkpoint checks, one weight tensor):
    about 1.7 kB, so that changing every byte in turn takes seconds."""
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    write_checkpoint({"format": FORMAT, "format_version": FORMAT_VERSION, "model": "vae",
                      "config": {"hidden_dim": 1, "image_shape": (1, 2, 2)},
                      "state_dict": {"w": torch.arange(4.0)}}, path)
    return path.read_bytes(), read_checkpoint(path)


def _same(a: dict, b: dict) -> bool:
    return (a["model"] == b["model"] and a["config"] == b["config"]
            and a["state_dict"].keys() == b["state_dict"].keys()
            and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"]))


def _check_all(data: bytes, reference: dict, path: Path, positions, change) -> tuple[int, int]:
    refused = harmless = 0
    for i in positions:
        damaged = bytearray(data)
        change(damaged, i)
        path.write_bytes(bytes(damaged))
        try:
            payload = read_checkpoint(path)
        except CheckpointError:
            refused += 1
            continue
        assert _same(payload, reference), f"byte {i} changed: loaded as other weights, silently"
        harmless += 1
    return refused, harmless


@pytest.mark.slow
def test_every_byte_flipped(small, tmp_path: Path) -> None:
    data, reference = small
    refused, harmless = _check_all(data, reference, tmp_path / "d.pt", range(len(data)),
                                   lambda d, i: d.__setitem__(i, d[i] ^ 0xFF))
    assert refused + harmless == len(data) and refused > len(data) // 2


@pytest.mark.parametrize("bit", [0x01, 0x10, 0x80])
def test_single_bits_at_a_dense_sample_of_positions(small, tmp_path: Path, bit: int) -> None:
    data, reference = small
    _check_all(data, reference, tmp_path / "d.pt", range(bit % 7, len(data), 5),
               lambda d, i: d.__setitem__(i, d[i] ^ bit))


def test_every_truncation_and_an_appended_tail(small, tmp_path: Path) -> None:
    data, reference = small
    path = tmp_path / "d.pt"
    for length in range(len(data)):
        path.write_bytes(data[:length])
        with pytest.raises(CheckpointError):
            read_checkpoint(path)
    path.write_bytes(data + b"trailing garbage")
    try:
        assert _same(read_checkpoint(path), reference)
    except CheckpointError:
        pass


def test_load_of_a_damaged_runner_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    model = genzoo.build("vae", hidden_dim=4, latent_dim=2, seed=0)
    model.fit([torch.rand(4, 1, 28, 28)], epochs=1, out=tmp_path / "run", device="cpu",
              progress=False, grid_every=0)
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    data = path.read_bytes()
    damaged_path = tmp_path / "d.pt"
    for i in range(0, len(data), max(1, len(data) // 25)):
        damaged = bytearray(data)
        damaged[i] ^= 0xFF
        damaged_path.write_bytes(bytes(damaged))
        try:
            genzoo.load(damaged_path)
        except CheckpointError:
            pass
