"""Every shipped model exports as a model folder, and the folder samples what its checkpoint
samples: in this process, and in a fresh one that has only the folder.

The folder holds no pickle: JSON, safetensors, markdown and a PNG; its card carries the Hub's
metadata and what the run folder knew.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import genzoo
from genzoo.errors import OutputExistsError
from genzoo.hub import (CARD_FILE, CONFIG_FILE, FOLDER_FORMAT, FOLDER_FORMAT_VERSION, GRID_FILE,
                        WEIGHTS_FILE, export, from_pretrained)
from tests.hub.conftest import TINY, WITH_EMA

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_model_is_covered():
    assert set(genzoo.list_models()) >= set(TINY)
    assert set(TINY) == {"gan", "dcgan", "vae", "conv-vae", "ddpm", "flow-matching", "glow",
                         "realnvp"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_exported_folder_samples_what_the_checkpoint_samples(name, tiny_runs, tmp_path):
    run = tiny_runs / name
    folder = export(run, tmp_path / name)
    assert sorted(p.name for p in folder.iterdir()) == [CARD_FILE, CONFIG_FILE, WEIGHTS_FILE,
                                                        GRID_FILE]
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["weights"] == ("ema" if name in WITH_EMA else "raw")
    from_checkpoint = genzoo.load(run / "checkpoints" / "last.pt")
    from_folder = from_pretrained(folder)
    assert type(from_folder) is type(from_checkpoint)
    assert from_folder.config == from_checkpoint.config
    for key, value in from_checkpoint.state_dict().items():
        assert torch.equal(from_folder.state_dict()[key], value), key
    assert torch.equal(from_folder.sample(4, seed=7), from_checkpoint.sample(4, seed=7))


#: Loads a folder in a process that has nothing but the folder, and saves its samples.
_SAMPLE_IN_A_FRESH_PROCESS = """
import sys, torch, genzoo
model = genzoo.from_pretrained(sys.argv[1])
torch.save(model.sample(6, seed=11), sys.argv[2])
"""


@pytest.mark.parametrize("name", ["vae", "ddpm"])
def test_a_fresh_process_samples_the_same_images_from_the_folder(name, tiny_runs, tmp_path):
    folder = export(tiny_runs / name, tmp_path / "folder")
    out = tmp_path / "samples.pt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *(str(p) for p in sorted((ROOT / "plugins").glob("genzoo-*"))),
         str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _SAMPLE_IN_A_FRESH_PROCESS, str(folder), str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = genzoo.load(tiny_runs / name / "checkpoints" / "last.pt").sample(6, seed=11)
    assert torch.equal(torch.load(out, weights_only=True), expected)


def test_the_folder_holds_json_safetensors_markdown_and_a_png_and_no_pickle(tiny_runs, tmp_path):
    folder = export(tiny_runs / "gan", tmp_path / "gan")
    config = json.loads((folder / CONFIG_FILE).read_text())  # plain JSON: tuples are lists
    assert config["format"] == FOLDER_FORMAT and config["format_version"] == FOLDER_FORMAT_VERSION
    assert config["model"] == "gan" and config["image_shape"] == [1, 28, 28]
    assert config["config"]["generator_widths"] == [16, 16, 16, 16]
    assert config["versions"]["genzoo"] == genzoo.__version__
    assert config["versions"]["plugin"] == "genzoo" and config["ema_decay"] == 0.9
    assert config["trained"] == {"epochs": 1, "steps": 2}
    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as weights:
        assert weights.metadata()["genzoo_model"] == "gan"
        assert set(weights.keys()) == set(genzoo.load(tiny_runs / "gan" / "checkpoints" / "last.pt")
                                         .state_dict())
    for path in folder.iterdir():
        head = path.read_bytes()[:4]
        assert head[:2] not in (b"\x80\x02", b"\x80\x04", b"\x80\x05") and head != b"PK\x03\x04", path
    assert (folder / GRID_FILE).read_bytes() == (tiny_runs / "gan" / "grids" /
                                                 "samples_final.png").read_bytes()


def test_sampling_options_are_recorded_and_may_change_when_loading(tiny_runs, tmp_path):
    folder = export(tiny_runs / "ddpm", tmp_path / "ddpm")
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert set(config["sampling_options"]) == {"clip_denoised", "guidance", "sample_steps",
                                               "sampler"}
    assert from_pretrained(folder, sample_steps=2).config.sample_steps == 2
    with pytest.raises(genzoo.ConfigError, match="'base_width' is a training setting"):
        from_pretrained(folder, base_width=16)


def test_weights_raw_exports_the_trained_weights_of_a_run_with_an_ema(tiny_runs, tmp_path):
    checkpoint = tiny_runs / "gan" / "checkpoints" / "last.pt"
    folder = export(checkpoint, tmp_path / "raw", weights="raw")
    assert json.loads((folder / CONFIG_FILE).read_text())["weights"] == "raw"
    raw = genzoo.load(checkpoint, weights="raw")
    assert torch.equal(from_pretrained(folder).sample(3, seed=1), raw.sample(3, seed=1))
    assert not torch.equal(from_pretrained(folder).sample(3, seed=1),
                           genzoo.load(checkpoint).sample(3, seed=1))
    with pytest.raises(genzoo.CheckpointError, match="holds only the trained weights"):
        from_pretrained(folder, weights="ema")
    with pytest.raises(genzoo.CheckpointError, match="holds no weight EMA"):
        export(tiny_runs / "vae", tmp_path / "no-ema", weights="ema")


def test_save_pretrained_writes_a_folder_from_a_model_in_memory(tmp_path):
    model = genzoo.build("conv-vae", seed=3, temperature=0.5, **TINY["conv-vae"])
    folder = model.save_pretrained(tmp_path / "in-memory", license="mit", grid=9)
    assert sorted(p.name for p in folder.iterdir()) == [CARD_FILE, CONFIG_FILE, WEIGHTS_FILE,
                                                        GRID_FILE]
    loaded = from_pretrained(folder)
    assert loaded.config.temperature == 0.5
    assert torch.equal(loaded.sample(4, seed=2), model.sample(4, seed=2))
    card = (folder / CARD_FILE).read_text()
    assert 'license: "mit"' in card and "## Training" not in card
    assert "9 samples drawn with seed 0" in card
    from genzoo.runner.outputs import save_sample_grid  # the grid is the model's own samples

    expected = save_sample_grid(model, tmp_path / "expected.png", 9, seed=0).read_bytes()
    assert (folder / GRID_FILE).read_bytes() == expected
    bare = model.save_pretrained(tmp_path / "no-grid", grid=0)
    assert not (bare / GRID_FILE).exists() and "## Samples" not in (bare / CARD_FILE).read_text()


class _Tied(genzoo.GenerativeModel):
    """A model whose decoder shares its weight with the encoder (tied weights) and keeps a
    transposed, non-contiguous view as a buffer."""

    from dataclasses import dataclass as _dataclass

    @_dataclass
    class Config:
        image_shape: tuple[int, int, int] = (1, 4, 4)

    def __init__(self, config=None, /, **overrides):
        super().__init__(config, **overrides)
        self.encoder = torch.nn.Linear(16, 16, bias=False)
        self.decoder = torch.nn.Linear(16, 16, bias=False)
        self.decoder.weight = self.encoder.weight
        self.register_buffer("mixing", torch.randn(16, 8).t())  # 8×16, not contiguous

    def sample_latent(self, n, *, generator):
        return torch.randn(n, 16, generator=generator)

    def generate(self, z, labels=None):
        return torch.sigmoid(self.decoder(z) + self.mixing.sum(0)).view(-1, 1, 4, 4)


class _TiedPlugin:
    @genzoo.hookimpl
    def genzoo_register_models(self, register):
        register("tied-test", _Tied, summary="a test model with tied weights")


def test_tied_and_non_contiguous_weights_export_and_stay_tied(tmp_path):
    genzoo.register_plugin(_TiedPlugin(), name="tied-test")
    try:
        model = genzoo.build("tied-test", seed=0)
        assert not model.mixing.is_contiguous()
        folder = model.save_pretrained(tmp_path / "tied")
        with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as weights:
            assert len(set(weights.keys()) & {"encoder.weight", "decoder.weight"}) == 1
        loaded = from_pretrained(folder)
        assert loaded.decoder.weight is loaded.encoder.weight
        assert torch.equal(loaded.mixing, model.mixing)
        assert torch.equal(loaded.sample(2, seed=0), model.sample(2, seed=0))
    finally:
        genzoo.unregister_plugin("tied-test")


# -- where a folder may be written ------------------------------------------------------------

def test_a_new_export_replaces_an_earlier_one_and_keeps_files_added_to_it(tiny_runs, tmp_path):
    folder = export(tiny_runs / "gan", tmp_path / "gan")
    (folder / "LICENSE").write_text("mine\n")
    export(tiny_runs / "gan", folder, weights="raw")
    assert json.loads((folder / CONFIG_FILE).read_text())["weights"] == "raw"
    assert (folder / "LICENSE").read_text() == "mine\n"
    genzoo.build("gan", **TINY["gan"]).save_pretrained(folder, grid=0)  # no grid any more
    assert not (folder / GRID_FILE).exists() and (folder / "LICENSE").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_folder_of_other_files_is_written_into_only_with_force(tiny_runs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me\n")
    with pytest.raises(OutputExistsError, match="not a genzoo model folder.*--force"):
        export(tiny_runs / "vae", other)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    export(tiny_runs / "vae", other, force=True)
    assert (other / "notes.txt").read_text() == "keep me\n" and (other / CONFIG_FILE).is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    export(tiny_runs / "vae", empty)  # an empty folder is fine


@pytest.mark.parametrize("where", ["run", "checkpoints", "grids", "parent", "file"])
def test_outputs_never_replace_inputs(where, tiny_runs, tmp_path):
    import shutil

    run = shutil.copytree(tiny_runs / "vae", tmp_path / "run")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    target = {"run": run, "checkpoints": run / "checkpoints", "grids": run / "grids",
              "parent": tmp_path, "file": run / "metrics.jsonl"}[where]
    with pytest.raises(OutputExistsError):
        export(run, target, force=True)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    export(run, run / "export")  # a new folder inside the run folder is fine


def test_export_of_something_that_is_not_a_run(tmp_path, tiny_runs):
    with pytest.raises(genzoo.CheckpointError, match="no checkpoint file or run folder at"):
        export(tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(genzoo.CheckpointError, match="is not a run folder"):
        export(tmp_path, tmp_path / "out")
    folder = export(tiny_runs / "vae", tmp_path / "folder")
    with pytest.raises(genzoo.CheckpointError, match="is a model folder already"):
        export(folder, tmp_path / "again")
