"""Helpers for the command-line tests: an in-process runner and small generated data.

The fixtures here are imported by the test modules that use them (``from tests.cli import
tiny_root``), as ``tests.plugin_packages`` does for ``install_plugin``.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from genzoo.cli import main
from genzoo.data import write_idx

#: Small model settings that keep each training step cheap.
TINY_VAE = ("--set", "hidden_dim=32", "--set", "latent_dim=4")
TINY_GAN = ("--set", "latent_dim=8", "--set", "generator_widths=16,16,16,16",
            "--set", "discriminator_widths=16,16")
#: Run options every test training run shares: CPU, small batches, no progress bar.
FAST = ("--device", "cpu", "--batch-size", "16", "--no-progress")

_PLUGIN_ENV = {"GENZOO_PLUGINS": None, "GENZOO_BLOCK_PLUGINS": None}


def invoke(*args: Any, env: dict[str, str | None] | None = None) -> Result:
    """Run ``genzoo ARGS`` in this process through click's test runner.

    The plugin-selection variables are cleared for the call (and restored after it), so a
    ``--plugins``/``--block-plugins`` run cannot leak into the next test.
    """
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="genzoo",
                              env={**_PLUGIN_ENV, **(env or {})})


def _explain(result: Result) -> str:
    text = f"exit code {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        text += "\n--- exception\n" + "".join(traceback.format_exception(*result.exc_info))
    return text


def ok(result: Result) -> Result:
    """Assert a command succeeded; return its result."""
    assert result.exit_code == 0, _explain(result)
    assert "Traceback" not in result.output
    return result


def user_error(result: Result, *fragments: str, one_line: bool = True) -> str:
    """Assert a user error: exit status 2, no traceback, nothing on stdout, and exactly one
    ``Error:`` line on stderr, which is the last line (unless ``one_line`` is false: then
    lines of advice may follow it). Every fragment must appear in the message.

    Returns:
        The message from ``Error:`` on.
    """
    assert result.exit_code == 2, _explain(result)
    assert isinstance(result.exception, SystemExit), _explain(result)
    assert "Traceback" not in result.output
    assert result.stdout == "", _explain(result)
    lines = result.stderr.strip().splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    assert len(errors) == 1, _explain(result)
    if one_line:
        assert errors[0] == len(lines) - 1, _explain(result)
    message = "\n".join(lines[errors[0]:])
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def info_json(checkpoint: Path) -> dict[str, Any]:
    """``genzoo info CHECKPOINT --json``, parsed."""
    return json.loads(ok(invoke("info", checkpoint, "--json")).stdout)


def write_idx_root(root: Path, folder: str = "MNIST", *, train: int = 64, test: int = 16,
                   seed: int = 0) -> Path:
    """Write the four IDX files of a tiny MNIST-style set into ``root/folder/raw``."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    for split, n in (("train", train), ("t10k", test)):
        images = (rng.random((n, 28, 28)) ** 3 * 255).astype(np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8))
    return root


def write_pngs(folder: Path, count: int, *, size: int = 32, mode: str = "RGB",
               classes: tuple[str, ...] = (), seed: int = 0, jpeg_every: int = 0) -> Path:
    """Write ``count`` random images into ``folder``: flat, or spread over class sub-folders.

    With ``jpeg_every=k``, every k-th image is a JPEG instead of a PNG.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    for i in range(count):
        where = folder / classes[i % len(classes)] if classes else folder
        where.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
        suffix = ".jpg" if jpeg_every and i % jpeg_every == 0 else ".png"
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(where / f"img_{i:03d}{suffix}")
    return folder


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with 64 training images each for MNIST and Fashion-MNIST (4 steps an epoch
    at batch size 16)."""
    root = tmp_path_factory.mktemp("tiny_data")
    write_idx_root(root, "MNIST", seed=0)
    write_idx_root(root, "FashionMNIST", seed=1)
    return root


@pytest.fixture(scope="session")
def rgb_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of 3-channel 32×32 images: ``nested`` (in class sub-folders, some JPEG) and
    ``flat``."""
    base = tmp_path_factory.mktemp("images")
    return {
        "nested": write_pngs(base / "nested", 32, classes=("cats", "dogs"), seed=0, jpeg_every=4),
        "flat": write_pngs(base / "flat", 32, seed=1),
    }
