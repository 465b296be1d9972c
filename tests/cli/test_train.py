"""``genzoo train``: data sets, run folders, run configs, resuming, image folders, bad input."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import click
import pytest
import torch

import genzoo
from tests.cli import (FAST, TINY_GAN, TINY_VAE, info_json, invoke, ok, rgb_folders,  # noqa: F401
                       tiny_root, user_error, write_idx_root, write_pngs)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test in its own folder, so that a default ``runs/`` never lands in the repo."""
    monkeypatch.chdir(tmp_path)


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- named data sets ------------------------------------------------------------------------


def test_train_mnist_writes_the_run_folder(mnist_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "vae"
    result = ok(invoke("train", "vae", "--data", "mnist", "--epochs", "1", "--max-steps", "3",
                       "--seed", "0", "--out", run, *FAST, *TINY_VAE,
                       env={"GENZOO_DATA": str(mnist_root)}))
    assert "trained vae to step 3 (--max-steps; 0 whole epochs)" in result.stdout
    assert f"run folder: {run}" in result.stdout
    assert f"checkpoint: {run / 'checkpoints' / 'last.pt'}" in result.stdout

    spec = tomllib.loads((run / "train.toml").read_text())
    assert (spec["model"], spec["data"], spec["seed"]) == ("vae", "mnist", 0)
    assert "max_steps" not in spec and "resume" not in spec  # a stopping limit, not a setting
    assert spec["config"] == {"hidden_dim": 32, "latent_dim": 4}  # typed, not strings
    meta = json.loads((run / "run.json").read_text())
    assert meta["model"] == "vae"
    assert meta["config"]["image_shape"] == [1, 28, 28] and meta["config"]["hidden_dim"] == 32
    assert (run / "checkpoints" / "last.pt").is_file()
    grids = sorted((run / "grids").glob("*.png"))
    assert grids and all(_is_png(g) for g in grids)
    [last] = _metrics(run)
    assert last["step"] == 3 and last["loss"] > 0
    assert info_json(run / "checkpoints" / "last.pt")["steps"] == 3


def test_train_dcgan_on_cifar10_takes_the_colour_image_shape(tmp_path: Path) -> None:
    from tests.data.writers import write_cifar

    write_cifar(tmp_path / "data", per_batch=4)
    run = tmp_path / "dcgan"
    result = ok(invoke("train", "dcgan", "--data", "cifar10", "--no-download", "--epochs", "1",
                       "--out", run, "--seed", "0", "--set", "channels=8", "--set", "latent_dim=8",
                       *FAST, env={"GENZOO_DATA": str(tmp_path / "data")}))
    assert "trained dcgan to epoch 1 (step 2)" in result.stdout  # 20 images, batches of 16
    assert json.loads((run / "run.json").read_text())["config"]["image_shape"] == [3, 32, 32]
    assert genzoo.load(run / "checkpoints" / "last.pt").sample(2).shape == (2, 3, 32, 32)


def test_train_conv_vae_on_celeba_streams_64x64_faces(tmp_path: Path) -> None:
    from tests.data.writers import write_celeba

    write_celeba(tmp_path / "data", [0] * 5 + [2])
    run = tmp_path / "faces"
    ok(invoke("train", "conv-vae", "--data", "celeba", "--data-root", tmp_path / "data",
              "--no-download", "--epochs", "1", "--out", run, "--set", "channels=4",
              "--set", "hidden_dim=8", "--set", "latent_dim=2", *FAST))
    assert json.loads((run / "run.json").read_text())["config"]["image_shape"] == [3, 64, 64]
    ok(invoke("train", "conv-vae", "--data", "celeba", "--data-root", tmp_path / "data",
              "--image-size", "32", "--channels", "1", "--no-download", "--epochs", "1",
              "--out", tmp_path / "small", "--set", "channels=4", *FAST))
    assert json.loads((tmp_path / "small" / "run.json").read_text())["config"]["image_shape"] == [1, 32, 32]


def test_train_help_names_every_data_set() -> None:
    from genzoo.data import dataset_names

    text = " ".join(ok(invoke("train", "--help")).stdout.split())
    assert all(name in text for name in dataset_names()) and "stl10:unlabeled" in text


def test_train_named_set_missing_files_is_one_clear_error(tmp_path: Path) -> None:
    message = user_error(invoke("train", "dcgan", "--data", "svhn", "--data-root", tmp_path,
                                "--no-download", "--out", "run"), one_line=False)
    assert "svhn (train split) not found" in message and str(tmp_path / "SVHN" / "train_32x32.mat") in message


def test_train_fashion_mnist_reads_its_own_files(mnist_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "gan"
    ok(invoke("train", "gan", "--data", "fashion-mnist", "--data-root", mnist_root, "--epochs", "1",
              "--max-steps", "2", "--out", run, *FAST, *TINY_GAN))
    spec = tomllib.loads((run / "train.toml").read_text())
    assert (spec["data"], spec["data_root"]) == ("fashion-mnist", str(mnist_root))
    assert info_json(run / "checkpoints" / "last.pt")["config"]["image_shape"] == [1, 28, 28]

    # a root holding only Fashion-MNIST: fashion-mnist trains, mnist names its missing files
    only_fashion = write_idx_root(tmp_path / "only_fashion", "FashionMNIST")
    ok(invoke("train", "vae", "--data", "fashion_mnist", "--data-root", only_fashion,
              "--no-download", "--epochs", "1", "--out", tmp_path / "f", *FAST, *TINY_VAE))
    user_error(invoke("train", "vae", "--data", "mnist", "--data-root", only_fashion,
                      "--no-download", "--out", tmp_path / "m", *FAST),
               str(only_fashion / "MNIST" / "raw"), "train-images-idx3-ubyte", one_line=False)
    assert not (tmp_path / "m").exists()


# -- run configs ----------------------------------------------------------------------------


def test_config_file_with_a_config_table_and_options_overriding_it(tiny_root: Path,
                                                                    tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text(f"""
model = "vae"
data = "mnist"
data_root = "{tiny_root}"
epochs = 1
batch_size = 16
device = "cpu"
seed = 4
out = "from_file"

[config]
hidden_dim = 16
latent_dim = 4
""")
    ok(invoke("train", "--config", "run.toml", "--seed", "7", "--set", "latent_dim=5",
              "--out", "from_cli"))
    assert not Path("from_file").exists()
    spec = tomllib.loads(Path("from_cli/train.toml").read_text())
    assert spec["seed"] == 7 and spec["batch_size"] == 16 and spec["epochs"] == 1
    assert spec["config"] == {"hidden_dim": 16, "latent_dim": 5}
    info = info_json(Path("from_cli/checkpoints/last.pt"))
    assert (info["config"]["hidden_dim"], info["config"]["latent_dim"], info["epochs"]) == (16, 5, 1)
    assert info["steps"] == 4  # 64 images at batch size 16

    # the MODEL argument overrides the file's model, and the [config] table follows it
    user_error(invoke("train", "gan", "--config", "run.toml", "--out", "as_gan"),
               "'gan'", "hidden_dim")


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return genzoo.load(checkpoint).state_dict()


def test_train_toml_is_accepted_back_and_reproduces_the_run(tiny_root: Path, tmp_path: Path) -> None:
    ok(invoke("train", "gan", "--data-root", tiny_root, "--epochs", "2", "--seed", "3",
              "--out", "first", *FAST, *TINY_GAN))
    ok(invoke("train", "--config", "first/train.toml", "--out", "again"))
    first, again = (tomllib.loads(Path(d, "train.toml").read_text()) for d in ("first", "again"))
    assert first.pop("out") == "first" and again.pop("out") == "again"
    assert first == again
    assert first["config"]["generator_widths"] == [16, 16, 16, 16]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")}  # noqa: E731
                          for r in rows]
    assert strip(_metrics(Path("first"))) == strip(_metrics(Path("again")))
    a, b = _weights(Path("first/checkpoints/last.pt")), _weights(Path("again/checkpoints/last.pt"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- resuming -------------------------------------------------------------------------------


def test_resume_without_a_value_continues_the_run_folder(tiny_root: Path) -> None:
    args = ("train", "vae", "--data-root", tiny_root, "--out", "run", "--seed", "1", *FAST, *TINY_VAE)
    ok(invoke(*args, "--epochs", "1"))
    assert info_json(Path("run/checkpoints/last.pt"))["epochs"] == 1
    result = ok(invoke(*args, "--resume", "--epochs", "3"))  # --resume takes no value here
    assert "to epoch 3 (step 12)" in result.stdout
    assert [(m["epoch"], m["step"]) for m in _metrics(Path("run"))] == [(1, 4), (2, 8), (3, 12)]
    info = info_json(Path("run/checkpoints/last.pt"))
    assert (info["epochs"], info["steps"]) == (3, 12)
    assert "resume" not in tomllib.loads(Path("run/train.toml").read_text())
    # asking for fewer epochs than trained: nothing to do, said in one plain warning line
    result = ok(invoke(*args, "--resume", "--epochs", "2"))
    assert "to epoch 3 (step 12)" in result.stdout
    [warning] = result.stderr.splitlines()
    assert warning.startswith("Warning: ") and "already trained to epoch 3" in warning
    assert len(_metrics(Path("run"))) == 3


def test_resume_stopped_mid_epoch_continues_the_step_count(mnist_root: Path) -> None:
    args = ("train", "vae", "--data-root", mnist_root, "--out", "run", "--epochs", "1",
            *FAST, *TINY_VAE)
    ok(invoke(*args, "--max-steps", "2"))
    assert info_json(Path("run/checkpoints/last.pt"))["mid_epoch_batch"] == 2
    ok(invoke(*args, "--max-steps", "5", "--resume"))
    info = info_json(Path("run/checkpoints/last.pt"))
    assert (info["epochs"], info["steps"], info["mid_epoch_batch"]) == (0, 5, 5)


def test_resume_from_a_checkpoint_file_into_a_new_folder(tiny_root: Path) -> None:
    args = ("train", "vae", "--data-root", tiny_root, *FAST, *TINY_VAE)
    ok(invoke(*args, "--epochs", "1", "--out", "a"))
    shutil.copy("a/checkpoints/last.pt", "saved.pt")
    ok(invoke(*args, "--epochs", "2", "--out", "b", "--resume", "saved.pt"))
    assert [m["epoch"] for m in _metrics(Path("b"))] == [2]
    assert info_json(Path("b/checkpoints/last.pt"))["epochs"] == 2
    assert info_json(Path("a/checkpoints/last.pt"))["epochs"] == 1  # the source is untouched


def test_resume_errors(tiny_root: Path) -> None:
    ok(invoke("train", "gan", "--data-root", tiny_root, "--epochs", "1", "--out", "g",
              *FAST, *TINY_GAN))
    base = ("train", "vae", "--data-root", tiny_root, "--epochs", "2", *FAST, *TINY_VAE)
    user_error(invoke(*base, "--out", "v", "--resume", "nope.pt"), "no checkpoint file at nope.pt")
    Path("junk.pt").write_bytes(b"not a checkpoint")
    user_error(invoke(*base, "--out", "v", "--resume", "junk.pt"), "junk.pt", "corrupt")
    user_error(invoke(*base, "--out", "g", "--resume"), "MODEL vae (the run has gan)")
    # the same model with other settings: the differing setting is named
    user_error(invoke("train", "gan", "--data-root", tiny_root, "--epochs", "2", "--out", "g",
                      "--resume", "--set", "latent_dim=9", *FAST),
               "cannot resume g with other settings", "--set latent_dim=9 (the run has 8)")


# -- bad usage ------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "fragments"), [
    (["vae", "--set", "hidden_dim=abc"], ["'hidden_dim' must be an integer", "'abc'"]),
    (["vae", "--set", "beta=yes please"], ["'beta' must be a number"]),
    (["gan", "--set", "betas=0.5"], ["'betas' must be a tuple", "expected 2 items"]),
    (["vae", "--set", "hiden_dim=3"], ["no option 'hiden_dim'", "Did you mean 'hidden_dim'?"]),
    (["vae", "--set", "hidden_dim"], ["--set", "'hidden_dim' is not KEY=VALUE"]),
    (["nosuch"], ["no model named 'nosuch'", "Available models: ", "gan", "vae"]),
    ([], ["name the model to train"]),
    (["vae", "--precision", "64"], ["'--precision'", "'64' is not one of 'auto', '32', 'bf16', '16'"]),
    (["vae", "--epochs", "0"], ["'--epochs'", "0 is not in the range"]),
    (["vae", "--batch-size", "many"], ["'--batch-size'", "'many' is not a valid integer"]),
    (["vae", "--device", "banana"], ["unknown device 'banana'"]),
    (["vae", "--device", "tpu:0"], ["unknown device 'tpu:0'"]),
    (["vae", "--data", "nowhere"], ["'nowhere' is neither a known data set (celeba, cifar10,"]),
    (["vae", "--data", "stl10:bogus"], ["stl10 has no split 'bogus'", "train, test, unlabeled"]),
    (["vae", "--channels", "2"], ["'--channels'", "'2' is not one of '1', '3'"]),
    (["vae", "--config", "missing.toml"], ["'--config'", "'missing.toml' does not exist"]),
    (["vae", "--bogus"], ["--bogus"]),
])
def test_bad_usage_is_one_line_and_exit_2(tiny_root: Path, args: list[str],
                                          fragments: list[str]) -> None:
    user_error(invoke("train", *args, "--data-root", tiny_root, "--out", "run"), *fragments)
    assert not Path("run").exists()  # nothing was written


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_on_a_cpu_machine_is_a_clear_error(tiny_root: Path, device: str) -> None:
    user_error(invoke("train", "vae", "--data-root", tiny_root, "--device", device, "--out", "run"),
               f"device '{device}' was asked for but CUDA is not available here")
    assert not Path("run").exists()


def test_float16_on_the_cpu_is_a_clear_error(tiny_root: Path) -> None:
    user_error(invoke("train", "vae", "--data-root", tiny_root, "--device", "cpu",
                      "--precision", "16", "--out", "run"), "precision '16'", "CUDA only")
    assert not Path("run/checkpoints").exists()


def test_out_that_is_a_file(tiny_root: Path) -> None:
    Path("taken").write_text("a file")
    user_error(invoke("train", "vae", "--data-root", tiny_root, "--out", "taken"),
               "run folder taken is a file")


@pytest.mark.parametrize(("text", "fragments"), [
    ('model = "vae\n', ["--config", "not valid TOML"]),
    ('model = "vae"\nepoch = 2\n', ["train has no option 'epoch'", "Did you mean 'epochs'?"]),
    ('model = "vae"\nepochs = "ten"\n', ["'epochs' must be an integer", "'ten'"]),
    ('model = "vae"\nprecision = "8"\n', ["'precision' must be one of"]),
    ('model = "vae"\nconfig = 3\n', ["--config", "[config] entry must be a table"]),
    ('model = "vae"\n[config]\nhidden_dim = "abc"\n', ["'hidden_dim' must be an integer"]),
    ('model = "vae"\n[config]\nwidth = 3\n', ["no option 'width'"]),
    ('epochs = 1\n', ["name the model to train"]),
    ('\xff\xfe', ["--config", "not valid TOML"]),
])
def test_bad_config_files(tiny_root: Path, text: str, fragments: list[str]) -> None:
    Path("run.toml").write_bytes(text.encode("latin-1"))
    user_error(invoke("train", "--config", "run.toml", "--data-root", tiny_root, "--out", "run"),
               *fragments)
    assert not Path("run").exists()


# -- folders of images ----------------------------------------------------------------------


@pytest.mark.parametrize(("model", "layout", "tiny"), [
    ("gan", "nested", TINY_GAN),
    ("vae", "flat", TINY_VAE),
])
def test_models_take_the_image_shape_from_a_folder(rgb_folders: dict[str, Path], model: str,
                                                   layout: str, tiny: tuple[str, ...]) -> None:
    result = ok(invoke("train", model, "--data", rgb_folders[layout], "--epochs", "1",
                       "--out", "run", *FAST, *tiny))
    assert "(step 2)" in result.stdout  # 32 images at batch size 16
    info = info_json(Path("run/checkpoints/last.pt"))
    assert info["model"] == model and info["config"]["image_shape"] == [3, 32, 32]
    assert tomllib.loads(Path("run/train.toml").read_text())["data"] == str(rgb_folders[layout])
    # and the model samples images of that shape
    ok(invoke("sample", "run/checkpoints/last.pt", "-n", "4", "--nrow", "4", "-o", "grid.png"))
    from PIL import Image

    with Image.open("grid.png") as grid:
        assert grid.size == (4 * 32 + 5 * 2, 32 + 2 * 2)


def test_folder_images_are_converted_to_the_chosen_channels_and_size(
        rgb_folders: dict[str, Path]) -> None:
    ok(invoke("train", "vae", "--data", rgb_folders["nested"], "--image-size", "16",
              "--channels", "1", "--epochs", "1", "--out", "run", *FAST, *TINY_VAE))
    assert info_json(Path("run/checkpoints/last.pt"))["config"]["image_shape"] == [1, 16, 16]
    spec = tomllib.loads(Path("run/train.toml").read_text())
    assert (spec["image_size"], spec["channels"]) == (16, 1)


def test_grayscale_folder_gives_one_channel_and_rgb_on_request(tmp_path: Path) -> None:
    gray = write_pngs(tmp_path / "gray", 16, size=20, mode="L")
    ok(invoke("train", "vae", "--data", gray, "--epochs", "1", "--out", "g", *FAST, *TINY_VAE))
    assert info_json(Path("g/checkpoints/last.pt"))["config"]["image_shape"] == [1, 20, 20]
    ok(invoke("train", "vae", "--data", gray, "--channels", "3", "--epochs", "1", "--out", "c",
              *FAST, *TINY_VAE))
    assert info_json(Path("c/checkpoints/last.pt"))["config"]["image_shape"] == [3, 20, 20]


def test_bad_image_folders(tmp_path: Path, rgb_folders: dict[str, Path]) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    user_error(invoke("train", "vae", "--data", tmp_path / "empty", "--out", "run"),
               f"No images found in {tmp_path / 'empty'}", ".png")

    corrupt = tmp_path / "corrupt"
    shutil.copytree(rgb_folders["flat"], corrupt)
    (corrupt / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    user_error(invoke("train", "vae", "--data", corrupt, "--out", "run"),
               f"Could not read image {corrupt / 'broken.png'}")

    truncated = tmp_path / "truncated"
    shutil.copytree(rgb_folders["flat"], truncated)
    good = (truncated / "img_000.png").read_bytes()
    (truncated / "img_000.png").write_bytes(good[: len(good) // 2])
    user_error(invoke("train", "vae", "--data", truncated, "--out", "run"),
               str(truncated / "img_000.png"))

    mixed = tmp_path / "mixed"
    write_pngs(mixed / "a", 2, size=32)
    write_pngs(mixed / "b", 2, size=24)
    user_error(invoke("train", "vae", "--data", mixed, "--out", "run"), "differ in size")
    ok(invoke("train", "vae", "--data", mixed, "--image-size", "8", "--epochs", "1",
              "--out", "run", *FAST, *TINY_VAE))


def test_truncated_idx_files_are_named(tmp_path: Path) -> None:
    root = write_idx_root(tmp_path / "data")
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    user_error(invoke("train", "vae", "--data-root", root, "--no-download", "--out", "run"),
               f"{images} is truncated")
    labels = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    write_idx_root(tmp_path / "data")
    labels.write_bytes(labels.read_bytes()[:6])  # not even a whole header
    user_error(invoke("train", "vae", "--data-root", root, "--no-download", "--out", "run"),
               str(labels))
    assert not Path("run").exists()


def test_train_schedule_clipping_and_ema_flags_reach_the_run(tiny_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    ok(invoke("train", "vae", "--data-root", tiny_root, "--epochs", "1", "--out", run, *FAST,
              *TINY_VAE, "--lr-schedule", "cosine", "--warmup-steps", "2", "--max-norm", "1.5",
              "--ema", "0.99"))
    checkpoint = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["run"]["lr_schedule"] == "cosine" and checkpoint["run"]["max_norm"] == 1.5
    assert checkpoint["ema"]["decay"] == 0.99 and checkpoint["schedules"]["vae"]["last_epoch"] == 4
    assert 'lr_schedule = "cosine"' in (run / "train.toml").read_text()
    line = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert line["lr_vae"] == 0.0 and line["grad_norm_vae"] > 0


def test_grid_ema_warmup_and_precision_spelling_flags_reach_the_run(tiny_root: Path) -> None:
    ok(invoke("train", "vae", "--data-root", tiny_root, "--epochs", "1", "--out", "run", *FAST,
              *TINY_VAE, "--grid-size", "4", "--grid-seed", "3", "--ema", "0.9", "--no-ema-warmup",
              "--precision", "fp32"))
    spec = tomllib.loads(Path("run/train.toml").read_text())
    assert (spec["grid_size"], spec["grid_seed"], spec["ema_warmup"], spec["precision"]) == (4, 3, False, "32")
    assert "handle_signals" not in spec
    user_error(invoke("train", "vae", "--data-root", tiny_root, "--device", "cpu",
                      "--precision", "16-mixed", "--out", "half"), "precision '16'", "CUDA only")


def test_a_resumed_run_reports_where_it_stopped_not_a_step_count(tiny_root: Path) -> None:
    args = ("train", "vae", "--data-root", tiny_root, "--out", "run", "--seed", "1", *FAST, *TINY_VAE,
            "--epochs", "3")
    ok(invoke(*args, "--max-steps", "2"))
    result = ok(invoke(*args, "--max-steps", "6", "--resume"))
    assert "trained vae to step 6 (--max-steps; 1 whole epoch)" in result.stdout  # not "for 6 steps"


def test_intervals_in_steps_and_in_epochs(tiny_root: Path) -> None:
    args = ("train", "vae", "--data-root", tiny_root, "--seed", "1", *FAST, *TINY_VAE, "--epochs", "1")
    ok(invoke(*args, "--out", "steps", "--checkpoint-every", "3steps", "--grid-every", "2 steps"))
    spec = tomllib.loads(Path("steps/train.toml").read_text())
    assert (spec["checkpoint_every"], spec["checkpoint_every_steps"]) == (0, 3)
    assert (spec["grid_every"], spec["grid_every_steps"]) == (0, 2)
    assert Path("steps/grids/samples_step_00000002.png").is_file()
    ok(invoke(*args, "--out", "epochs", "--checkpoint-every", "2epochs", "--grid-every", "1"))
    spec = tomllib.loads(Path("epochs/train.toml").read_text())
    assert (spec["checkpoint_every"], spec["checkpoint_every_steps"], spec["grid_every"]) == (2, 0, 1)
    user_error(invoke(*args, "--checkpoint-every", "5min"),
               "'5min' is not an interval", "500steps", one_line=False)


def test_every_option_of_every_command_has_help() -> None:
    from genzoo.cli import COMMANDS, main

    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        bare = [p.name for p in command.params
                if isinstance(p, click.Option) and not (p.help or "").strip("[] ").replace(
                    "default: ", "").strip() or (p.help or "").startswith("[default")]
        assert bare == [], f"genzoo {name}: options without help: {bare}"
