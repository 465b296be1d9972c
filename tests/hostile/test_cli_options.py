"""Hostile inputs: every command's options with wrong values, as a careless user types them.

Out-of-range and ill-typed numbers, unknown choices, ``--set`` without ``=`` or with values
that are not numbers, devices that do not exist, data that is missing, empty or not images,
run files (``--config``) that are not TOML, checkpoints that are damaged or of another model,
outputs onto checkpoints, plugin names that are not names. Each is one ``Error:`` line and
leaves every file it was pointed at as it was; nothing is trained.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import genzoo

from . import Case, copy_run, files_of, run_case
from .casework import hostile_base  # noqa: F401 (a fixture)

_TRAIN = ("train", "vae", "--data", "{color40}", "--out", "{tmp}/out", "--device", "cpu",
          "--batch-size", "8", "--no-progress")
_CKPT = "{vae_run}/checkpoints/last.pt"


def _train(*args: str) -> tuple[str, ...]:
    return (*_TRAIN, *args)


def _no_run(tmp: Path, values: dict[str, Any], result: Any) -> None:
    """Nothing was trained: no run folder, no checkpoint."""
    assert not (tmp / "out" / "checkpoints").exists(), "a refused run wrote a checkpoint"


def _no_output(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert not any(p.suffix in (".png", ".jpg", ".json", ".html") for p in tmp.rglob("*")
                   if ".genzoo" not in p.parts), sorted(tmp.rglob("*"))


def _unchanged(key: str):
    """``after``: the folder (or file's folder) ``values[key]`` holds what the setup left."""
    def setup_check(tmp: Path, values: dict[str, Any], result: Any) -> None:
        assert files_of(values[f"{key}_folder"]) == values[f"{key}_files"], f"{key} changed"
    return setup_check


def _run_copy(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    """A copy of the trained run (this case may write at it), its files recorded."""
    run = copy_run(fx["vae_run"], tmp / "run")
    return {"run": run, "ckpt": run / "checkpoints" / "last.pt", "run_folder": run,
            "run_files": files_of(run)}


def _files(files: dict[str, str | bytes | None]):
    """Files under ``tmp`` (relative path → text or bytes; ``None``: an empty folder), and a
    record of everything under ``tmp`` for :func:`_unchanged` ``("tmp")``."""
    def setup(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
        for name, content in files.items():
            path = tmp / name
            if content is None:
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return {"tmp_folder": tmp, "tmp_files": files_of(tmp)}
    return setup


def _damaged(how: str):
    """A copy of the run's checkpoint, damaged: ``flipped`` (bytes changed mid-file, so a
    record fails its checksum), ``truncated``, ``empty``, ``text``."""
    def setup(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
        data = (fx["vae_run"] / "checkpoints" / "last.pt").read_bytes()
        if how == "flipped":
            middle = len(data) // 2
            data = data[:middle] + b"x" * 200 + data[middle + 200:]
        else:
            data = {"truncated": data[:5000], "empty": b"", "text": b"hello\n"}[how]
        (tmp / "bad.pt").write_bytes(data)
        return {"tmp_folder": tmp, "tmp_files": files_of(tmp)}
    return setup


def _conditional(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    genzoo.build("vae", hidden_dim=8, latent_dim=2, num_classes=10, seed=0).save(tmp / "cond.pt")
    return {}


_NOT_A_NAME = ("is not a usable plugin name", "lowercase letters and digits")

CASES = [
    # --- train: numbers and choices out of range ---------------------------------------------
    Case("train-epochs-0", _train("--epochs", "0"), says=("'--epochs'", "0 is not in the range x>=1"),
         after=_no_run),
    Case("train-epochs-negative", _train("--epochs", "-1"), says=("-1 is not in the range x>=1",)),
    Case("train-epochs-abc", _train("--epochs", "abc"), says=("'abc' is not a valid integer",)),
    Case("train-batch-size-0", _train("--batch-size", "0"),
         says=("'--batch-size'", "0 is not in the range x>=1")),
    Case("train-lr-schedule-nope", _train("--lr-schedule", "nope"),
         says=("'nope' is not one of 'constant', 'cosine'",)),
    Case("train-ema-1.5", _train("--ema", "1.5"), says=("'--ema'", "1.5 is not in the range 0<=x<1")),
    Case("train-max-norm-negative", _train("--max-norm", "-1"),
         says=("'--max-norm'", "-1.0 is not in the range x>0")),
    Case("train-image-size-0", _train("--image-size", "0"), says=("'--image-size'", "0 is not in")),
    Case("train-channels-2", _train("--channels", "2"), says=("'2' is not one of '1', '3'",)),
    Case("train-warmup-steps-negative", _train("--warmup-steps", "-1"),
         says=("'--warmup-steps'", "-1 is not in the range x>=0")),
    Case("train-log-every-0", _train("--log-every", "0"), says=("'--log-every'", "0 is not in")),
    Case("train-grid-size-0", _train("--grid-size", "0"), says=("'--grid-size'", "0 is not in the range x>=1")),
    Case("train-grid-seed-beyond-64-bits", _train("--grid-seed", "99999999999999999999"),
         says=("grid_seed 99999999999999999999 does not fit in 64 bits",), after=_no_run),
    Case("train-max-steps-0", _train("--max-steps", "0"), says=("'--max-steps'", "0 is not in")),
    Case("train-checkpoint-every-xsteps", _train("--checkpoint-every", "xsteps"),
         says=("'xsteps' is not an interval", "500steps")),
    Case("train-checkpoint-every-negative", _train("--checkpoint-every", "-1"),
         says=("'-1' is not an interval",)),
    Case("train-grid-every-a-fraction", _train("--grid-every", "1.5"),
         says=("'1.5' is not an interval",)),
    Case("train-precision-8", _train("--precision", "8"), says=("'8' is not one of 'auto', '32', 'bf16', '16'",)),
    Case("train-precision-16-on-cpu", _train("--precision", "16"),
         says=("precision '16'", "CUDA only"), after=_no_run),
    Case("train-teacher-for-a-model-without-one", _train("--teacher", "{vae_run}"),
         says=("takes no teacher", "drop --teacher"), after=_no_run),
    Case("train-teacher-empty", _train("--teacher", ""), says=("takes no teacher",), after=_no_run),
    Case("train-seed-beyond-64-bits", _train("--seed", "99999999999999999999"),
         says=("seed 99999999999999999999 does not fit in 64 bits",), after=_no_run),
    # --- train: --set ----------------------------------------------------------------------------
    Case("train-set-without-equals", _train("--set", "latent_dim"),
         says=("--set", "'latent_dim' is not KEY=VALUE")),
    Case("train-set-without-key", _train("--set", "=3"), says=("'=3' is not KEY=VALUE",)),
    Case("train-set-unknown-key", _train("--set", "nope=3"),
         says=("has no option 'nope'", "Valid options: beta"), after=_no_run),
    Case("train-set-latent-negative", _train("--set", "latent_dim=-3"),
         says=("hidden_dim and latent_dim must be positive",), after=_no_run),
    Case("train-set-latent-abc", _train("--set", "latent_dim=abc"),
         says=("option 'latent_dim' must be an integer, got 'abc'",)),
    Case("train-set-latent-nan", _train("--set", "latent_dim=nan"),
         says=("'latent_dim' must be an integer, got 'nan'",)),
    Case("train-set-latent-1e309", _train("--set", "latent_dim=1e309"),
         says=("'latent_dim' must be an integer, got '1e309'",)),
    Case("train-set-latent-empty", _train("--set", "latent_dim="),
         says=("'latent_dim' must be an integer, got ''",)),
    Case("train-set-latent-a-fraction", _train("--set", "latent_dim=2.5"),
         says=("'latent_dim' must be an integer, got '2.5'",)),
    Case("train-set-beta-negative", _train("--set", "beta=-1"), says=("beta must not be negative",)),
    Case("train-set-lr-inf", _train("--set", "lr=inf"), says=("lr must be a finite number, got inf",)),
    Case("train-set-lr-negative", _train("--set", "lr=-1"), says=("Invalid learning rate: -1.0",)),
    Case("train-set-image-shape-two-numbers", _train("--set", "image_shape=1,2"),
         says=("'image_shape' must be a tuple", "expected 3 items, got 2")),
    Case("train-set-num-classes-negative", _train("--set", "num_classes=-2"),
         says=("num_classes must be 0 (unconditional) or at least 2, got -2",)),
    Case("train-set-likelihood-unknown", _train("--set", "likelihood=nope"),
         says=("'likelihood' must be one of 'bernoulli', 'continuous-bernoulli', got 'nope'",)),
    # --- train: devices --------------------------------------------------------------------------
    Case("train-device-cuda-7", (*_train(), "--device", "cuda:7"), says=("'cuda:7'",),
         after=_no_run),
    Case("train-device-tpu", (*_train(), "--device", "tpu"), says=("unknown device 'tpu'",)),
    Case("train-device-cuda-minus-1", (*_train(), "--device", "cuda:-1"),
         says=("unknown device 'cuda:-1'",)),
    Case("train-device-empty", (*_train(), "--device", ""), says=("unknown device ''",)),
    # --- train: data -----------------------------------------------------------------------------
    Case("train-data-missing-folder", _train("--data", "nothere"),
         says=("'nothere' is neither a known data set", "nor a folder of images"), after=_no_run),
    Case("train-data-empty-folder", _train("--data", "empty"), setup=_files({"empty": None}),
         says=("No images found in empty", ".png"), after=_no_run),
    Case("train-data-a-file", _train("--data", "a.png"), setup=_files({"a.png": "x"}),
         says=("'a.png' is neither a known data set",)),
    Case("train-data-a-folder-of-text-files", _train("--data", "texts"),
         setup=_files({"texts/a.txt": "hello", "texts/b.csv": "1,2"}), says=("No images found in texts",)),
    Case("train-data-unknown-name", _train("--data", "mnist2"), says=("'mnist2' is neither",)),
    Case("train-data-empty-string", _train("--data", ""),
         says=("--data is empty", "unset shell variable"), after=_no_run),
    Case("train-data-spaces", _train("--data", "  "), says=("--data is empty",), after=_no_run),
    Case("train-model-unknown", ("train", "nope", "--data", "{color40}", "--out", "{tmp}/out"),
         says=("no model named 'nope'", "Available models"), after=_no_run),
    Case("train-model-missing", ("train", "--data", "{color40}", "--out", "{tmp}/out"),
         says=("name the model to train",), after=_no_run),
    # --- train: --out ----------------------------------------------------------------------------
    Case("train-out-empty", (*_train(), "--out", ""), says=("--out is empty",)),
    Case("train-out-a-checkpoint-file", (*_train(), "--out", "{ckpt}"), setup=_run_copy,
         says=("is a file, not a folder",), after=_unchanged("run")),
    Case("train-out-the-data-folder", (*_train(), "--out", "{color40}"),
         says=("is the data folder",)),
    Case("train-out-an-existing-run", (*_train(), "--out", "{run}"), setup=_run_copy,
         says=("already holds a run", "--resume"), after=_unchanged("run")),
    # --- train: --config -------------------------------------------------------------------------
    Case("train-config-missing", _train("--config", "nothere.toml"),
         says=("'--config'", "'nothere.toml' does not exist")),
    Case("train-config-malformed", _train("--config", "bad.toml"),
         setup=_files({"bad.toml": "epochs = [\n"}), says=("bad.toml is not valid TOML",)),
    Case("train-config-not-toml", _train("--config", "notes.toml"),
         setup=_files({"notes.toml": "hello world\n"}), says=("notes.toml is not valid TOML",)),
    Case("train-config-binary", _train("--config", "bin.toml"),
         setup=_files({"bin.toml": bytes(range(128, 256))}), says=("bin.toml is not valid TOML",)),
    Case("train-config-list-valued", _train("--config", "list.toml"),
         setup=_files({"list.toml": "epochs = [1, 2]\n"}),
         says=("train option 'epochs' must be an integer, got [1, 2]",)),
    Case("train-config-unknown-key", _train("--config", "k.toml"), setup=_files({"k.toml": "nope = 3\n"}),
         says=("train has no option 'nope'",)),
    Case("train-config-wrong-type", _train("--config", "t.toml"), setup=_files({"t.toml": 'epochs = "ten"\n'}),
         says=("'epochs' must be an integer, got 'ten'",)),
    Case("train-config-a-folder", _train("--config", "{tmp}"), says=("is a directory",)),
    # --- train: --resume -------------------------------------------------------------------------
    Case("train-resume-missing", ("train", "--resume", "nothere"),
         says=("no checkpoint file at nothere",)),
    Case("train-resume-folder-without-checkpoint", ("train", "--resume", "empty"),
         setup=_files({"empty": None}), says=("has no checkpoint to resume",)),
    Case("train-resume-corrupt-checkpoint", _train("--resume", "bad.pt"), setup=_damaged("flipped"),
         says=("bad.pt is corrupted", "fails its checksum"), after=_unchanged("tmp")),
    Case("train-resume-truncated-checkpoint", _train("--resume", "bad.pt"),
         setup=_damaged("truncated"), says=("bad.pt is truncated or corrupted",),
         after=_unchanged("tmp")),
    Case("train-resume-empty-checkpoint", _train("--resume", "bad.pt"), setup=_damaged("empty"),
         says=("not the zip archive torch.save writes",), after=_unchanged("tmp")),
    Case("train-resume-a-text-file", _train("--resume", "bad.pt"), setup=_damaged("text"),
         says=("not the zip archive",)),
    Case("train-resume-a-run-of-another-model", ("train", "gan", "--resume", "{run}"),
         setup=_run_copy, says=("MODEL gan (the run has vae)",), after=_unchanged("run")),
    Case("train-resume-with-other-settings", ("train", "--resume", "{run}", "--set", "latent_dim=8"),
         setup=_run_copy, says=("--set latent_dim=8 (the run has 4)",), after=_unchanged("run")),
    Case("train-resume-auto-without-a-run", ("train", "--resume", "auto"),
         says=("name the run to resume",)),
    # --- sample ----------------------------------------------------------------------------------
    Case("sample-n-0", ("sample", _CKPT, "-n", "0", "-o", "s.png"), says=("'-n'", "0 is not in"),
         after=_no_output),
    Case("sample-n-negative", ("sample", _CKPT, "-n", "-5", "-o", "s.png"), says=("-5 is not in",)),
    Case("sample-n-absurd", ("sample", _CKPT, "-n", "100000000000", "-o", "s.png"),
         says=("-n 100000000000 images", "draw at most about"), after=_no_output),
    Case("sample-label-99-of-10-classes", ("sample", "cond.pt", "--label", "99", "-n", "2", "-o", "s.png"),
         setup=_conditional, says=("class 99 does not exist", "10 classes, 0 to 9"),
         after=_no_output),
    Case("sample-label-negative", ("sample", "cond.pt", "--label", "-1", "-o", "s.png"),
         setup=_conditional, says=("-1 is not in the range x>=0",)),
    Case("sample-label-on-an-unconditional-model", ("sample", _CKPT, "--label", "1", "-o", "s.png"),
         says=("not class-conditional", "without --label"), after=_no_output),
    Case("sample-nrow-0", ("sample", _CKPT, "--nrow", "0", "-o", "s.png"), says=("'--nrow'",)),
    Case("sample-weights-ema-without-ema", ("sample", _CKPT, "--weights", "ema", "-o", "s.png"),
         says=("holds no weight EMA",), after=_no_output),
    Case("sample-steps-on-a-one-step-model", ("sample", _CKPT, "--steps", "5", "-o", "s.png"),
         says=("samples in one step",), after=_no_output),
    Case("sample-seed-beyond-64-bits",
         ("sample", _CKPT, "--seed", "99999999999999999999", "-n", "2", "-o", "s.png"),
         says=("seed 99999999999999999999 does not fit in 64 bits",), after=_no_output),
    Case("sample-device-tpu", ("sample", _CKPT, "--device", "tpu", "-o", "s.png"),
         says=("unknown device 'tpu'",)),
    Case("sample-checkpoint-a-folder", ("sample", "empty", "-o", "s.png"),
         setup=_files({"empty": None}),
         says=("no checkpoint file at", "neither a run folder", "nor a model folder"),
         after=_unchanged("tmp")),
    Case("sample-a-run-folder", ("sample", "{vae_run}", "-n", "2", "-o", "s.png"), expect="ok",
         says=("wrote a grid of 2 samples",)),
    Case("sample-checkpoint-missing", ("sample", "nothere.pt", "-o", "s.png"),
         says=("no checkpoint file at nothere.pt",)),
    Case("sample-text-file-named-pt", ("sample", "bad.pt", "-o", "s.png"), setup=_damaged("text"),
         says=("bad.pt is truncated or corrupted, or not a checkpoint",), after=_unchanged("tmp")),
    Case("sample-into-a-missing-deep-folder", ("sample", _CKPT, "-n", "2", "-o", "a/b/c/s.png"),
         expect="ok", says=("wrote a grid of 2 samples",),
         after=lambda tmp, values, result: (tmp / "a" / "b" / "c" / "s.png").is_file() or
         pytest.fail("no grid written")),
    Case("sample-unknown-suffix", ("sample", _CKPT, "-n", "2", "-o", "s.xyz"),
         says=("write a grid as .png or .jpg",), after=_no_output),
    Case("sample-onto-the-checkpoint", ("sample", "{ckpt}", "-n", "2", "-o", "{ckpt}"),
         setup=_run_copy, says=("write a grid as .png or .jpg",), after=_unchanged("run")),
    Case("sample-onto-a-text-file", ("sample", _CKPT, "-n", "2", "-o", "notes.txt"),
         setup=_files({"notes.txt": "mine\n"}), says=("notes.txt",), after=_unchanged("tmp")),
    Case("sample-output-empty", ("sample", _CKPT, "-o", ""), says=("-o/--output is empty",)),
    Case("sample-set-a-training-setting", ("sample", _CKPT, "--set", "latent_dim=8", "-o", "s.png"),
         says=("'latent_dim' is a training setting",), after=_no_output),
    Case("sample-set-unknown", ("sample", _CKPT, "--set", "nope=1", "-o", "s.png"),
         says=("'nope' is not one of its options",)),
    # --- info ------------------------------------------------------------------------------------
    Case("info-missing", ("info", "nothere.pt"), says=("no checkpoint file at nothere.pt",)),
    Case("info-a-folder", ("info", "empty"), setup=_files({"empty": None}),
         says=("no checkpoint file at", "neither a run folder", "nor a model folder")),
    Case("info-a-run-folder", ("info", "{vae_run}"), expect="ok", says=("model:    vae",)),
    Case("info-garbage", ("info", "bad.pt"), setup=_damaged("text"), says=("not a checkpoint",)),
    Case("info-garbage-json", ("info", "bad.pt", "--json"), setup=_damaged("text"),
         says=("not a checkpoint",)),
    Case("info-corrupt", ("info", "bad.pt"), setup=_damaged("flipped"), says=("fails its checksum",),
         after=_unchanged("tmp")),
    # --- eval ------------------------------------------------------------------------------------
    Case("eval-n-3", ("eval", _CKPT, "-n", "3"), says=("'-n'", "3 is not in the range x>=4")),
    Case("eval-level-1.5", ("eval", _CKPT, "--level", "1.5"), says=("1.5 is not in the range 0<x<1",)),
    Case("eval-bootstrap-5", ("eval", _CKPT, "--bootstrap", "5"), says=("5 is not in the range x>=10",)),
    Case("eval-features-unknown", ("eval", _CKPT, "--features", "nope"),
         says=("unknown feature network 'nope'",)),
    Case("eval-data-missing", ("eval", _CKPT, "--data", "nothere", "-n", "8"),
         says=("'nothere' is neither a known data set",), after=_no_output),
    Case("eval-data-empty-string", ("eval", _CKPT, "--data", "", "-n", "8"),
         says=("--data is empty",), after=_no_output),
    Case("eval-data-empty-folder", ("eval", _CKPT, "--data", "empty", "-n", "8"),
         setup=_files({"empty": None}), says=("No images found in empty",)),
    Case("eval-compare-one-missing", ("eval", "--compare", "nothere.json", "list.json"),
         setup=_files({"list.json": "[1, 2]\n"}), says=("no result file at nothere.json",)),
    Case("eval-compare-not-json", ("eval", "--compare", "a.json", "a.json"),
         setup=_files({"a.json": "not json\n"}), says=("a.json is not a result of genzoo eval",)),
    Case("eval-compare-a-json-list", ("eval", "--compare", "list.json", "list.json"),
         setup=_files({"list.json": "[1, 2]\n"}), says=("list.json is not a result of genzoo eval",)),
    Case("eval-json-onto-the-checkpoint", ("eval", "{ckpt}", "-n", "8", "--json", "{ckpt}"),
         setup=_run_copy, says=("is the checkpoint of the run",), after=_unchanged("run")),
    Case("eval-garbage-checkpoint", ("eval", "bad.pt", "--data", "{color40}", "-n", "8"),
         setup=_damaged("text"), says=("not a checkpoint",)),
    # --- report ----------------------------------------------------------------------------------
    Case("report-a-folder-that-is-not-a-run", ("report", "notes"),
         setup=_files({"notes/a.txt": "x"}), says=("notes is not a run folder",), after=_unchanged("tmp")),
    Case("report-an-empty-folder", ("report", "empty"), setup=_files({"empty": None}),
         says=("empty is not a run folder",)),
    Case("report-a-missing-folder", ("report", "nothere"), says=("nothere is not a run folder",)),
    Case("report-two-runs-one-missing", ("report", "{run}", "nothere"), setup=_run_copy,
         says=("nothere is not a run folder",), after=_unchanged("run")),
    Case("report-output-onto-the-checkpoint", ("report", "{run}", "-o", "{ckpt}"), setup=_run_copy,
         says=("is the checkpoint of the run",), after=_unchanged("run")),
    Case("report-output-onto-a-foreign-file", ("report", "{vae_run}", "-o", "notes.txt"),
         setup=_files({"notes.txt": "mine\n"}), says=("is not a genzoo report page",),
         after=_unchanged("tmp")),
    # --- list ------------------------------------------------------------------------------------
    Case("list-unknown-flag", ("list", "--nope"), says=("No such option '--nope'",)),
    Case("list-a-pattern-matching-nothing", ("list", "extra"), expect="ok",
         says=("no model matches 'extra'",)),
    # --- new-plugin ------------------------------------------------------------------------------
    Case("new-plugin-empty-name", ("new-plugin", "", "p"), says=("'' ", *_NOT_A_NAME)),
    Case("new-plugin-leading-digit", ("new-plugin", "9abc", "p"), says=("'9abc'", *_NOT_A_NAME)),
    Case("new-plugin-a-space", ("new-plugin", "my model", "p"), says=("'my model'", *_NOT_A_NAME)),
    Case("new-plugin-a-path", ("new-plugin", "../evil", "p"), says=("'../evil'", *_NOT_A_NAME),
         after=lambda tmp, values, result: not (tmp.parent / "evil").exists() or
         pytest.fail("../evil written")),
    Case("new-plugin-a-slash", ("new-plugin", "a/b", "p"), says=_NOT_A_NAME),
    Case("new-plugin-not-ascii", ("new-plugin", "é-model", "p"), says=_NOT_A_NAME),
    Case("new-plugin-a-very-long-name", ("new-plugin", "a" * 300, "p"), says=("at most 40 characters",)),
    Case("new-plugin-into-a-non-empty-folder", ("new-plugin", "good-one", "mine"),
         setup=_files({"mine/notes.txt": "mine\n"}), says=("mine already exists and is not empty", "--force"),
         after=_unchanged("tmp")),
    Case("new-plugin-into-a-file", ("new-plugin", "good-one", "notes.txt"),
         setup=_files({"notes.txt": "mine\n"}), says=("'notes.txt' is a file",), after=_unchanged("tmp")),
    Case("new-plugin-an-installed-name", ("new-plugin", "vae", "p"),
         says=("'vae' would shadow what is installed",)),
    # --- the top level ---------------------------------------------------------------------------
    Case("unknown-command", ("nope",), says=("No such command 'nope'",)),
    Case("blocked-plugin-train", ("--block-plugins", "gan", "train", "gan", "--data", "{color40}",
                                  "--out", "{tmp}/out"),
         says=("no model named 'gan'",), after=_no_run),
    Case("only-another-plugin-train", ("--plugins", "vae", "train", "gan", "--data", "{color40}",
                                       "--out", "{tmp}/out"),
         says=("no model named 'gan'", "Available models: conv-vae, vae."), after=_no_run),
    Case("plugins-nonexistent-list", ("--plugins", "nonexistent", "list"), expect="ok"),
]


@pytest.fixture
def _plugins_back() -> Iterator[None]:
    """``--plugins``/``--block-plugins`` choose plugins for the process: discover them all again."""
    yield
    genzoo.reload_plugins()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_cli_options(case: Case, tmp_path: Path, hostile_base: dict[str, Any],  # noqa: F811
                     monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if case.argv[0] == "eval":
        pytest.importorskip("torchmetrics")
    if case.argv[0] == "report":
        pytest.importorskip("matplotlib")
    if any(arg.endswith("plugins") for arg in case.argv):
        request.getfixturevalue("_plugins_back")
    run_case(case, tmp_path, hostile_base, monkeypatch)
