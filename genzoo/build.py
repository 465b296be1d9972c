"""Building models by name, and listing what can be built."""

from __future__ import annotations

from typing import Any

import torch

from .errors import ConfigError, PluginError
from .plugins import registry
from .registry import BrokenPlugin, ModelInfo

__all__ = ["build", "list_models", "model_infos", "broken_plugins", "registry_name_of"]


def build(name: str, *, seed: int | None = None, **config: Any) -> Any:
    """Build the model registered as ``name``, with config fields overridden by ``config``.

    Args:
        name: A registered model name; :func:`list_models` lists them.
        seed: Initialise the weights from this seed (torch's global random state is left as
            it was); otherwise from the global state.
        **config: Fields of the model's config to change from their defaults.

    Raises:
        UnknownModelError: no model has that name (the message lists them and the closest).
        ConfigError: a config key is unknown or a value has the wrong type.
        DuplicateModelError: two installed distributions register ``name``.
        PluginError: the plugin's factory cannot be imported or returns nothing.
    """
    info = registry().get(name)
    factory = info.load_factory()
    try:
        if seed is None:
            model = factory(**config)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = factory(**config)
    except ConfigError as err:
        raise ConfigError(f"cannot build {name!r}: {err}") from None
    if model is None:
        raise PluginError(f"the factory of model {name!r} from {info.origin} returned None")
    try:
        model.registry_name = name
    except AttributeError:  # a frozen third-party object: save/load then cannot name it
        pass
    return model


def list_models(pattern: str = "*") -> list[str]:
    """The names :func:`build` accepts, sorted, filtered by a shell-style ``pattern``."""
    return registry().names(pattern)


def model_infos(pattern: str = "*") -> list[ModelInfo]:
    """Each registered model with its plugin, distribution, version and summary."""
    return registry().infos(pattern)


def broken_plugins() -> list[BrokenPlugin]:
    """The plugins that failed to load, with the error each raised."""
    return list(registry().broken.values())


def registry_name_of(model: Any) -> str:
    """The name ``model`` was built under, looked up by its class if it was built directly."""
    name = getattr(model, "registry_name", "")
    if name:
        return name
    for info in registry().infos():
        if info.factory is type(model) or (
            isinstance(info.factory, str) and info.factory.endswith(":" + type(model).__qualname__)
            and info.factory.startswith(type(model).__module__ + ":")
        ):
            return info.name
    raise PluginError(
        f"cannot tell which registered model a {type(model).__name__} is; build it with "
        "genzoo.build(name) so that it can be saved and loaded"
    )

