"""Building models by name, listing them, and the Registry that backs both."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator

import pytest

import genzoo
from genzoo.errors import (
    ConfigError,
    DuplicateModelError,
    GenzooError,
    PluginError,
    UnknownModelError,
)
from genzoo.registry import BrokenPlugin, ModelInfo, Registry

#: Every model the genzoo distribution registers through its built-in plugins.
BUILTIN = ["conv-vae", "dcgan", "gan", "vae"]


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Discover the installed plugins afresh, with no GENZOO_* selection in force."""
    monkeypatch.delenv("GENZOO_PLUGINS", raising=False)
    monkeypatch.delenv("GENZOO_BLOCK_PLUGINS", raising=False)
    genzoo.reload_plugins()
    yield
    genzoo.reload_plugins()


# -- genzoo.build / list_models / model_infos -----------------------------------------------


def test_unknown_name_lists_available_and_closest() -> None:
    with pytest.raises(UnknownModelError,
                       match=r"^no model named 'vea'\. Did you mean 'vae'\? "
                             r"Available models: conv-vae, dcgan, gan, vae\.$"):
        genzoo.build("vea")


def test_unknown_name_without_close_match_has_no_hint() -> None:
    with pytest.raises(UnknownModelError, match=r"no model named 'diffusion'\. Available") as info:
        genzoo.build("diffusion")
    assert "Did you mean" not in str(info.value)


def test_unknown_model_error_is_a_lookup_error_with_an_unquoted_message() -> None:
    with pytest.raises(LookupError) as info:
        genzoo.build("gann")
    assert isinstance(info.value, GenzooError)
    assert str(info.value).startswith("no model named 'gann'. Did you mean 'gan'?")


def test_list_models_sorted() -> None:
    names = genzoo.list_models()
    assert names == sorted(names)
    assert names == BUILTIN


@pytest.mark.parametrize(("pattern", "expected"),
                         [("v*", ["vae"]), ("*a*", BUILTIN), ("?an", ["gan"]), ("*gan", ["dcgan", "gan"]),
                          ("x*", []), ("VAE", [])])
def test_list_models_fnmatch_filter(pattern: str, expected: list[str]) -> None:
    assert genzoo.list_models(pattern) == expected


def test_model_infos_of_builtins() -> None:
    infos = {info.name: info for info in genzoo.model_infos()}
    assert sorted(infos) == BUILTIN
    version = importlib.metadata.version("genzoo")
    for name in ("gan", "vae"):
        info = infos[name]
        assert isinstance(info, ModelInfo)
        assert info.plugin == name
        assert info.distribution == "genzoo"
        assert info.version == version
        assert info.summary and "\n" not in info.summary
        assert info.origin == f"genzoo {version}"
    assert "GAN" in infos["gan"].summary
    assert "VAE" in infos["vae"].summary
    assert [i.name for i in genzoo.model_infos("g*")] == ["gan"]


def test_build_builtins_by_name() -> None:
    vae = genzoo.build("vae")
    gan = genzoo.build("gan")
    assert isinstance(vae, genzoo.GenerativeModel) and type(vae).__name__ == "VAE"
    assert isinstance(gan, genzoo.GenerativeModel) and type(gan).__name__ == "GAN"
    assert vae.registry_name == "vae" and gan.registry_name == "gan"


def test_bad_config_key_names_key_valid_ones_and_closest() -> None:
    with pytest.raises(ConfigError,
                       match=r"^cannot build 'vae': model 'VAE' has no option 'latnet_dim'\. "
                             r"Did you mean 'latent_dim'\? "
                             r"Valid options: beta, hidden_dim, image_shape, latent_dim, likelihood, lr, num_classes, temperature$"):
        genzoo.build("vae", latnet_dim=3)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"latent_dim": "abc"}, r"option 'latent_dim' must be an integer, got 'abc'"),
        ({"latent_dim": True}, r"option 'latent_dim' must be an integer, got True"),
        ({"latent_dim": 2.5}, r"option 'latent_dim' must be an integer, got 2\.5"),
        ({"image_shape": (1, 28)}, r"option 'image_shape' must be a tuple "
                                   r"\(an integer, an integer, an integer\), got \(1, 28\)"),
        ({"beta": "high"}, r"option 'beta' must be a number, got 'high'"),
        ({"latent_dim": 0}, r"hidden_dim and latent_dim must be positive"),
        ({"beta": -1.0}, r"beta must not be negative"),
    ],
)
def test_ill_typed_or_invalid_value_is_a_config_error(overrides: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"^cannot build 'vae': .*" + expected):
        genzoo.build("vae", **overrides)


