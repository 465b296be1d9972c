"""``genzoo sample`` and ``genzoo info``, and ``--help`` of every command."""

from __future__ import annotations

import math
from importlib.metadata import version
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.cli import main
from tests.cli import FAST, TINY_VAE, info_json, invoke, ok, tiny_root, user_error  # noqa: F401


@pytest.fixture(scope="module")
def checkpoint(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A VAE trained for one epoch (4 steps) on the tiny MNIST root."""
    run = tmp_path_factory.mktemp("trained") / "vae"
    ok(invoke("train", "vae", "--data-root", tiny_root, "--epochs", "1", "--seed", "0",
              "--out", run, *FAST, *TINY_VAE))
    return run / "checkpoints" / "last.pt"


def _grid_size(n: int, nrow: int, side: int = 28, padding: int = 2) -> tuple[int, int]:
    rows = math.ceil(n / nrow)
    return nrow * side + (nrow + 1) * padding, rows * side + (rows + 1) * padding


# -- sample ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "nrow_option", "nrow"), [(10, [], 3), (16, [], 4), (5, ["--nrow", "5"], 5)])
def test_sample_a_grid(checkpoint: Path, tmp_path: Path, n: int, nrow_option: list[str],
                       nrow: int) -> None:
    out = tmp_path / "deep" / "grid.png"  # missing parent folders are made
    result = ok(invoke("sample", checkpoint, "-n", n, "-o", out, *nrow_option))
    assert result.stdout.strip() == f"wrote a grid of {n} samples to {out}"
    with Image.open(out) as grid:
        assert grid.format == "PNG" and grid.size == _grid_size(n, nrow)


def test_sample_a_jpeg_grid(checkpoint: Path, tmp_path: Path) -> None:
    ok(invoke("sample", checkpoint, "-n", "4", "-o", tmp_path / "grid.JPG"))
    with Image.open(tmp_path / "grid.JPG") as grid:
        assert grid.format == "JPEG" and grid.size == _grid_size(4, 2)


def test_sample_a_folder_of_pngs(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "samples"
    result = ok(invoke("sample", checkpoint, "-n", "7", "-o", out))
    assert f"wrote 7 samples to {out}" in result.stdout
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"sample_{i:05d}.png" for i in range(7)]
    for f in files:
        with Image.open(f) as image:
            assert image.format == "PNG" and image.size == (28, 28)


def test_sample_seed_is_reproducible(checkpoint: Path, tmp_path: Path) -> None:
    def grid(name: str, *seed: str) -> bytes:
        ok(invoke("sample", checkpoint, "-n", "9", "-o", tmp_path / name, *seed))
        return (tmp_path / name).read_bytes()

    assert grid("a.png", "--seed", "5") == grid("b.png", "--seed", "5")
    assert grid("c.png", "--seed", "6") != grid("a.png", "--seed", "5")
    assert grid("d.png") == grid("e.png", "--seed", "0")  # the default seed is 0


def test_sample_bad_input(checkpoint: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    user_error(invoke("sample", missing, "-o", tmp_path / "x.png"), f"no checkpoint file at {missing}")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    user_error(invoke("sample", junk, "-o", tmp_path / "x.png"), str(junk), "corrupted")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(checkpoint.read_bytes()[:5000])  # a truncated download or copy
    user_error(invoke("sample", cut, "-o", tmp_path / "x.png"), str(cut))
    user_error(invoke("sample", checkpoint, "-n", "0"), "'-n'", "0 is not in the range x>=1")
    (tmp_path / "a_file").write_text("taken")
    user_error(invoke("sample", checkpoint, "-o", tmp_path / "a_file"), "a_file is a file")
    if not torch.cuda.is_available():
        user_error(invoke("sample", checkpoint, "--device", "cuda", "-o", tmp_path / "x.png"),
                   "CUDA is not available")
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def conditional_checkpoint(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A class-conditional VAE (10 classes) trained for one epoch on the tiny MNIST root."""
    run = tmp_path_factory.mktemp("trained") / "cvae"
    ok(invoke("train", "vae", "--data-root", tiny_root, "--epochs", "1", "--seed", "0",
              "--out", run, *FAST, *TINY_VAE, "--set", "num_classes=10"))
    return run / "checkpoints" / "last.pt"


def _pngs(folder: Path) -> torch.Tensor:
    """The PNGs of a ``-o folder/`` sample run, in order, as an ``N×H×W`` uint8 tensor."""
    files = sorted(folder.iterdir())
    return torch.stack([torch.from_numpy(np.array(Image.open(f).convert("L"))) for f in files])


def _as_saved(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] as ``save_image`` writes them: 8-bit, rounded."""
    return images[:, 0].mul(255).add(0.5).clamp(0, 255).to(torch.uint8)


def test_sample_chosen_classes_of_a_conditional_model(conditional_checkpoint: Path,
                                                      tmp_path: Path) -> None:
    model = genzoo.load(conditional_checkpoint)
    ok(invoke("sample", conditional_checkpoint, "-n", "4", "--label", "7", "-o", tmp_path / "sevens"))
    sevens = _pngs(tmp_path / "sevens")
    assert torch.equal(sevens, _as_saved(model.sample(4, seed=0, labels=7)))
    assert not torch.equal(sevens, _as_saved(model.sample(4, seed=0, labels=2)))
    # Repeated, the classes alternate image by image.
    ok(invoke("sample", conditional_checkpoint, "-n", "5", "--label", "3", "--label", "8",
              "-o", tmp_path / "mixed"))
    expected = model.sample(5, seed=0, labels=torch.tensor([3, 8, 3, 8, 3]))
    assert torch.equal(_pngs(tmp_path / "mixed"), _as_saved(expected))
    # Without --label, the classes come in turn (0, 1, 2, ...), as model.sample gives them.
    ok(invoke("sample", conditional_checkpoint, "-n", "3", "-o", tmp_path / "default"))
    expected = model.sample(3, seed=0, labels=torch.tensor([0, 1, 2]))
    assert torch.equal(_pngs(tmp_path / "default"), _as_saved(expected))
    # A grid of two classes, one per column.
    ok(invoke("sample", conditional_checkpoint, "-n", "4", "--label", "1", "--label", "6",
              "--nrow", "2", "-o", tmp_path / "grid.png"))
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == _grid_size(4, 2)


def test_sample_label_errors(checkpoint: Path, conditional_checkpoint: Path, tmp_path: Path) -> None:
    user_error(invoke("sample", checkpoint, "--label", "3", "-o", tmp_path / "x.png"),
               "Invalid value for --label", "not class-conditional", "sample it without --label")
    user_error(invoke("sample", conditional_checkpoint, "-n", "1", "--label", "3", "--label", "8",
                      "-o", tmp_path / "x.png"),
               "Invalid value for --label", "2 classes for 1 images", "-n 2 or more")
    user_error(invoke("sample", conditional_checkpoint, "--label", "10", "-o", tmp_path / "x.png"),
               "Invalid value for --label", "class 10 does not exist", "10 classes, 0 to 9")
    user_error(invoke("sample", conditional_checkpoint, "--label", "-1", "-o", tmp_path / "x.png"),
               "'--label'", "-1 is not in the range x>=0")
    assert not (tmp_path / "x.png").exists()


# -- info -----------------------------------------------------------------------------------


def test_info_human(checkpoint: Path) -> None:
    lines = ok(invoke("info", checkpoint)).stdout.splitlines()
    assert lines[0] == "model:    vae"
    assert lines[1] == "trained:  1 epoch, 4 steps"
    assert lines[2] == "resume:   yes"
    assert lines[3].startswith(f"versions: genzoo {version('genzoo')}, torch {torch.__version__}")
    assert "config:" in lines
    for setting in ("image_shape = [1, 28, 28]", "hidden_dim = 32", "latent_dim = 4", "beta = 1.0"):
        assert f"  {setting}" in lines
    assert "last epoch:" in lines and any(line.startswith("  loss = ") for line in lines)


def test_info_json(checkpoint: Path) -> None:
    data = info_json(checkpoint)
    assert data["model"] == "vae" and data["file"] == str(checkpoint)
    expected = {"image_shape": [1, 28, 28], "hidden_dim": 32, "latent_dim": 4, "beta": 1.0}
    assert {k: data["config"][k] for k in expected} == expected
    assert data["config"] == genzoo.load(checkpoint).config_dict() | {"image_shape": [1, 28, 28]}
    assert (data["epochs"], data["steps"], data["mid_epoch_batch"]) == (1, 4, None)
    assert data["resumable"] is True
    assert data["versions"]["genzoo"] == version("genzoo")
    assert data["versions"]["torch"] == torch.__version__
    assert data["metrics"]["epoch"] == 1 and data["metrics"]["loss"] > 0


def test_info_of_a_run_folder_shows_its_last_checkpoint(checkpoint: Path) -> None:
    run = checkpoint.parent.parent
    assert info_json(run) == info_json(checkpoint)  # "file" names the checkpoint, not the folder
    assert ok(invoke("info", run)).stdout == ok(invoke("info", checkpoint)).stdout


def test_info_and_sample_a_weights_only_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    genzoo.build("vae", hidden_dim=8, latent_dim=2, image_shape=(1, 12, 12)).save(path)
    assert "trained:  weights only" in ok(invoke("info", path)).stdout
    data = info_json(path)
    assert data["epochs"] is None and data["resumable"] is False
    assert data["config"]["image_shape"] == [1, 12, 12]
    ok(invoke("sample", path, "-n", "4", "-o", tmp_path / "g.png"))
    with Image.open(tmp_path / "g.png") as grid:
        assert grid.size == _grid_size(4, 2, side=12)


def test_info_bad_input(tmp_path: Path) -> None:
    user_error(invoke("info", tmp_path / "nope.pt"), "no checkpoint file")
    (tmp_path / "empty.pt").write_bytes(b"")
    user_error(invoke("info", tmp_path / "empty.pt"), "empty.pt")
    user_error(invoke("info", tmp_path), str(tmp_path))  # a folder, not a file
    result = invoke("info")
    assert result.exit_code == 2 and "Missing argument 'CHECKPOINT'" in result.stderr


# -- help -----------------------------------------------------------------------------------


def _commands() -> list[str]:
    with click.Context(main) as ctx:
        return main.list_commands(ctx)


def test_every_command_is_listed_in_the_main_help() -> None:
    text = ok(invoke("--help")).stdout
    assert "Examples" in text
    for name in _commands():
        assert f"  {name} " in text
    assert {"list", "train", "sample", "info"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_help_has_examples(command: str, flag: str) -> None:
    text = ok(invoke(command, flag)).stdout
    assert text.startswith(f"Usage: genzoo {command} ")
    assert "Examples:" in text and f"genzoo {command}" in text.split("Examples:")[1]


def test_version() -> None:
    assert ok(invoke("--version")).stdout.strip() == f"genzoo, version {version('genzoo')}"


def test_unknown_command() -> None:
    result = invoke("tain")
    assert result.exit_code == 2 and "No such command 'tain'" in result.stderr
    assert "Traceback" not in result.output


def test_sample_refuses_an_unknown_image_extension(tmp_path, vae_ckpt=None):
    from click.testing import CliRunner

    from genzoo.cli import main

    result = CliRunner().invoke(main, ["sample", str(tmp_path / "none.pt"), "-o", str(tmp_path / "x.gif")])
    assert result.exit_code == 2
    assert "x.gif: write a grid as .png or .jpg" in result.output
    assert not (tmp_path / "x.gif").exists()


# -- sampling overrides, steps and weights ----------------------------------------------------


def test_sample_with_a_sampling_option_changes_the_images(checkpoint: Path, tmp_path: Path) -> None:
    ok(invoke("sample", checkpoint, "-n", "4", "-o", tmp_path / "plain.png"))
    ok(invoke("sample", checkpoint, "-n", "4", "-o", tmp_path / "cool.png", "--set", "temperature=0.1"))
    with Image.open(tmp_path / "plain.png") as a, Image.open(tmp_path / "cool.png") as b:
        assert not np.array_equal(np.asarray(a), np.asarray(b))
    cool = genzoo.load(checkpoint, temperature=0.1)
    assert cool.config.temperature == 0.1
    z = torch.randn(4, cool.config.latent_dim, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cool.sample(4, seed=0), cool.generate(z * 0.1).clamp(0, 1))


def test_sample_refuses_a_training_setting(checkpoint: Path, tmp_path: Path) -> None:
    user_error(invoke("sample", checkpoint, "-o", tmp_path / "x.png", "--set", "latent_dim=3"),
               "'latent_dim' is a training setting", "temperature")
    user_error(invoke("sample", checkpoint, "-o", tmp_path / "x.png", "--set", "temp"),
               "'temp' is not KEY=VALUE")
    with pytest.raises(genzoo.ConfigError, match="'beta' is a training setting"):
        genzoo.load(checkpoint, beta=2.0)


def test_sample_steps_need_a_model_that_samples_in_steps(checkpoint: Path, tmp_path: Path) -> None:
    user_error(invoke("sample", checkpoint, "-o", tmp_path / "x.png", "--steps", "5"),
               "samples in one step", "--steps")


def test_sample_weights_ema_needs_a_run_with_an_ema(checkpoint: Path, tmp_path: Path) -> None:
    user_error(invoke("sample", checkpoint, "-o", tmp_path / "x.png", "--weights", "ema"),
               "no weight EMA")
    ok(invoke("sample", checkpoint, "-n", "4", "-o", tmp_path / "raw.png", "--weights", "raw"))
