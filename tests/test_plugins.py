"""Plugin discovery through the ``genzoo`` entry-point group, with real installed packages."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

import genzoo
import genzoo.plugins
from genzoo.errors import DuplicateModelError, PluginError, UnknownModelError
from tests.plugin_packages import (  # noqa: F401
    TINY_MODEL_SOURCE,
    build_plugin,
    fresh_plugins,
    install_plugin,
)

GENZOO_DIR = Path(genzoo.__file__).resolve().parent

#: Every model the genzoo distribution registers through its built-in plugins.
BUILTIN = ["conv-vae", "dcgan", "gan", "vae"]


@pytest.fixture(autouse=True)
def _no_plugin_selection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No GENZOO_* variable from the caller's shell leaks into these tests."""
    monkeypatch.delenv("GENZOO_PLUGINS", raising=False)
    monkeypatch.delenv("GENZOO_BLOCK_PLUGINS", raising=False)
    genzoo.reload_plugins()
    yield
    genzoo.reload_plugins()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("GENZOO_PLUGINS", "GENZOO_BLOCK_PLUGINS")}


def _run_python(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path,
                          env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the built-in models are ordinary entry-point plugins -----------------------------------


def test_builtins_come_from_the_genzoo_entry_point_group() -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="genzoo")}
    assert eps["gan"].value == "genzoo_gan" and eps["vae"].value == "genzoo_vae"
    assert eps["gan"].dist.metadata["Name"] == "genzoo"
    assert eps["vae"].dist.metadata["Name"] == "genzoo"
    pm = genzoo.plugins.plugin_manager()
    assert pm.get_plugin("gan").__name__ == "genzoo_gan"
    assert pm.get_plugin("vae").__name__ == "genzoo_vae"
    version = importlib.metadata.version("genzoo")
    got = {(i.name, i.plugin, i.distribution, i.version) for i in genzoo.model_infos()}
    assert got == {("gan", "gan", "genzoo", version), ("vae", "vae", "genzoo", version),
                   ("dcgan", "gan", "genzoo", version), ("conv-vae", "vae", "genzoo", version)}
    assert genzoo.broken_plugins() == []


def test_core_never_names_the_builtin_plugins() -> None:
    files = [p for p in GENZOO_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.name == "plugins.py" for p in files)  # the scan does look at the core
    offenders = [
        str(p.relative_to(GENZOO_DIR)) for p in files
        if b"genzoo_gan" in p.read_bytes() or b"genzoo_vae" in p.read_bytes()
    ]
    assert offenders == []


def test_import_is_lazy_and_discovery_imports_no_model_code(tmp_path: Path) -> None:
    got = _run_python("""
        import json, sys
        import genzoo
        out = {"state_after_import": genzoo.plugins._state is not None,
               "plugin_modules_after_import": sorted(
                   m for m in sys.modules if m.startswith(("genzoo_gan", "genzoo_vae")))}
        names = genzoo.list_models()
        builtin = {i.name for i in genzoo.model_infos() if i.distribution == "genzoo"}
        out["names"] = [n for n in names if n in builtin]  # plugins/ distributions may be installed
        out["state_after_list"] = genzoo.plugins._state is not None
        out["gan_model_after_list"] = "genzoo_gan.model" in sys.modules
        out["vae_model_after_list"] = "genzoo_vae.model" in sys.modules
        out["gan_plugin_after_list"] = "genzoo_gan" in sys.modules
        genzoo.build("gan", latent_dim=2, generator_widths=(4,), discriminator_widths=(4,))
        out["gan_model_after_build"] = "genzoo_gan.model" in sys.modules
        out["vae_model_after_build"] = "genzoo_vae.model" in sys.modules
        print(json.dumps(out))
    """, tmp_path)
    assert got == {
        "state_after_import": False,
        "plugin_modules_after_import": [],
        "names": BUILTIN,
        "state_after_list": True,
        "gan_model_after_list": False,
        "vae_model_after_list": False,
        "gan_plugin_after_list": True,
        "gan_model_after_build": True,
        "vae_model_after_build": False,
    }


