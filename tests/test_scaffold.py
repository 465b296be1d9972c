"""``genzoo new-plugin``: the package it writes installs, is listed, and passes its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import genzoo
from genzoo.cli import main
from genzoo.scaffold import ScaffoldError, name_clashes, plugin_names, write_plugin
from tests.plugin_packages import install_plugin, pip_install_dir  # noqa: F401

_SELECTION = ("GENZOO_PLUGINS", "GENZOO_BLOCK_PLUGINS")
_FILES = ["pyproject.toml", "README.md", ".gitignore", "genzoo_my_model/__init__.py",
          "genzoo_my_model/model.py", "genzoo_my_model/losses.py", "tests/test_my_model.py"]


def test_new_plugin_package_installs_is_listed_and_passes_its_own_tests(
        tmp_path: Path, install_plugin: Callable, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    for variable in _SELECTION:
        monkeypatch.delenv(variable, raising=False)
    package = tmp_path / "genzoo-my-model"
    result = CliRunner().invoke(main, ["new-plugin", "my-model", str(package)])
    assert result.exit_code == 0, result.output
    assert "created genzoo-my-model" in result.output and "pip install -e" in result.output
    assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == sorted(_FILES)

    pyproject = tomllib.loads((package / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "genzoo-my-model"
    assert pyproject["project"]["entry-points"]["genzoo"] == {"my-model": "genzoo_my_model"}

    site = pip_install_dir(package, tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if k not in _SELECTION}
    # The package's tests run against the genzoo under test (this checkout), not another copy.
    checkout = Path(genzoo.__file__).resolve().parents[1]
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(checkout)]), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(package / "tests")], cwd=package, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout

    install_plugin.prepend_site(site)  # type: ignore[attr-defined]
    info = {i.name: i for i in genzoo.model_infos()}["my-model"]
    assert (info.plugin, info.distribution, info.version) == ("my-model", "genzoo-my-model", "0.1.0")
    listed = CliRunner().invoke(main, ["list"]).output
    assert any(line.startswith("my-model ") and "genzoo-my-model 0.1.0" in line
               for line in listed.splitlines())
    model = genzoo.build("my-model", seed=0, hidden_dim=16, latent_dim=2)
    assert type(model).__name__ == "MyModel" and model.config.latent_dim == 2
    images = model.sample(3, seed=0)
    assert images.shape == (3, 1, 28, 28) and 0 <= images.min() and images.max() <= 1


@pytest.mark.parametrize("name", ["my-model", "my_model", "genzoo-my-model"])
def test_names_derived_from_the_plugin_name(name: str) -> None:
    names = plugin_names(name)
    assert (names.model, names.distribution, names.package, names.class_name, names.test_file) == (
        "my-model", "genzoo-my-model", "genzoo_my_model", "MyModel", "test_my_model.py")


def test_generated_sources_compile_for_another_name(tmp_path: Path) -> None:
    write_plugin("ddpm2", tmp_path / "pkg")
    for path in (tmp_path / "pkg").rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
    source = (tmp_path / "pkg" / "genzoo_ddpm2" / "model.py").read_text()
    assert "class Ddpm2(GenerativeModel)" in source and "{{" not in source
    assert "{{" not in (tmp_path / "pkg" / "README.md").read_text()


def test_generated_package_declares_the_plugin_api_and_genzoo_series(tmp_path: Path) -> None:
    """What the plugin guide asks of a plugin: GENZOO_PLUGIN_API, and genzoo's release series
    as a requirement. (That it imports only genzoo.plugin is an import contract's test.)"""
    write_plugin("my-model", tmp_path / "pkg")
    init = (tmp_path / "pkg" / "genzoo_my_model" / "__init__.py").read_text()
    assert f"\nGENZOO_PLUGIN_API = {genzoo.plugins.PLUGIN_API_VERSION}\n" in init
    assert "from genzoo.plugin import hookimpl" in init
    dependencies = tomllib.loads((tmp_path / "pkg" / "pyproject.toml").read_text())["project"][
        "dependencies"]
    if genzoo.__version__.startswith("0.0.0"):  # a source tree that is not installed
        assert dependencies[0] == "genzoo"
        return
    major, minor = (int(part) for part in genzoo.__version__.split(".")[:2])
    series = f"genzoo>={major}.{minor},<{major}.{minor + 1}" if major == 0 else \
        f"genzoo>={major}.{minor},<{major + 1}"
    assert dependencies[0] == series


@pytest.mark.parametrize("name", ["My-Model", "1model", "my--model", "my model", "_model",
                                  "model-", "my.model", "", "x" * 41])
def test_bad_name_is_refused_and_writes_nothing(tmp_path: Path, name: str) -> None:
    result = CliRunner().invoke(main, ["new-plugin", name, str(tmp_path / "pkg")])
    assert result.exit_code == 2
    assert "not a usable plugin name" in result.output and "my-model" in result.output
    assert not (tmp_path / "pkg").exists()
    with pytest.raises(ScaffoldError) as caught:
        write_plugin(name, tmp_path / "pkg")
    assert isinstance(caught.value, genzoo.GenzooError)


def test_existing_folder_with_files_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "README.md").write_text("old")
    result = CliRunner().invoke(main, ["new-plugin", "my-model", str(target)])
    assert result.exit_code == 2
    assert "already exists and is not empty" in result.output and "--force" in result.output
    assert (target / "README.md").read_text() == "old"
    assert not (target / "pyproject.toml").exists()

    result = CliRunner().invoke(main, ["new-plugin", "my-model", str(target), "--force"])
    assert result.exit_code == 0, result.output
    assert (target / "pyproject.toml").is_file() and (target / "notes.txt").read_text() == "mine"
    assert "genzoo-my-model" in (target / "README.md").read_text()


