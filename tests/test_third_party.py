"""The example third-party plugin ``examples/genzoo-diffusion``, pip-installed for real.

The package is copied to a temporary folder (so that building it leaves nothing in the source
tree) and installed once per session with ``pip install --no-deps --no-build-isolation
--no-index --target <site>``; each test puts ``<site>`` on ``sys.path`` through the
``install_plugin`` fixture, which undoes it afterwards.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import genzoo
import genzoo.plugins
from genzoo.cli import main
from genzoo.data import InMemoryLoader
from genzoo.runner import LAST_CHECKPOINT
from tests.plugin_packages import install_plugin, pip_install_dir  # noqa: F401

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "genzoo-diffusion"
_SELECTION = ("GENZOO_PLUGINS", "GENZOO_BLOCK_PLUGINS")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Train the tiny models on one thread: as fast as two for them, and far faster when other
    processes keep the cores busy (OpenMP threads then wait on each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def diffusion_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("genzoo-diffusion")
    source = root / "genzoo-diffusion"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__"))
    return pip_install_dir(source, root / "site")


@pytest.fixture
def diffusion(monkeypatch: pytest.MonkeyPatch, install_plugin: Callable, diffusion_site: Path) -> Path:  # noqa: F811
    """The example plugin, installed and visible; returns its site folder."""
    for variable in _SELECTION:
        monkeypatch.delenv(variable, raising=False)
    install_plugin.prepend_site(diffusion_site)  # type: ignore[attr-defined]
    return diffusion_site


def small(**overrides: object) -> genzoo.GenerativeModel:
    config = {"base_width": 8, "timesteps": 100, "sample_steps": 4, "lr": 5e-3, **overrides}
    return genzoo.build("diffusion", seed=0, **config)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs"


# -- discovery ------------------------------------------------------------------------------


def test_installed_example_is_listed_with_its_distribution(diffusion: Path) -> None:
    dist = importlib.metadata.distribution("genzoo-diffusion")
    assert dist.version == "0.1.0"
    assert [(ep.name, ep.value) for ep in dist.entry_points if ep.group == "genzoo"] == [
        ("diffusion", "genzoo_diffusion")]

    info = {i.name: i for i in genzoo.model_infos()}["diffusion"]
    assert (info.plugin, info.distribution, info.version) == ("diffusion", "genzoo-diffusion", "0.1.0")
    assert genzoo.broken_plugins() == []
    assert "genzoo_diffusion.model" not in sys.modules  # listing imports no model code

    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("diffusion "))
    assert "genzoo-diffusion 0.1.0" in row and "DDPM" in row
    listed = json.loads(CliRunner().invoke(main, ["list", "--json"]).output)
    assert {"name": "diffusion", "plugin": "diffusion", "distribution": "genzoo-diffusion",
            "version": "0.1.0"}.items() <= next(
                m for m in listed["models"] if m["name"] == "diffusion").items()


def test_plugin_api_protocols_and_typed_config(diffusion: Path) -> None:
    import genzoo_diffusion

    assert genzoo_diffusion.GENZOO_PLUGIN_API == genzoo.plugins.PLUGIN_API_VERSION
    assert Path(genzoo_diffusion.__file__).resolve().is_relative_to(diffusion.resolve())
    model = small()
    assert type(model).__module__ == "genzoo_diffusion.model"
    assert isinstance(model, genzoo.Generator) and isinstance(model, genzoo.Trainer)
    assert not isinstance(model, genzoo.Encoder)
    assert set(model.configure_optimizers()) == {"diffusion"}

    parsed = genzoo.build("diffusion", image_shape="3x32x32", sampler="ddpm", sample_steps="7")
    assert parsed.config.image_shape == (3, 32, 32) and parsed.config.sampler == "ddpm"
    assert parsed.config.sample_steps == 7 and parsed.image_shape == (3, 32, 32)
    with pytest.raises(genzoo.ConfigError, match="sampler"):
        genzoo.build("diffusion", sampler="euler")
    with pytest.raises(genzoo.ConfigError, match="sample_steps"):
        genzoo.build("diffusion", timesteps=10, sample_steps=20)
    with pytest.raises(genzoo.ConfigError, match="divisible"):
        genzoo.build("diffusion", image_shape=(1, 27, 27))


# -- training and sampling ------------------------------------------------------------------


def test_fit_on_mnist_lowers_the_loss(diffusion: Path, mnist_train: torch.Tensor) -> None:
    model = small()
    g = torch.Generator().manual_seed(0)
    images = mnist_train[:64].float() / 255
    t = torch.randint(0, model.config.timesteps, (64,), generator=g)
    noise = torch.randn(images.shape, generator=g)
    with torch.no_grad():
        before = model.loss(images, t, noise).item()
    result = model.fit(InMemoryLoader(mnist_train[:256], batch_size=32), epochs=3, seed=0,
                       progress=False)
    with torch.no_grad():
        after = model.loss(images, t, noise).item()
    assert result.steps == 24 and [h["epoch"] for h in result.history] == [1, 2, 3]
    assert 0.9 < before < 1.1  # the zero-initialised head predicts no noise at first
    assert after < 0.5 * before, (before, after)
    assert result.history[-1]["loss"] < result.history[0]["loss"]


@pytest.mark.parametrize("shape, sampler", [((1, 28, 28), "ddim"), ((3, 32, 32), "ddpm")])
def test_samples_have_the_image_shape_and_unit_range(diffusion: Path, shape, sampler) -> None:
    model = small(image_shape=shape, sampler=sampler)
    images = model.sample(3, seed=0)
    assert images.shape == (3, *shape) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
    assert model.training  # sampling leaves the mode as it was
    assert model.sampling_timesteps() == [99, 66, 33, 0]
    with pytest.raises(ValueError, match="not class-conditional"):
        model.sample(2, labels=1)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sampling_repeats_with_a_seed_and_leaves_global_rng_alone(diffusion: Path, sampler) -> None:
    model = small(sampler=sampler)
    model.fit([torch.rand(8, 1, 28, 28)], epochs=1, seed=0, progress=False)  # not all-zero output
    state = torch.get_rng_state()
    a, b = model.sample(4, seed=1), model.sample(4, seed=1)
    assert torch.equal(a, b)
    assert not torch.equal(a, model.sample(4, seed=2))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(model.sample(2, generator=g1), model.sample(2, generator=g2))
    z = model.sample_latent(2, generator=torch.Generator().manual_seed(0))
    assert z.shape == (2, 1, 28, 28)
    assert torch.equal(model.generate(z), model.generate(z.clone()))
    assert torch.equal(state, torch.get_rng_state())


def test_ddpm_adds_noise_along_the_way_and_ddim_does_not(diffusion: Path) -> None:
    ddim, ddpm = small(sampler="ddim"), small(sampler="ddpm")
    ddpm.load_state_dict(ddim.state_dict())
    z = ddim.sample_latent(2, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(9)
    assert torch.equal(ddim.denoise(z, generator=g), ddim.denoise(z))  # deterministic
    assert not torch.equal(ddpm.denoise(z, generator=torch.Generator().manual_seed(1)),
                           ddpm.denoise(z, generator=torch.Generator().manual_seed(2)))


def test_checkpoint_and_exact_resume(diffusion: Path, mnist_train: torch.Tensor, tmp_path: Path) -> None:
    images = mnist_train[:96]  # 3 steps per epoch

    def run(model: genzoo.GenerativeModel, epochs: int, out: Path, **options: object):
        return model.fit(InMemoryLoader(images, batch_size=32), epochs=epochs, out=out,
                         grid_size=4, progress=False, **options)

    whole = small()
    run(whole, 4, tmp_path / "whole", seed=11)
    run(small(), 2, tmp_path / "split", seed=11)
    resumed = small()  # a fresh process would start from fresh weights and RNG too
    torch.manual_seed(12345)
    result = run(resumed, 4, tmp_path / "split", resume="auto")

    assert result.epochs == 4 and [h["epoch"] for h in result.history] == [3, 4]
    assert_same_weights(whole, resumed)
    checkpoint = tmp_path / "split" / LAST_CHECKPOINT
    loaded = genzoo.load(checkpoint)
    assert type(loaded) is type(whole) and loaded.config == whole.config
    assert_same_weights(whole, loaded)
    assert torch.equal(loaded.sample(3, seed=4), whole.sample(3, seed=4))
    versions = torch.load(checkpoint, weights_only=True)["versions"]
    assert (versions["plugin"], versions["plugin_version"]) == ("genzoo-diffusion", "0.1.0")
    assert (tmp_path / "split" / "grids" / "samples_final.png").is_file()


# -- the command line -----------------------------------------------------------------------


def test_cli_trains_and_samples_the_plugin_model(diffusion: Path, mnist_root: Path,
                                                 tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _SELECTION}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(diffusion), *filter(None, [env.get("PYTHONPATH")])])
    out = tmp_path / "run"
    command = [sys.executable, "-m", "genzoo", "train", "diffusion", "--data", "mnist",
               "--data-root", str(mnist_root), "--no-download", "--max-steps", "3",
               "--batch-size", "16", "--seed", "0", "--no-progress", "--out", str(out),
               "--set", "sample_steps=5", "--set", "base_width=8", "--set", "timesteps=50"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "trained diffusion" in done.stdout
    checkpoint = out / LAST_CHECKPOINT
    assert checkpoint.is_file() and (out / "grids" / "samples_final.png").is_file()
    assert torch.load(checkpoint, weights_only=True)["step"] == 3
    record = json.loads((out / "run.json").read_text())
    assert record["model"] == "diffusion" and record["config"]["sample_steps"] == 5

    samples = tmp_path / "samples.png"
    result = CliRunner().invoke(main, ["sample", str(checkpoint), "-n", "4", "-o", str(samples),
                                       "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert samples.is_file() and "4 samples" in result.output
    model = genzoo.load(checkpoint)
    assert (model.config.base_width, model.config.sample_steps, model.image_shape) == (8, 5, (1, 28, 28))


# -- selecting, blocking and uninstalling ---------------------------------------------------


def test_block_and_select_the_plugin(diffusion: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    unset = dict.fromkeys(_SELECTION)  # CliRunner restores these after each call
    result = runner.invoke(main, ["--block-plugins", "diffusion", "list", "--json"], env=unset)
    assert result.exit_code == 0, result.output
    names = [m["name"] for m in json.loads(result.output)["models"]]
    assert "diffusion" not in names and {"gan", "vae"} <= set(names)

    result = runner.invoke(main, ["--plugins", "diffusion", "list", "--json"], env=unset)
    assert [m["name"] for m in json.loads(result.output)["models"]] == ["diffusion"]

    monkeypatch.setenv("GENZOO_BLOCK_PLUGINS", "diffusion")
    genzoo.reload_plugins()
    assert "diffusion" not in genzoo.list_models()
    with pytest.raises(genzoo.UnknownModelError):
        genzoo.build("diffusion")
    monkeypatch.delenv("GENZOO_BLOCK_PLUGINS")
    genzoo.reload_plugins()
    assert "diffusion" in genzoo.list_models()


def test_uninstalling_removes_the_model(diffusion: Path) -> None:
    assert "diffusion" in genzoo.list_models()
    sys.path.remove(str(diffusion))  # the fixture puts sys.path back afterwards
    for name in [m for m in sys.modules if m == "genzoo_diffusion" or m.startswith("genzoo_diffusion.")]:
        del sys.modules[name]
    genzoo.reload_plugins()
    assert "diffusion" not in genzoo.list_models()
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0 and "diffusion" not in result.output
    with pytest.raises(genzoo.UnknownModelError):
        genzoo.build("diffusion")