def test_plugins_are_discovered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    # Once a package imports the importlib_metadata backport (mlflow does), its finder answers
    # entry_points() with the backport's EntryPoint: count the loads of either.
    backport = sys.modules.get("importlib_metadata")
    for kind in {importlib.metadata.EntryPoint, *([backport.EntryPoint] if backport else [])}:
        def counting_load(self: importlib.metadata.EntryPoint, original=kind.load) -> object:
            if self.group == "genzoo":
                loads.append(self.name)
                time.sleep(0.02)  # widen the window in which racing threads could discover twice
            return original(self)

        monkeypatch.setattr(kind, "load", counting_load)
    genzoo.reload_plugins()
    assert genzoo.plugins._state is None
    assert loads == []  # reloading discovers nothing by itself

    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(genzoo.list_models()))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    genzoo.model_infos()
    genzoo.broken_plugins()
    genzoo.build("vae", hidden_dim=4, latent_dim=2)
    pm = genzoo.plugins.plugin_manager()
    assert genzoo.plugins.plugin_manager() is pm
    assert results == [BUILTIN] * 6
    assert sorted(loads) == ["gan", "vae"]

    genzoo.reload_plugins()
    genzoo.list_models()
    assert sorted(loads) == ["gan", "gan", "vae", "vae"]
    assert genzoo.plugins.plugin_manager() is not pm


# -- third-party packages -----------------------------------------------------------------


def test_third_party_package_is_listed_and_built(install_plugin) -> None:
    plugin = install_plugin("gz-acme", "2.1.0", entry_point="acme",
                            models=("acme-tiny", "acme-small"))
    assert genzoo.list_models() == sorted(["acme-small", "acme-tiny", *BUILTIN])
    assert genzoo.list_models("acme-*") == ["acme-small", "acme-tiny"]
    infos = {i.name: i for i in genzoo.model_infos()}
    info = infos["acme-tiny"]
    assert (info.plugin, info.distribution, info.version) == ("acme", "gz-acme", "2.1.0")
    assert info.summary == "Tiny test model acme-tiny."  # first line only
    assert info.origin == "gz-acme 2.1.0"
    assert infos["gan"].distribution == "genzoo"

    model = genzoo.build("acme-tiny", latent_dim="5", image_shape="1,3,3")
    assert type(model).__name__ == "TinyModel"
    assert type(model).__module__ == plugin.module
    assert isinstance(model, genzoo.GenerativeModel)
    assert model.registry_name == "acme-tiny"
    assert model.config.latent_dim == 5
    assert model.sample(4, seed=0).shape == (4, 1, 3, 3)
    assert genzoo.build("gan").registry_name == "gan"
    with pytest.raises(genzoo.ConfigError,
                       match=r"cannot build 'acme-small': model 'TinyModel' has no option "
                             r"'latentdim'\. Did you mean 'latent_dim'\? "
                             r"Valid options: image_shape, latent_dim$"):
        genzoo.build("acme-small", latentdim=3)
    with pytest.raises(UnknownModelError, match=r"Did you mean 'acme-tiny'\? "
                                                r"Available models: acme-small, acme-tiny, conv-vae, dcgan, gan, vae"):
        genzoo.build("acme-tiyn")


def test_registry_is_clean_after_a_test_that_installed_plugins() -> None:
    assert genzoo.list_models() == BUILTIN
    assert genzoo.broken_plugins() == []
    assert not [m for m in sys.modules if m.startswith("gzt_")]
    assert not [p for p in sys.path if "plugin-gzt_" in p]


