"""Settings and data that pass the type checks and then break: refused up front, by name.

Optimizer settings torch refuses, non-finite numbers, sizes that ask for terabytes, labels
outside ``[0, num_classes)`` and folders with more classes than ``num_classes``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import genzoo
from genzoo.errors import ConfigError
from genzoo.memory import check_sample_size, format_bytes, sample_memory
from genzoo.labels import check_data_labels as check_labels
from genzoo.data import ImageSet
from tests.cli import FAST, TINY_VAE, invoke, ok, tiny_root, user_error, write_pngs  # noqa: F401

NON_FINITE = ["nan", "inf", "-inf", "NaN", "Infinity"]


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize(("model", "key"), [("vae", "beta"), ("vae", "lr"), ("gan", "lr")])
def test_non_finite_numbers_are_refused_at_build(model: str, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key} must (be a finite number|not be negative)"):
        genzoo.build(model, **{key: value})


@pytest.mark.parametrize("betas", ["nan,0.9", "0.5,inf"])
def test_non_finite_numbers_in_tuples_are_refused(betas: str) -> None:
    with pytest.raises(ConfigError, match="betas must be a finite number"):
        genzoo.build("gan", betas=betas)


@pytest.mark.parametrize(("model", "settings", "fragment"), [
    ("vae", {"lr": -1e-3}, "Invalid learning rate: -0.001"),
    ("gan", {"lr": -0.5}, "Invalid learning rate"),
    ("gan", {"betas": (0.5, 1.0)}, "Invalid beta parameter at index 1"),
    ("gan", {"betas": (1.5, 0.9)}, "Invalid beta parameter at index 0"),
    ("gan", {"betas": (-0.1, 0.9)}, "Invalid beta parameter at index 0"),
])
def test_optimizer_settings_torch_refuses_fail_at_build(model, settings, fragment) -> None:
    with pytest.raises(ConfigError, match=rf"cannot build '{model}': its optimizer refuses these "
                                          rf"settings: {fragment}"):
        genzoo.build(model, **settings)


@pytest.mark.parametrize(("model", "settings"), [
    ("vae", {"hidden_dim": 10**9}),
    ("vae", {"hidden_dim": "1000000000"}),
    ("vae", {"latent_dim": 10**8}),
    ("gan", {"generator_widths": (10**5,) * 4}),
    ("vae", {"image_shape": (3, 100_000, 100_000)}),
])
def test_sizes_that_ask_for_terabytes_are_refused_with_the_estimate(model, settings) -> None:
    with pytest.raises(ConfigError, match=r"parameters, [\d.]+ [GTP]B of weights alone .* more "
                                          r"than the [\d.]+ [MG]B this process may still use"):
        genzoo.build(model, **settings)


def test_large_settings_that_fit_still_build() -> None:
    assert genzoo.build("vae", hidden_dim=4096, latent_dim=2).config.hidden_dim == 4096


def test_the_cli_refuses_before_loading_data(tmp_path: Path) -> None:
    for settings, fragment in ((["--set", "hidden_dim=1000000000"], "of weights alone"),
                               (["--set", "beta=nan"], "beta must be a finite number"),
                               (["--set", "lr=-1"], "Invalid learning rate")):
        user_error(invoke("train", "vae", "--data", tmp_path / "nowhere", "--out", tmp_path / "r",
                          *settings), fragment)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("count", [10**8, 10**9, 2**40])
def test_sampling_terabytes_is_refused_with_the_estimate(count: int) -> None:
    model = genzoo.build("vae", hidden_dim=8, latent_dim=2)
    with pytest.raises(ConfigError, match=rf"-n {count} images of 1x28x28 need about "
                                          rf"{format_bytes(sample_memory(model, count))} of memory"):
        check_sample_size(model, count)
    check_sample_size(model, 10_000)


def test_genzoo_sample_refuses_terabytes_in_one_line(tiny_root: Path, tmp_path: Path) -> None:
    ok(invoke("train", "vae", "--data-root", tiny_root, "--epochs", "1", "--out", tmp_path / "r",
              *FAST, *TINY_VAE))
    user_error(invoke("sample", tmp_path / "r/checkpoints/last.pt", "-n", "100000000",
                      "-o", tmp_path / "s.png"), "-n 100000000 images", "draw at most")
    assert not (tmp_path / "s.png").exists()


def _labelled(labels: list[int], classes: tuple[str, ...] | None = None) -> ImageSet:
    return ImageSet(images=torch.zeros(len(labels), 1, 4, 4, dtype=torch.uint8),
                    labels=torch.tensor(labels), name="digits", classes=classes)


@pytest.mark.parametrize("num_classes", [2, 3, 10])
def test_every_label_boundary(num_classes: int) -> None:
    model = genzoo.build("vae", num_classes=num_classes, hidden_dim=8, latent_dim=2)
    for label in range(-2, num_classes + 2):
        inside = 0 <= label < num_classes
        if inside:
            check_labels(_labelled([0, label]), model, "vae")
        else:
            with pytest.raises(ConfigError, match=rf"has label {label}, outside 0 to "
                                                  rf"{num_classes - 1} \(num_classes={num_classes}\)"):
                check_labels(_labelled([0, label] if label >= 0 else [label, 0]), model, "vae")
    check_labels(_labelled([num_classes + 5]), genzoo.build("vae", hidden_dim=8), "vae")  # unconditional


def test_a_folder_with_more_classes_than_num_classes(tmp_path: Path) -> None:
    folder = write_pngs(tmp_path / "pets", 6, size=8, mode="L", classes=("a", "b", "c"))
    message = user_error(invoke("train", "vae", "--data", folder, "--set", "num_classes=2",
                                "--out", tmp_path / "r", *FAST, *TINY_VAE),
                         "pets has 3 classes (a, b, c)", "num_classes=2", "--set num_classes=3")
    assert message
    assert not (tmp_path / "r").exists()
    ok(invoke("train", "vae", "--data", folder, "--set", "num_classes=3", "--epochs", "1",
              "--out", tmp_path / "r", *FAST, *TINY_VAE))