def test_empty_folder_is_fine_and_a_file_is_not(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert write_plugin("my-model", tmp_path / "empty") == tmp_path / "empty"
    assert (tmp_path / "empty" / "pyproject.toml").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScaffoldError, match="not a folder"):
        write_plugin("my-model", tmp_path / "file", force=True)


def test_directory_defaults_to_the_distribution_name(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["new-plugin", "my_model"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "genzoo-my-model" / "genzoo_my_model" / "model.py").is_file()


def test_a_built_in_plugins_name_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    """``genzoo_vae`` is the built-in VAE's package: installing a second one would replace it."""
    result = CliRunner().invoke(main, ["new-plugin", "vae", str(tmp_path / "pkg")])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("Error: 'vae' would shadow what is installed")
    assert "the package genzoo_vae is already importable" in message
    assert "the model 'vae' is registered (from genzoo " in message
    assert "(e.g. my-vae)" in message and "--force" in message
    assert not (tmp_path / "pkg").exists()
    with pytest.raises(ScaffoldError, match="the package genzoo_vae is already importable"):
        write_plugin("vae", tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_force_writes_a_taken_name_and_says_what_it_shadows(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["new-plugin", "vae", str(tmp_path / "pkg"), "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pkg" / "genzoo_vae" / "model.py").is_file()
    assert "created genzoo-vae" in result.stdout
    assert result.stderr.startswith("warning: --force:") and "genzoo_vae" in result.stderr
    assert write_plugin("vae", tmp_path / "py", force=True) == tmp_path / "py"


def test_a_fresh_name_is_free_and_written_without_a_warning(tmp_path: Path) -> None:
    assert name_clashes(plugin_names("zebra-model")) == []
    result = CliRunner().invoke(main, ["new-plugin", "zebra-model", str(tmp_path / "pkg")])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert (tmp_path / "pkg" / "genzoo_zebra_model" / "model.py").is_file()


def test_a_model_another_plugin_registers_is_refused(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``dcgan`` is a model of the gan plugin; no package or distribution has its name."""
    for variable in _SELECTION:
        monkeypatch.delenv(variable, raising=False)
    genzoo.reload_plugins()
    try:
        assert name_clashes(plugin_names("dcgan")) == [
            "the model 'dcgan' is registered (from genzoo " + genzoo.__version__ + ")"]
        result = CliRunner().invoke(main, ["new-plugin", "dcgan", str(tmp_path / "pkg")])
    finally:
        monkeypatch.undo()
        genzoo.reload_plugins()
    assert result.exit_code == 2 and "the model 'dcgan' is registered" in result.stderr
    assert not (tmp_path / "pkg").exists()


def test_a_name_taken_only_by_an_installed_distribution_is_refused(
        tmp_path: Path, install_plugin: Callable) -> None:  # noqa: F811
    """A distribution genzoo-lonely that has no package genzoo_lonely and registers no model."""
    names = plugin_names("lonely")
    assert name_clashes(names) == []
    site = tmp_path / "site"
    (site / "genzoo_lonely-1.0.dist-info").mkdir(parents=True)
    (site / "genzoo_lonely-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: genzoo-lonely\nVersion: 1.0\n")
    install_plugin.prepend_site(site)  # type: ignore[attr-defined]
    assert name_clashes(names) == ["the distribution genzoo-lonely 1.0 is installed"]
    result = CliRunner().invoke(main, ["new-plugin", "lonely", str(tmp_path / "pkg")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: 'lonely' would shadow what is installed: the distribution genzoo-lonely 1.0 is "
        "installed; choose another name (e.g. my-lonely), or pass --force (force=True from "
        "Python) to write it anyway")
    assert not (tmp_path / "pkg").exists()


def test_a_name_taken_only_by_an_importable_package_is_refused(
        tmp_path: Path, install_plugin: Callable) -> None:  # noqa: F811
    site = tmp_path / "site"
    (site / "genzoo_solo").mkdir(parents=True)
    (site / "genzoo_solo" / "__init__.py").write_text("")
    install_plugin.prepend_site(site)  # type: ignore[attr-defined]
    assert name_clashes(plugin_names("solo")) == [
        f"the package genzoo_solo is already importable (from {site / 'genzoo_solo'})"]
    result = CliRunner().invoke(main, ["new-plugin", "solo", str(tmp_path / "pkg")])
    assert result.exit_code == 2 and "the package genzoo_solo" in result.stderr


def test_help_shows_examples() -> None:
    result = CliRunner().invoke(main, ["new-plugin", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "genzoo new-plugin my-model" in result.output
    assert "new-plugin" in CliRunner().invoke(main, ["--help"]).output


def test_scaffolded_model_trains_in_process(tmp_path: Path) -> None:
    """The template model, imported from the written files, fits through the runner."""
    write_plugin("my-model", tmp_path / "pkg")
    sys.path.insert(0, str(tmp_path / "pkg"))
    try:
        from genzoo_my_model.model import MyModel

        model = MyModel(hidden_dim=16, latent_dim=2, image_shape=(1, 4, 4))
        fitted = model.fit([torch.rand(8, 1, 4, 4)] * 2, epochs=1, seed=0, progress=False)
        assert fitted.steps == 2 and fitted.metrics["loss"] > 0
    finally:
        sys.path.remove(str(tmp_path / "pkg"))
        for name in [m for m in sys.modules if m.startswith("genzoo_my_model")]:
            del sys.modules[name]