def test_gan_config_errors_too() -> None:
    with pytest.raises(ConfigError, match=r"cannot build 'gan': .*option 'loss' must be one of 'bce'"):
        genzoo.build("gan", loss="wgan")
    with pytest.raises(ConfigError, match=r"option 'batch_norm' must be true or false, got 1"):
        genzoo.build("gan", batch_norm=1)


def test_string_values_are_coerced_as_from_a_cli() -> None:
    vae = genzoo.build("vae", latent_dim="16", hidden_dim="32", beta="0.5", lr="1e-3",
                       image_shape="1,8,8")
    assert vae.config.latent_dim == 16 and type(vae.config.latent_dim) is int
    assert vae.config.hidden_dim == 32
    assert vae.config.beta == 0.5 and vae.config.lr == pytest.approx(1e-3)
    assert vae.config.image_shape == (1, 8, 8)
    assert vae.sample(2, seed=0).shape == (2, 1, 8, 8)

    gan = genzoo.build("gan", latent_dim="4", batch_norm="false", betas="0.5,0.9",
                       generator_widths="8,8", discriminator_widths="(8,)", image_shape="1x4x4")
    assert gan.config.batch_norm is False
    assert gan.config.betas == (0.5, 0.9)
    assert gan.config.generator_widths == (8, 8) and gan.config.discriminator_widths == (8,)
    assert gan.sample(3, seed=1).shape == (3, 1, 4, 4)


# -- Registry unit tests ------------------------------------------------------------------


def _info(name: str, dist: str | None = "dist-a", plugin: str = "pa", version: str = "1.0",
          factory: object = dict) -> ModelInfo:
    return ModelInfo(name=name, summary=f"{name} model", plugin=plugin, distribution=dist,
                     version=version if dist else None, factory=factory)  # type: ignore[arg-type]


def test_registry_add_and_get() -> None:
    reg = Registry()
    info = _info("m")
    reg.add(info)
    assert reg.get("m") is info
    assert "m" in reg and "other" not in reg
    assert list(reg) == ["m"] == reg.names()
    assert reg.infos() == [info]


def test_registry_same_registration_twice_is_a_no_op() -> None:
    reg = Registry()
    first = _info("m")
    reg.add(first)
    reg.add(_info("m"))  # the same distribution seen again (a reload, a duplicated path)
    assert reg.get("m") is first
    assert reg.conflicts() == {}
    assert len(reg.infos()) == 1


def test_registry_two_runtime_registrations_from_one_plugin_are_a_no_op() -> None:
    reg = Registry()
    reg.add(_info("m", dist=None, plugin="nb"))
    reg.add(_info("m", dist=None, plugin="nb"))
    assert reg.conflicts() == {}
    assert reg.get("m").plugin == "nb"


def test_registry_two_distributions_conflict() -> None:
    reg = Registry()
    reg.add(_info("m", dist="dist-a", plugin="pa", version="1.0"))
    reg.add(_info("m", dist="dist-b", plugin="pb", version="2.0"))
    reg.add(_info("other", dist="dist-b", plugin="pb", version="2.0"))
    assert "m" not in reg
    assert reg.names() == ["m", "other"]  # conflicts are still listed
    assert [i.distribution for i in reg.infos("m")] == ["dist-a", "dist-b"]
    assert set(reg.conflicts()) == {"m"}
    with pytest.raises(DuplicateModelError,
                       match=r"^model 'm' is registered by more than one distribution: "
                             r"dist-a 1\.0 \(plugin 'pa'\) and dist-b 2\.0 \(plugin 'pb'\)\. "
                             r"Uninstall one of them, or block one with GENZOO_BLOCK_PLUGINS=pb$"):
        reg.get("m")
    assert reg.get("other").distribution == "dist-b"


def test_registry_runtime_plugins_with_different_names_conflict() -> None:
    reg = Registry()
    reg.add(_info("m", dist=None, plugin="one"))
    reg.add(_info("m", dist=None, plugin="two"))
    with pytest.raises(DuplicateModelError, match=r"plugin 'one'.*plugin 'two'"):
        reg.get("m")


