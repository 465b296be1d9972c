"""Loading a model folder is strict, and each refusal is one line that says what to do: a model
whose plugin is not installed names the distribution; a config field the installed plugin does
not know names both versions; weights that do not fit the config are a CheckpointError; a
folder genzoo did not write says so. The commands take folders too, with the same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import genzoo
from genzoo.errors import CheckpointError, UnknownModelError
from genzoo.hub import CONFIG_FILE, WEIGHTS_FILE, export, from_pretrained
from tests.cli import invoke, ok, user_error


@pytest.fixture
def folder(tiny_runs: Path, tmp_path: Path) -> Path:
    return export(tiny_runs / "vae", tmp_path / "vae")


def _edit(folder: Path, change) -> None:
    config = json.loads((folder / CONFIG_FILE).read_text())
    change(config)
    (folder / CONFIG_FILE).write_text(json.dumps(config))


def test_a_model_whose_plugin_is_not_installed_names_the_distribution(folder):
    def imagined(config):
        config["model"] = "imagined-gan"
        config["versions"].update(plugin="genzoo-imagined", plugin_version="1.2.0")

    _edit(folder, imagined)
    with pytest.raises(UnknownModelError, match="from the plugin distribution genzoo-imagined .*"
                                                "not installed; install it with: pip install "
                                                "genzoo-imagined"):
        from_pretrained(folder)


def test_a_model_whose_installed_plugin_is_blocked_says_so(tiny_runs, tmp_path, monkeypatch):
    folder = export(tiny_runs / "ddpm", tmp_path / "ddpm")
    monkeypatch.setenv("GENZOO_BLOCK_PLUGINS", "ddpm")
    genzoo.reload_plugins()
    try:
        with pytest.raises(UnknownModelError, match="installed genzoo-diffusion .* does not "
                                                    "provide it .*GENZOO_BLOCK_PLUGINS"):
            from_pretrained(folder)
    finally:
        monkeypatch.delenv("GENZOO_BLOCK_PLUGINS")
        genzoo.reload_plugins()  # the next test finds the plugin again


def test_a_config_field_the_plugin_does_not_know_names_both_versions(folder):
    def newer(config):
        config["config"]["posterior_flow"] = 4
        config["versions"]["plugin_version"] = "9.0.0"

    _edit(folder, newer)
    with pytest.raises(CheckpointError) as caught:
        from_pretrained(folder)
    message = str(caught.value)
    assert "written by genzoo 9.0.0" in message and f"genzoo {genzoo.__version__} (installed)" in message
    assert "'posterior_flow'" in message


def test_weights_that_do_not_fit_the_config_are_a_checkpoint_error(folder):
    _edit(folder, lambda config: config["config"].update(latent_dim=6))
    with pytest.raises(CheckpointError, match=f"the weights in .*{WEIGHTS_FILE} do not fit model "
                                              "'vae'.*size mismatch"):
        from_pretrained(folder)


def test_damaged_or_missing_weights_are_a_checkpoint_error(folder):
    data = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(data[:100])
    with pytest.raises(CheckpointError, match="is damaged and cannot be read"):
        from_pretrained(folder)
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"has a {CONFIG_FILE} but no {WEIGHTS_FILE}"):
        from_pretrained(folder)


def test_weights_of_another_model_are_refused(tiny_runs, folder, tmp_path):
    gan = export(tiny_runs / "gan", tmp_path / "gan")
    (folder / WEIGHTS_FILE).write_bytes((gan / WEIGHTS_FILE).read_bytes())
    with pytest.raises(CheckpointError, match="holds the weights of model 'gan'.*describes 'vae'"):
        from_pretrained(folder)


@pytest.mark.parametrize(("config", "says"), [
    (None, "has no config.json, so it is not a genzoo model folder"),
    ({"model_type": "bert", "architectures": ["BertModel"]},
     "not a genzoo model config .*looks like a transformers model"),
    ({"_class_name": "UNet2DModel", "_diffusers_version": "0.30.0"}, "looks like a diffusers model"),
    ("{not json", "cannot be read"),
])
def test_a_folder_genzoo_did_not_write_says_so(tmp_path, config, says):
    folder = tmp_path / "other"
    folder.mkdir()
    if config is not None:
        text = config if isinstance(config, str) else json.dumps(config)
        (folder / CONFIG_FILE).write_text(text)
    with pytest.raises(CheckpointError, match=says):
        from_pretrained(folder)


def test_a_folder_of_a_newer_format_asks_for_a_newer_genzoo(folder):
    _edit(folder, lambda config: config.update(format_version=99))
    with pytest.raises(CheckpointError, match="format version 99, newer than .*upgrade genzoo"):
        from_pretrained(folder)


def test_a_run_folder_and_a_missing_folder_say_what_they_are(tiny_runs, tmp_path):
    with pytest.raises(CheckpointError, match="is a run folder, not a model folder.*genzoo export"):
        from_pretrained(tiny_runs / "vae")
    with pytest.raises(CheckpointError, match="no model folder at .*not a Hugging Face Hub"):
        from_pretrained(tmp_path / "missing" / "deep" / "folder")
    with pytest.raises(genzoo.ConfigError, match="revision='main' is for Hub repositories"):
        from_pretrained(tmp_path, revision="main")


# -- the commands ---------------------------------------------------------------------------------

def test_sample_info_and_export_on_the_command_line(tiny_runs, tmp_path):
    out = tmp_path / "exported"
    printed = ok(invoke("export", tiny_runs / "gan", out, "--license", "mit")).output
    assert "exported gan (the weight EMA)" in printed and "model.safetensors" in printed
    ok(invoke("sample", out, "-n", "4", "-o", tmp_path / "a.png", "--seed", "3"))
    ok(invoke("sample", tiny_runs / "gan" / "checkpoints" / "last.pt", "-n", "4",
              "-o", tmp_path / "b.png", "--seed", "3"))
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    shown = json.loads(ok(invoke("info", out, "--json")).output)
    assert shown["model"] == "gan" and shown["weights"] == "ema" and shown["repo"] is None
    assert "weights:  the weight EMA of its run" in ok(invoke("info", out)).output
    user_error(invoke("export", tiny_runs / "gan", out / "model.safetensors"), "is a file")
    user_error(invoke("sample", out, "--weights", "raw", "-o", tmp_path / "c.png"),
               "holds only the weight EMA of its run")
    # a run folder stands for its last checkpoint, as it does for export and --teacher
    ok(invoke("sample", tiny_runs / "gan", "-n", "4", "-o", tmp_path / "c.png", "--seed", "3"))
    assert (tmp_path / "c.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    user_error(invoke("sample", tiny_runs / "gan" / "checkpoints", "-o", tmp_path / "d.png"),
               "no checkpoint file at", "neither a run folder", "nor a model folder")
    user_error(invoke("sample", tiny_runs / "gan", "--revision", "main", "-o", tmp_path / "d.png"),
               "--revision is for Hub repositories")
    user_error(invoke("sample", tiny_runs / "gan" / "checkpoints" / "last.pt", "--revision", "main",
                      "-o", tmp_path / "c.png"), "--revision is for Hub repositories")