def test_same_distribution_on_two_path_entries_registers_once(install_plugin,
                                                              tmp_path: Path) -> None:
    plugin = install_plugin("gz-copied", "1.0", models=("copied",))
    install_plugin.prepend_site(build_plugin(plugin.spec, tmp_path / "copy"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert genzoo.list_models() == sorted(["copied", *BUILTIN])
    assert [str(w.message) for w in caught] == []
    assert genzoo.build("copied").registry_name == "copied"
    assert [i.distribution for i in genzoo.model_infos("copied")] == ["gz-copied"]


# -- broken plugins are isolated ----------------------------------------------------------


def _assert_builtins_still_build() -> None:
    assert genzoo.build("vae", hidden_dim=4, latent_dim=2).registry_name == "vae"
    assert genzoo.build("gan", latent_dim=2, generator_widths=(4,),
                        discriminator_widths=(4,)).registry_name == "gan"


@pytest.mark.parametrize(
    ("raise_line", "error_type", "reason"),
    [
        ("raise ImportError('gz-fragile needs torchfoo, which is not installed')", ImportError,
         "ImportError: gz-fragile needs torchfoo, which is not installed"),
        ("raise RuntimeError('no GPU driver found at import')", RuntimeError,
         "RuntimeError: no GPU driver found at import"),
        ("import genzoo_test_no_such_module_xyz", ModuleNotFoundError,
         "ModuleNotFoundError: No module named 'genzoo_test_no_such_module_xyz'"),
    ],
)
def test_plugin_failing_at_import_is_isolated(install_plugin, raise_line: str,
                                              error_type: type[Exception], reason: str) -> None:
    install_plugin("gz-fragile", "0.3", entry_point="fragile", models=("fragile-model",),
                   prelude=raise_line)
    with pytest.warns(RuntimeWarning,
                      match=r"^genzoo plugin 'fragile' from gz-fragile 0\.3 failed to load and is "
                            r"skipped: " + reason.replace(".", r"\.").replace("(", r"\(")
                            .replace(")", r"\)") + "$"):
        names = genzoo.list_models()
    assert names == BUILTIN
    _assert_builtins_still_build()

    [broken] = genzoo.broken_plugins()
    assert isinstance(broken, genzoo.BrokenPlugin)
    assert (broken.name, broken.distribution, broken.version) == ("fragile", "gz-fragile", "0.3")
    assert type(broken.error) is error_type
    assert broken.reason == reason

    with pytest.raises(error_type) as info:
        genzoo.build("fragile")
    assert info.value is broken.error
    with pytest.raises(UnknownModelError,
                       match=r"no model named 'fragile-model'\..*Broken plugins: fragile \("):
        genzoo.build("fragile-model")


def test_plugin_whose_hook_raises_is_isolated(install_plugin) -> None:
    plugin = install_plugin("gz-explosive", "1.0", entry_point="explosive", body="""
        @genzoo.hookimpl
        def genzoo_register_models(register):
            register("half-registered", dict, summary="registered before the failure")
            raise ValueError("hook exploded")
    """)
    with pytest.warns(RuntimeWarning,
                      match=r"genzoo plugin 'explosive' from gz-explosive 1\.0 failed to load "
                            r"and is skipped: ValueError: hook exploded$"):
        assert genzoo.list_models() == BUILTIN  # the half-registered model is removed
    _assert_builtins_still_build()
    [broken] = genzoo.broken_plugins()
    assert broken.name == plugin.entry_point and broken.reason == "ValueError: hook exploded"
    assert genzoo.plugins.plugin_manager().get_plugin("explosive") is None
    with pytest.raises(ValueError, match="^hook exploded$"):
        genzoo.build("explosive")


def test_plugin_registering_a_non_callable_factory_is_broken(install_plugin) -> None:
    install_plugin("gz-badfactory", "1.0", entry_point="badfactory", body="""
        @genzoo.hookimpl
        def genzoo_register_models(register):
            register("bad-factory", 42)
    """)
    with pytest.warns(RuntimeWarning, match=r"plugin 'badfactory'.*PluginError: plugin "
                                            r"'badfactory' registered model 'bad-factory' with "
                                            r"factory 42; pass a callable"):
        assert genzoo.list_models() == BUILTIN
    assert [b.name for b in genzoo.broken_plugins()] == ["badfactory"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("""
            @genzoo.hookimpl
            def genzoo_register_model(register):
                register("never", dict)
            """, r"unknown hook 'genzoo_register_model' in plugin", id="misspelled-hook"),
        pytest.param("""
            @genzoo.hookimpl
            def genzoo_register_models(regster):
                regster("never", dict)
            """, r"Argument\(s\) \{'regster'\} are declared in the hookimpl but can not be "
                 r"found in the hookspec", id="misspelled-argument"),
    ],
)
def test_plugin_failing_hook_validation_is_broken(install_plugin, body: str, message: str) -> None:
    install_plugin("gz-typo", "0.1", entry_point="typo", body=body)
    with pytest.warns(RuntimeWarning, match=r"genzoo plugin 'typo' from gz-typo 0\.1 failed to "
                                            r"load and is skipped: PluginValidationError: (?s:.*)"
                                            + message):
        assert genzoo.list_models() == BUILTIN
    [broken] = genzoo.broken_plugins()
    assert broken.name == "typo"
    assert isinstance(broken.error, pluggy.PluginValidationError)
    assert broken.reason.startswith("PluginValidationError: ")
    pm = genzoo.plugins.plugin_manager()
    assert pm.get_plugin("typo") is None
    pm.check_pending()  # nothing of the rejected plugin is left behind
    _assert_builtins_still_build()


@pytest.mark.parametrize("api", [99, 0, "1"])
def test_plugin_for_another_plugin_api_is_broken(install_plugin, api: object) -> None:
    install_plugin("gz-future", "9.0", entry_point="future", models=("future-model",),
                   prelude=f"GENZOO_PLUGIN_API = {api!r}")
    with pytest.warns(RuntimeWarning,
                      match=rf"genzoo plugin 'future' from gz-future 9\.0 failed to load and is "
                            rf"skipped: PluginError: plugin 'future' targets genzoo plugin API "
                            rf"{api!r}, but this genzoo implements API 1"):
        assert genzoo.list_models() == BUILTIN
    [broken] = genzoo.broken_plugins()
    assert broken.name == "future" and isinstance(broken.error, PluginError)
    assert genzoo.plugins.plugin_manager().get_plugin("future") is None
    _assert_builtins_still_build()


def test_plugin_declaring_the_current_api_loads(install_plugin) -> None:
    install_plugin("gz-current", "1.0", models=("current-model",),
                   prelude=f"GENZOO_PLUGIN_API = {genzoo.plugins.PLUGIN_API_VERSION}")
    assert genzoo.list_models() == sorted(["current-model", *BUILTIN])
    assert genzoo.broken_plugins() == []


def test_same_model_from_two_distributions(install_plugin, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin("gz-twin-a", "1.0", entry_point="twina", models=("twin", "alpha"))
    install_plugin("gz-twin-b", "2.0", entry_point="twinb", models=("twin", "beta"))
    with pytest.warns(RuntimeWarning, match=r"^model 'twin' is registered by more than one "
                                         r"distribution: ") as record:
        names = genzoo.list_models()
    assert names == sorted(["alpha", "beta", "twin", *BUILTIN])
    [message] = [str(w.message) for w in record if "twin" in str(w.message)]
    assert "gz-twin-a 1.0 (plugin 'twina')" in message
    assert "gz-twin-b 2.0 (plugin 'twinb')" in message

    with pytest.raises(DuplicateModelError) as info:
        genzoo.build("twin")
    assert "gz-twin-a 1.0 (plugin 'twina')" in str(info.value)
    assert "gz-twin-b 2.0 (plugin 'twinb')" in str(info.value)
    assert "GENZOO_BLOCK_PLUGINS=" in str(info.value)
    assert {i.distribution for i in genzoo.model_infos("twin")} == {"gz-twin-a", "gz-twin-b"}
    assert genzoo.build("alpha").registry_name == "alpha"
    assert genzoo.build("beta").registry_name == "beta"
    _assert_builtins_still_build()
    assert genzoo.broken_plugins() == []

    monkeypatch.setenv("GENZOO_BLOCK_PLUGINS", "twinb")  # the fix the message suggests
    genzoo.reload_plugins()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert genzoo.list_models() == sorted(["alpha", "twin", *BUILTIN])
    [info_a] = genzoo.model_infos("twin")
    assert info_a.distribution == "gz-twin-a"
    assert genzoo.build("twin").registry_name == "twin"


def test_two_distributions_with_one_entry_point_name(install_plugin) -> None:
    install_plugin("gz-clash-a", "1.0", entry_point="clash", models=("clash-a",))
    install_plugin("gz-clash-b", "1.0", entry_point="clash", models=("clash-b",))
    with pytest.warns(RuntimeWarning, match=r"genzoo plugin 'clash' from gz-clash-[ab] 1\.0 failed "
                                            r"to load .*clashes with a plugin of the same name"):
        names = genzoo.list_models()
    [broken] = genzoo.broken_plugins()
    loaded = {"gz-clash-a": "clash-a", "gz-clash-b": "clash-b"}
    loser = broken.distribution
    winner = ({"gz-clash-a", "gz-clash-b"} - {loser}).pop()
    assert names == sorted([loaded[winner], *BUILTIN])
    assert genzoo.build(loaded[winner]).registry_name == loaded[winner]


# -- choosing plugins with environment variables ---------------------------------------------


def test_block_plugins(fresh_plugins: pytest.MonkeyPatch) -> None:
    fresh_plugins.setenv("GENZOO_BLOCK_PLUGINS", "vae")
    assert genzoo.list_models() == ["dcgan", "gan"]
    assert genzoo.plugins.plugin_manager().is_blocked("vae")
    assert genzoo.broken_plugins() == []
    with pytest.raises(UnknownModelError, match=r"no model named 'vae'\..*Available models: dcgan, gan\."):
        genzoo.build("vae")
    assert genzoo.build("gan", latent_dim=2).registry_name == "gan"


def test_block_several_plugins_with_spaces(fresh_plugins: pytest.MonkeyPatch) -> None:
    fresh_plugins.setenv("GENZOO_BLOCK_PLUGINS", " vae , gan ,")
    assert genzoo.list_models() == []
    with pytest.raises(UnknownModelError, match=r"none \(no model plugin is installed\)"):
        genzoo.build("gan")


def test_only_plugins(fresh_plugins: pytest.MonkeyPatch) -> None:
    fresh_plugins.setenv("GENZOO_PLUGINS", "gan")
    assert genzoo.list_models() == ["dcgan", "gan"]
    assert genzoo.plugins.plugin_manager().get_plugin("vae") is None
    with pytest.raises(UnknownModelError, match=r"no model named 'vae'"):
        genzoo.build("vae")


def test_only_and_block_together(fresh_plugins: pytest.MonkeyPatch) -> None:
    fresh_plugins.setenv("GENZOO_PLUGINS", "gan,vae")
    fresh_plugins.setenv("GENZOO_BLOCK_PLUGINS", "gan")
    assert genzoo.list_models() == ["conv-vae", "vae"]


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_selection_loads_everything(fresh_plugins: pytest.MonkeyPatch, value: str) -> None:
    fresh_plugins.setenv("GENZOO_PLUGINS", value)
    fresh_plugins.setenv("GENZOO_BLOCK_PLUGINS", value)
    assert genzoo.list_models() == BUILTIN


def test_selection_naming_nothing_loads_everything(fresh_plugins: pytest.MonkeyPatch) -> None:
    fresh_plugins.setenv("GENZOO_PLUGINS", ",")
    assert genzoo.list_models() == BUILTIN


def test_only_plugins_also_skips_third_party(install_plugin,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin("gz-extra", "1.0", entry_point="extra", models=("extra-model",))
    assert genzoo.list_models() == sorted(["extra-model", *BUILTIN])
    monkeypatch.setenv("GENZOO_PLUGINS", "extra,vae")
    genzoo.reload_plugins()
    assert genzoo.list_models() == ["conv-vae", "extra-model", "vae"]
    monkeypatch.setenv("GENZOO_PLUGINS", "gan")
    genzoo.reload_plugins()
    assert genzoo.list_models() == ["dcgan", "gan"]


def test_block_a_broken_plugin_silences_it(install_plugin, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin("gz-fragile", "0.3", entry_point="fragile", models=("fragile-model",),
                   prelude="raise ImportError('missing dependency')")
    monkeypatch.setenv("GENZOO_BLOCK_PLUGINS", "fragile")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert genzoo.list_models() == BUILTIN
    assert genzoo.broken_plugins() == []


# -- plugins registered at run time ------------------------------------------------------------


class NotebookPlugin:
    """A plugin defined in a notebook: a class holding a hook implementation."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self.built: list[dict] = []

    @genzoo.hookimpl
    def genzoo_register_models(self, register):
        for name in self.names:
            register(name, self.make, summary=f"{name} from a notebook\nmore")

    def make(self, **config):
        self.built.append(config)
        return NotebookModel(config)


class NotebookModel:
    def __init__(self, config: dict) -> None:
        self.config = config


def test_register_and_unregister_plugin_at_run_time() -> None:
    plugin = NotebookPlugin("nb-model")
    assert genzoo.register_plugin(plugin, name="notebook") == "notebook"
    assert genzoo.list_models() == sorted(["nb-model", *BUILTIN])
    [info] = genzoo.model_infos("nb-*")
    assert (info.plugin, info.distribution, info.version) == ("notebook", None, None)
    assert info.summary == "nb-model from a notebook"
    assert info.origin == "plugin 'notebook'"
    model = genzoo.build("nb-model", width=3)
    assert isinstance(model, NotebookModel) and model.config == {"width": 3}
    assert model.registry_name == "nb-model"
    assert plugin.built == [{"width": 3}]

    genzoo.unregister_plugin("notebook")
    assert genzoo.list_models() == BUILTIN
    assert genzoo.plugins.plugin_manager().get_plugin("notebook") is None
    with pytest.raises(UnknownModelError, match=r"no model named 'nb-model'"):
        genzoo.build("nb-model")


def test_register_plugin_default_name() -> None:
    plugin = NotebookPlugin("anon-model")
    name = genzoo.register_plugin(plugin)
    assert isinstance(name, str) and name
    assert genzoo.plugins.plugin_manager().get_plugin(name) is plugin
    assert genzoo.model_infos("anon-model")[0].plugin == name
    genzoo.unregister_plugin(name)
    assert "anon-model" not in genzoo.list_models()


def test_register_plugin_survives_no_reload_but_not_a_reload() -> None:
    genzoo.register_plugin(NotebookPlugin("transient"), name="transient")
    assert "transient" in genzoo.list_models()
    genzoo.reload_plugins()
    assert genzoo.list_models() == BUILTIN


def test_register_plugin_shadowing_a_builtin_is_a_conflict() -> None:
    genzoo.register_plugin(NotebookPlugin("vae"), name="shadow")
    with pytest.raises(DuplicateModelError,
                       match=r"genzoo \S+ \(plugin 'vae'\) and plugin 'shadow' \(plugin 'shadow'\)"):
        genzoo.build("vae")
    genzoo.unregister_plugin("shadow")
    assert type(genzoo.build("vae", hidden_dim=4, latent_dim=2)).__name__ == "VAE"


def test_register_plugin_with_a_typo_is_rejected_and_leaves_nothing() -> None:
    class Misspelled:
        @genzoo.hookimpl
        def genzoo_register_model(self, register):
            register("never", dict)

    class WrongArgument:
        @genzoo.hookimpl
        def genzoo_register_models(self, regster):
            regster("never", dict)

    with pytest.raises(PluginError, match=r"cannot register plugin 'typo': unknown hook "
                                          r"'genzoo_register_model'"):
        genzoo.register_plugin(Misspelled(), name="typo")
    with pytest.raises(PluginError, match=r"cannot register plugin 'typo': (?s:.*)\{'regster'\}"):
        genzoo.register_plugin(WrongArgument(), name="typo")
    pm = genzoo.plugins.plugin_manager()
    assert pm.get_plugin("typo") is None
    assert "never" not in genzoo.list_models()
    # the name is free again: a corrected plugin registers under it
    assert genzoo.register_plugin(NotebookPlugin("fixed"), name="typo") == "typo"
    assert "fixed" in genzoo.list_models()


def test_register_plugin_whose_hook_raises_leaves_nothing() -> None:
    class Exploding:
        @genzoo.hookimpl
        def genzoo_register_models(self, register):
            register("half", dict)
            raise RuntimeError("kaboom")

    with pytest.raises(PluginError, match=r"^plugin 'boom' failed to register its models: kaboom$") as info:
        genzoo.register_plugin(Exploding(), name="boom")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert genzoo.plugins.plugin_manager().get_plugin("boom") is None
    assert genzoo.list_models() == BUILTIN


def test_register_plugin_under_a_taken_name_is_rejected() -> None:
    with pytest.raises(PluginError, match=r"cannot register plugin 'vae'"):
        genzoo.register_plugin(NotebookPlugin("other"), name="vae")
    assert "other" not in genzoo.list_models()
    assert genzoo.plugins.plugin_manager().get_plugin("vae").__name__ == "genzoo_vae"


def test_factory_returning_none_is_a_plugin_error() -> None:
    class ReturnsNone:
        @genzoo.hookimpl
        def genzoo_register_models(self, register):
            register("nothing", lambda **config: None)

    genzoo.register_plugin(ReturnsNone(), name="returns-none")
    with pytest.raises(PluginError, match=r"the factory of model 'nothing' from plugin "
                                          r"'returns-none' returned None"):
        genzoo.build("nothing")


def test_frozen_model_object_is_still_returned() -> None:
    class Frozen:
        __slots__ = ()

    class FrozenPlugin:
        @genzoo.hookimpl
        def genzoo_register_models(self, register):
            register("frozen", Frozen)

    genzoo.register_plugin(FrozenPlugin(), name="frozen")
    assert type(genzoo.build("frozen")) is Frozen


# -- lazy factories ------------------------------------------------------------------------------


_LAZY_BODY = """
    @genzoo.hookimpl
    def genzoo_register_models(register):
        register("lazy", __name__ + ".heavy:TinyModel", summary="imported on build")
        register("lazy-missing", __name__ + ".missing:TinyModel", summary="nothing there")
        register("lazy-noattr", __name__ + ".heavy:NoSuchModel", summary="no such attribute")
"""


def test_lazy_factory_is_imported_only_on_build(install_plugin) -> None:
    plugin = install_plugin("gz-lazy", "1.0", entry_point="lazy", body=_LAZY_BODY,
                            extra_modules={"heavy": TINY_MODEL_SOURCE})
    heavy = plugin.module + ".heavy"
    assert genzoo.list_models("lazy*") == ["lazy", "lazy-missing", "lazy-noattr"]
    [info] = genzoo.model_infos("lazy")
    assert info.factory == heavy + ":TinyModel"
    assert plugin.module in sys.modules  # the plugin itself is loaded...
    assert heavy not in sys.modules  # ...but not the model code

    model = genzoo.build("lazy", latent_dim=2)
    assert heavy in sys.modules
    assert type(model).__module__ == heavy and type(model).__name__ == "TinyModel"
    assert model.registry_name == "lazy"


@pytest.mark.parametrize("name", ["lazy-missing", "lazy-noattr"])
def test_lazy_factory_that_cannot_be_imported_is_a_plugin_error(install_plugin, name: str) -> None:
    install_plugin("gz-lazy", "1.0", entry_point="lazy", body=_LAZY_BODY,
                   extra_modules={"heavy": TINY_MODEL_SOURCE})
    with pytest.raises(PluginError, match=rf"model '{name}'"):
        genzoo.build(name)