def test_registry_third_distribution_joins_the_conflict() -> None:
    reg = Registry()
    for dist in ("dist-a", "dist-b", "dist-c"):
        reg.add(_info("m", dist=dist, plugin=dist))
    with pytest.raises(DuplicateModelError,
                       match=r"dist-a 1\.0 .* and dist-b 1\.0 .* and dist-c 1\.0 .*"
                             r"GENZOO_BLOCK_PLUGINS=dist-b,dist-c$"):
        reg.get("m")


def test_registry_same_registration_twice_during_a_conflict_is_a_no_op() -> None:
    reg = Registry()
    reg.add(_info("m", dist="dist-a", plugin="pa"))
    reg.add(_info("m", dist="dist-b", plugin="pb"))
    reg.add(_info("m", dist="dist-a", plugin="pa"))
    assert [i.distribution for i in reg.conflicts()["m"]] == ["dist-a", "dist-b"]


def test_registry_remove_plugin() -> None:
    reg = Registry()
    reg.add(_info("m1", plugin="pa"))
    reg.add(_info("m2", plugin="pa"))
    reg.add(_info("keep", dist="dist-b", plugin="pb"))
    reg.remove_plugin("pa")
    assert reg.names() == ["keep"]
    with pytest.raises(UnknownModelError, match=r"no model named 'm1'.*Available models: keep\."):
        reg.get("m1")
    reg.remove_plugin("not-there")  # removing an unknown plugin is harmless
    assert reg.names() == ["keep"]


def test_registry_remove_plugin_resolves_a_conflict() -> None:
    reg = Registry()
    reg.add(_info("m", dist="dist-a", plugin="pa"))
    reg.add(_info("m", dist="dist-b", plugin="pb"))
    reg.remove_plugin("pb")
    assert reg.conflicts() == {}
    assert reg.get("m").distribution == "dist-a"
    assert "m" in reg


def test_registry_remove_plugin_of_three_keeps_the_other_two_in_conflict() -> None:
    reg = Registry()
    for dist in ("dist-a", "dist-b", "dist-c"):
        reg.add(_info("m", dist=dist, plugin=dist))
    reg.remove_plugin("dist-a")
    assert [i.distribution for i in reg.conflicts()["m"]] == ["dist-b", "dist-c"]
    with pytest.raises(DuplicateModelError, match=r"dist-b.*dist-c"):
        reg.get("m")


def test_registry_remove_plugin_forgets_it_as_broken() -> None:
    reg = Registry()
    reg.broken["bad"] = BrokenPlugin("bad", "dist-bad", "0.1", ImportError("no numpy"))
    reg.remove_plugin("bad")
    assert reg.broken == {}


def test_registry_broken_plugin_name_raises_its_error_and_shows_in_unknown() -> None:
    reg = Registry()
    reg.add(_info("fine"))
    error = ImportError("needs foo")
    broken = BrokenPlugin("bad", "dist-bad", "0.1", error)
    reg.broken["bad"] = broken
    assert broken.reason == "ImportError: needs foo"
    with pytest.raises(ImportError) as info:
        reg.get("bad")
    assert info.value is error
    with pytest.raises(UnknownModelError,
                       match=r"no model named 'nope'\. Available models: fine\. "
                             r"Broken plugins: bad \(ImportError: needs foo\)\.$"):
        reg.get("nope")


def test_registry_empty_unknown_message() -> None:
    with pytest.raises(UnknownModelError,
                       match=r"Available models: none \(no model plugin is installed\)\."):
        Registry().get("vae")


@pytest.mark.parametrize("name", ["", " m", "m ", None, 3])
def test_registry_rejects_invalid_names(name: object) -> None:
    with pytest.raises(PluginError, match=r"plugin 'pa' registered an invalid model name"):
        Registry().add(_info(name))  # type: ignore[arg-type]


def test_model_info_lazy_factory() -> None:
    info = _info("m", factory="collections:OrderedDict")
    import collections

    assert info.load_factory() is collections.OrderedDict
    nested = _info("m", factory="genzoo.registry:ModelInfo.load_factory")
    assert nested.load_factory() is ModelInfo.load_factory
    assert _info("m", factory=dict).load_factory() is dict


def test_model_info_lazy_factory_must_name_an_attribute() -> None:
    with pytest.raises(PluginError, match=r"model 'm' from dist-a 1\.0 has factory 'collections'; "
                                          r"a lazy factory must read 'package\.module:attribute'"):
        _info("m", factory="collections").load_factory()


def test_model_info_origin() -> None:
    assert _info("m", dist="dist-a", version="3.1").origin == "dist-a 3.1"
    assert _info("m", dist=None, plugin="nb").origin == "plugin 'nb'"
