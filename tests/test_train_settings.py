"""Run settings declared once: :class:`~genzoo.RunOptions`' fields make :class:`TrainSpec`'s run
options, the flat ``--config``/``train.toml`` form and ``genzoo train``'s flags, and a run
folder's ``train.toml`` written before that still loads and resumes.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import click
import pytest

import genzoo
from genzoo.cli.train_command import _OWN_FLAGS, train
from genzoo.runner.options import PRECISIONS, OptionInfo
from genzoo.training import TrainSpec, run_settings, settings_conflicts, spec_to_toml

#: A ``train.toml`` as genzoo wrote it before the run options were declared once (commit
#: 0ec05af, ``spec_to_toml`` of a ``TrainSpec`` with run options as fields of its own).
TRAIN_TOML_BEFORE = """\
model = "vae"
data = "mnist"
data_root = "/data"
download = true
epochs = 3
batch_size = 16
out = "runs/vae"
device = "cpu"
precision = "bf16"
seed = 7
grid_every = 0
grid_every_steps = 100
checkpoint_every = 2
checkpoint_every_steps = 0
log_every = 10
progress = false
tensorboard = false
strategy = "auto"
lr_schedule = "cosine"
warmup_steps = 4
max_norm = 1.5
ema = 0.99
report = false

[config]
latent_dim = 4
hidden_dim = 32
widths = [16, 8]
"""


def _old_run(tmp_path: Path) -> tuple[dict, dict]:
    (tmp_path / "train.toml").write_text(TRAIN_TOML_BEFORE, encoding="utf-8")
    recorded = run_settings(tmp_path)
    assert recorded is not None
    return recorded


def test_a_train_toml_written_before_still_loads_and_writes_back_the_same(tmp_path: Path) -> None:
    values, config = _old_run(tmp_path)
    spec = TrainSpec.from_settings(values)
    assert (spec.model, spec.data, spec.data_root, spec.epochs, spec.batch_size) == (
        "vae", "mnist", "/data", 3, 16)
    opts = spec.options
    assert (opts.out, opts.device, opts.precision, opts.seed) == ("runs/vae", "cpu", "bf16", 7)
    assert (opts.grid_every, opts.grid_every_steps, opts.checkpoint_every) == (0, 100, 2)
    assert (opts.lr_schedule, opts.warmup_steps, opts.max_norm, opts.ema) == ("cosine", 4, 1.5, 0.99)
    assert opts.progress is False and opts.log_every == 10
    assert config == {"latent_dim": 4, "hidden_dim": 32, "widths": [16, 8]}

    # written again: every key as before, and the options the old file did not hold, at their
    # defaults
    again = tomllib.loads(spec_to_toml(dataclasses.replace(spec, config=config)))
    before = tomllib.loads(TRAIN_TOML_BEFORE)
    added = {key: again.pop(key) for key in set(again) - set(before)}
    assert again == before
    assert added == {"grid_size": 64, "grid_seed": 0, "ema_warmup": True}


def test_resuming_a_train_toml_written_before_refuses_only_real_changes(tmp_path: Path) -> None:
    values, config = _old_run(tmp_path)
    same = {"model": "vae", "batch_size": 16, "seed": 7, "lr_schedule": "cosine", "grid_size": 64,
            "ema_warmup": True, "precision": "fp16", "epochs": 5, "grid_every": 2}
    assert settings_conflicts(values, config, same, {}) == []
    assert settings_conflicts(values, config, {"grid_size": 16, "ema": 0.9}, {}) == [
        "--grid-size 16 (the run has 64)", "--ema 0.9 (the run has 0.99)"]


def test_older_files_lose_what_is_not_recorded(tmp_path: Path) -> None:
    (tmp_path / "train.toml").write_text(
        'model = "vae"\nresume = "auto"\nmax_steps = 3\nhandle_signals = false\n', encoding="utf-8")
    assert run_settings(tmp_path) == ({"model": "vae"}, {})
    text = spec_to_toml(TrainSpec.from_settings({"model": "vae", "resume": "x.pt", "max_steps": 3,
                                                 "handle_signals": False}))
    assert not {"resume", "max_steps", "handle_signals"} & set(tomllib.loads(text))


def _param(name: str) -> click.Parameter:
    return next(p for p in train.params if p.name == name)


@pytest.mark.parametrize(("spelling", "name"), list(PRECISIONS.items()))
def test_every_precision_spelling_is_taken_alike_everywhere(spelling: str, name: str) -> None:
    assert genzoo.RunOptions(precision=spelling).precision == name
    assert TrainSpec.from_settings({"precision": spelling}).options.precision == name
    assert tomllib.loads(spec_to_toml(TrainSpec.from_settings({"precision": spelling})))["precision"] == name
    assert _param("precision").type.convert(spelling, _param("precision"), None) == name


def test_a_toml_precision_may_be_a_number() -> None:
    assert TrainSpec.from_settings(tomllib.loads("precision = 16")).options.precision == "16"


def test_every_run_option_is_a_flag_made_from_its_field_or_marked() -> None:
    for f in dataclasses.fields(genzoo.RunOptions):
        param = next((p for p in train.params if p.name == f.name), None)
        if f.name in _OWN_FLAGS:
            assert (param is None) == (_OWN_FLAGS[f.name] is None), f.name
            continue
        assert param is not None and f"--{f.name.replace('_', '-')}" in param.opts, f.name
        summary = OptionInfo.of(f).summary.replace("``", "").replace('"', "")
        assert param.help.startswith(summary), (param.help, summary)
        assert param.default is None  # not given: --config or the default decides


def test_unknown_settings_name_every_valid_one() -> None:
    with pytest.raises(genzoo.ConfigError, match="train has no option 'grid_sise'. Did you mean "
                                                 "'grid_size'?") as caught:
        TrainSpec.from_settings({"grid_sise": 4})
    for name in ("epochs", "batch_size", "precision", "ema_warmup", "config"):
        assert name in str(caught.value)
    assert "options" not in str(caught.value).split("Valid options: ")[1].split(", ")


def test_from_settings_reads_what_settings_writes_config_table_included():
    spec = TrainSpec.from_settings({"model": "vae", "epochs": 3, "precision": "fp32",
                                    "config": {"hidden_dim": 32, "beta": "0.5"}})
    again = TrainSpec.from_settings(spec.settings())
    assert again == spec and again.config == {"hidden_dim": 32, "beta": "0.5"}
    with pytest.raises(genzoo.ConfigError, match="'config' must be a table of model settings"):
        TrainSpec.from_settings({"model": "vae", "config": "hidden_dim=32"})
