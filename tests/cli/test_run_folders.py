"""``genzoo train`` and run folders: resuming with the run's own settings, refusing what may not
change, never replacing a run, and faults (disk full, unwritable paths, a second Ctrl-C) that end
in one line with the last good checkpoint intact."""

from __future__ import annotations

import errno
import json
import os
import signal
import tomllib
from pathlib import Path

import pytest
import torch

from tests.cli import FAST, TINY_GAN, TINY_VAE, info_json, invoke, ok, tiny_root, user_error  # noqa: F401


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _train(tiny_root: Path, *args: str) -> tuple[str, ...]:
    return ("train", "vae", "--data-root", str(tiny_root), "--out", "run", *FAST, *TINY_VAE, *args)


def _files(run: Path) -> dict[str, bytes]:
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and ".genzoo" not in p.parts}


def test_resume_takes_model_data_config_and_seed_from_the_run(tiny_root: Path) -> None:
    ok(invoke("train", "gan", "--data", "fashion-mnist", "--data-root", tiny_root, "--out", "run",
              "--epochs", "1", "--seed", "5", *FAST, *TINY_GAN))
    first = tomllib.loads(Path("run/train.toml").read_text())
    # neither the model nor --data nor --set given: all come from run/train.toml
    result = ok(invoke("train", "--resume", "run", "--epochs", "2", "--device", "cpu"))
    assert "trained gan to epoch 2" in result.stdout
    again = tomllib.loads(Path("run/train.toml").read_text())
    assert again == {**first, "epochs": 2}
    assert info_json(Path("run/checkpoints/last.pt"))["config"]["generator_widths"] == [16, 16, 16, 16]
    # the README's form: MODEL --out RUN --resume
    ok(invoke("train", "gan", "--out", "run", "--resume", "--epochs", "3", "--no-progress"))
    assert info_json(Path("run/checkpoints/last.pt"))["epochs"] == 3


@pytest.mark.parametrize(("args", "named"), [
    (("--batch-size", "8"), "--batch-size 8 (the run has 16)"),
    (("--seed", "9"), "--seed 9 (the run has 1)"),
    (("--data", "fashion-mnist"), "--data fashion-mnist (the run has mnist)"),
    (("--image-size", "16"), "--image-size 16 (the run has None)"),
    (("--set", "latent_dim=3"), "--set latent_dim=3 (the run has 4)"),
])
def test_resume_refuses_settings_that_may_not_change_and_rewrites_nothing(
        tiny_root: Path, args: tuple[str, ...], named: str) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "1", "--seed", "1")))
    before = _files(Path("run"))
    message = user_error(invoke(*_train(tiny_root, "--epochs", "2", "--resume", *args)),
                         "cannot resume run with other settings", named, "--epochs")
    assert "Start a new run with another --out" in message
    assert _files(Path("run")) == before


def test_a_refused_or_no_op_resume_rewrites_nothing(tiny_root: Path) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "2")))
    before = _files(Path("run"))
    # finished: nothing to train
    result = ok(invoke("train", "--resume", "run", "--epochs", "1"))
    assert "already trained to epoch 2" in result.stderr
    assert _files(Path("run")) == before
    # another model's checkpoint
    ok(invoke("train", "gan", "--data-root", tiny_root, "--out", "gan", "--epochs", "1", *FAST, *TINY_GAN))
    user_error(invoke("train", "--resume", "gan/checkpoints/last.pt", "--out", "run", "--epochs", "3"),
               "run already holds a run")
    assert _files(Path("run")) == before
    # a damaged checkpoint
    last = Path("run/checkpoints/last.pt")
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF
    last.write_bytes(bytes(data))
    before = _files(Path("run"))
    user_error(invoke("train", "--resume", "run", "--epochs", "3"), "corrupt")
    assert _files(Path("run")) == before


def test_max_steps_is_a_stopping_limit_not_a_setting(tiny_root: Path) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "1", "--max-steps", "2")))
    assert "max_steps" not in tomllib.loads(Path("run/train.toml").read_text())
    result = ok(invoke("train", "--resume", "run", "--epochs", "2"))
    assert "to epoch 2 (step 8)" in result.stdout


def test_resume_without_a_checkpoint_says_so_unless_auto(tiny_root: Path) -> None:
    user_error(invoke(*_train(tiny_root, "--epochs", "1", "--resume")),
               "run has no checkpoint to resume", "drop --resume", "--resume auto")
    assert not Path("run").exists()
    user_error(invoke("train", "--resume", "nowhere"), "no checkpoint file at nowhere")
    user_error(invoke("train", "--resume"), "name the run to resume")
    result = ok(invoke(*_train(tiny_root, "--epochs", "1", "--resume", "auto")))
    assert "No checkpoint in run yet: starting a new run there." in result.stderr
    result = ok(invoke(*_train(tiny_root, "--epochs", "2", "--resume", "auto")))
    assert "to epoch 2 (step 8)" in result.stdout


def test_a_new_run_into_a_run_folder_is_refused(tiny_root: Path) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "1")))
    before = _files(Path("run"))
    user_error(invoke(*_train(tiny_root, "--epochs", "2")),
               "run already holds a run", "--resume", "new --out")
    assert _files(Path("run")) == before


@pytest.mark.parametrize("where", ["/proc/genzoo-run", "afile/run", "afile"])
def test_an_output_path_that_cannot_be_written_is_one_line(tiny_root: Path, where: str) -> None:
    Path("afile").write_text("x")
    user_error(invoke("train", "vae", "--data-root", tiny_root, "--out", where, *FAST),
               where, "pick another --out")


def test_sampling_into_a_path_that_cannot_be_written_is_one_line(tiny_root: Path) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "1")))
    Path("afile").write_text("x")
    for output in ("/proc/genzoo/samples.png", "afile/samples.png", "/proc/genzoo-dir"):
        user_error(invoke("sample", "run/checkpoints/last.pt", "-n", "4", "-o", output))


def test_disk_full_while_training_keeps_the_last_checkpoint(tiny_root: Path, monkeypatch) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "1")))
    good = Path("run/checkpoints/last.pt").read_bytes()
    real_save = torch.save

    def save_then_fill_up(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("genzoo.checkpoint.torch.save", save_then_fill_up)
    user_error(invoke("train", "--resume", "run", "--epochs", "3"),
               "No space left on device", "the last good checkpoint", "is intact")
    assert Path("run/checkpoints/last.pt").read_bytes() == good
    assert [p.name for p in Path("run/checkpoints").iterdir()] == ["last.pt"]


def test_disk_full_while_sampling_is_one_line(tiny_root: Path, monkeypatch) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "1")))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "samples.png")

    monkeypatch.setattr("PIL.Image.Image.save", full)
    user_error(invoke("sample", "run/checkpoints/last.pt", "-n", "4", "-o", "samples.png"),
               "samples.png", "No space left on device")


def test_a_second_ctrl_c_while_the_checkpoint_is_written(tiny_root: Path, monkeypatch) -> None:
    real_save = torch.save
    calls = []

    def interrupted_twice(obj, f, *args, **kwargs):
        calls.append(obj["epoch"])
        if len(calls) == 2:  # the first Ctrl-C asks for a stop; the second lands mid-write
            os.kill(os.getpid(), signal.SIGINT)
            real_save({"half": torch.zeros(10)}, f)
            os.kill(os.getpid(), signal.SIGINT)
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr("genzoo.checkpoint.torch.save", interrupted_twice)
    result = invoke(*_train(tiny_root, "--epochs", "3"))
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("genzoo: interrupted while writing run/checkpoints/last.pt")
    assert line.endswith("the previous run/checkpoints/last.pt is intact")
    assert info_json(Path("run/checkpoints/last.pt"))["epochs"] == 1
    assert [p.name for p in Path("run/checkpoints").iterdir()] == ["last.pt"]
    assert not json.loads(Path("run/run.json").read_text()) == {}


def test_eval_defaults_to_the_runs_own_data_set(tiny_root: Path, tmp_path: Path) -> None:
    from genzoo.training import run_data

    ok(invoke("train", "vae", "--data", "fashion-mnist", "--data-root", tiny_root, "--out", "run",
              "--epochs", "1", *FAST, *TINY_VAE))
    checkpoint = Path("run/checkpoints/last.pt")
    assert run_data(checkpoint, None, None) == ("fashion-mnist", str(tiny_root))
    assert run_data(checkpoint, "mnist", "elsewhere") == ("mnist", "elsewhere")
    assert run_data(tmp_path / "loose.pt", None, None) == ("mnist", None)
    empty = tmp_path / "empty"
    empty.mkdir()
    message = user_error(invoke("eval", checkpoint, "--data-root", empty, "--no-download", "-n", "8"),
                         one_line=False)
    assert "FashionMNIST" in message


def test_resume_may_change_sampling_options_and_intervals(tiny_root: Path) -> None:
    ok(invoke(*_train(tiny_root, "--epochs", "1")))
    ok(invoke("train", "--resume", "run", "--epochs", "2", "--set", "temperature=0.5",
              "--grid-every", "2", "--log-every", "3", "--checkpoint-every", "2"))
    spec = tomllib.loads(Path("run/train.toml").read_text())
    assert spec["config"]["temperature"] == 0.5 and spec["grid_every"] == 2 and spec["epochs"] == 2
    assert info_json(Path("run/checkpoints/last.pt"))["epochs"] == 2
