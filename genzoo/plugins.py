"""Plugin discovery: pluggy over the ``genzoo`` entry-point group, loaded lazily and once.

Built-in models and third-party ones take the same path: a distribution declares
``[project.entry-points.genzoo] name = "module"`` and the module implements
:func:`~genzoo.hookspecs.genzoo_register_models`.

Two environment variables choose what loads (comma-separated entry-point names):

* ``GENZOO_PLUGINS``: load only these plugins.
* ``GENZOO_BLOCK_PLUGINS``: never load these plugins.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import BrokenPlugin, ModelInfo, PretrainedInfo, Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGIN_API_VERSION",
    "plugin_manager",
    "registry",
    "register_plugin",
    "unregister_plugin",
    "reload_plugins",
]

ENTRY_POINT_GROUP = "genzoo"
#: The plugin API this genzoo implements. A plugin module may set ``GENZOO_PLUGIN_API`` to the
#: version it targets; a different one is reported as broken instead of being loaded.
PLUGIN_API_VERSION = 1

_lock = threading.RLock()
_state: tuple[pluggy.PluginManager, Registry] | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, discovering installed plugins on first use."""
    return _loaded()[0]


def registry() -> Registry:
    """The process-wide model registry, discovering installed plugins on first use."""
    return _loaded()[1]


def reload_plugins() -> None:
    """Forget every plugin and discover them again on next use (after a ``pip install``)."""
    global _state
    with _lock:
        _state = None
        importlib.invalidate_caches()


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object (a module or any object with hook implementations) at run time.

    Useful for models defined in a notebook or a test; installed plugins need no call.

    Args:
        plugin: An object whose methods are marked with :data:`genzoo.hookimpl`.
        name: The plugin's name; defaults to pluggy's canonical name for the object.

    Returns:
        The name it was registered under.

    Raises:
        PluginError: the plugin is malformed (unknown hook, misspelled argument) or its
            registration hook raised.
    """
    pm, reg = _loaded()
    with _lock:
        try:
            registered = _register_checked(pm, plugin, name)
        except Exception as err:
            raise PluginError(f"cannot register plugin {name or plugin!r}: {err}") from err
        try:
            _collect_models(pm, reg, registered, dist=None)
        except Exception as err:
            pm.unregister(name=registered)
            reg.remove_plugin(registered)
            raise PluginError(f"plugin {registered!r} failed to register its models: {err}") from err
        _guard_runner_hooks(pm, registered, "")
        return registered


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin` and forget its models."""
    pm, reg = _loaded()
    with _lock:
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        reg.remove_plugin(name)


def _names_from_env(variable: str) -> set[str] | None:
    names = {part.strip() for part in os.environ.get(variable, "").split(",") if part.strip()}
    return names or None


def _loaded() -> tuple[pluggy.PluginManager, Registry]:
    global _state
    if _state is None:
        with _lock:
            if _state is None:
                _state = _discover()
    return _state


def _discover() -> tuple[pluggy.PluginManager, Registry]:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry()
    only = _names_from_env("GENZOO_PLUGINS")
    blocked = _names_from_env("GENZOO_BLOCK_PLUGINS") or set()
    seen: set[tuple[str, str]] = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else None
        version = dist.version if dist is not None else None
        if (ep.name, ep.value) in seen:  # the same distribution seen on two sys.path entries
            continue
        seen.add((ep.name, ep.value))
        if ep.name in blocked or (only is not None and ep.name not in only):
            pm.set_blocked(ep.name)
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            _mark_broken(reg, ep.name, dist_name, version, PluginError(
                f"entry point {ep.name!r} of {dist_name} clashes with a plugin of the same name "
                "already loaded; rename the entry point"
            ))
            continue
        try:
            plugin = ep.load()
            _check_api_version(plugin, ep.name)
            _register_checked(pm, plugin, ep.name)
            _collect_models(pm, reg, ep.name, dist)
            _guard_runner_hooks(pm, ep.name, f" from {dist_name} {version}" if dist_name else "")
        except BaseException as err:  # a broken plugin must not take genzoo down, even by
            if isinstance(err, KeyboardInterrupt):  # sys.exit() at import; Ctrl-C stops genzoo
                raise
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            reg.remove_plugin(ep.name)
            _mark_broken(reg, ep.name, dist_name, version, err)
    for name in reg.conflicts():
        warnings.warn(str(reg.duplicate_error(name)), RuntimeWarning, stacklevel=3)
    return pm, reg


def _mark_broken(reg: Registry, name: str, dist: str | None, version: str | None,
                 err: BaseException) -> None:
    reg.broken[name] = BrokenPlugin(name, dist, version, err)
    where = f" from {dist} {version}" if dist else ""
    warnings.warn(
        f"genzoo plugin {name!r}{where} failed to load and is skipped: "
        f"{type(err).__name__}: {err}",
        RuntimeWarning,
        stacklevel=4,
    )


def _check_api_version(plugin: object, name: str) -> None:
    wanted = getattr(plugin, "GENZOO_PLUGIN_API", PLUGIN_API_VERSION)
    if wanted != PLUGIN_API_VERSION:
        raise PluginError(
            f"plugin {name!r} targets genzoo plugin API {wanted!r}, but this genzoo implements "
            f"API {PLUGIN_API_VERSION}; install a version of the plugin made for this genzoo"
        )


def _register_checked(pm: pluggy.PluginManager, plugin: object, name: str | None) -> str:
    """Register ``plugin`` and reject hook implementations that match no hook (typos)."""
    registered = pm.register(plugin, name=name)
    if registered is None:
        raise PluginError(f"plugin {name!r} is blocked or already registered")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        pm.unregister(plugin)
        raise
    return registered


def _guard_runner_hooks(pm: pluggy.PluginManager, plugin_name: str, origin: str) -> None:
    """Make the plugin's runner hooks (every hook but the registration ones) report an
    error against the plugin, as a warning, instead of ending the run that called them.

    A hook that fails is skipped from then on (until :func:`reload_plugins`), so a broken
    plugin costs a training run one warning, not its epoch.
    """
    plugin = pm.get_plugin(plugin_name)
    for hook_name in dir(pm.hook):
        if not hook_name.startswith("genzoo_") or hook_name in _REGISTRATION_HOOKS:
            continue
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin and not impl.hookwrapper and not impl.wrapper:
                impl.function = _guarded(impl.function, plugin_name, origin, hook_name)


def _guarded(function: Callable[..., Any], plugin: str, origin: str,
             hook: str) -> Callable[..., Any]:
    failed = False

    @functools.wraps(function)
    def guarded(*args: Any) -> Any:
        nonlocal failed
        if failed:
            return None
        try:
            return function(*args)
        except Exception as err:
            failed = True
            warnings.warn(f"genzoo plugin {plugin!r}{origin} failed in {hook} and is skipped "
                          f"from now on; the run goes on: {type(err).__name__}: {err}",
                          RuntimeWarning, stacklevel=2)
            return None

    return guarded


#: The hooks through which a plugin registers what it provides, called once when it loads.
_REGISTRATION_HOOKS = ("genzoo_register_models", "genzoo_register_pretrained")


def _collect_models(pm: pluggy.PluginManager, reg: Registry, plugin_name: str,
                    dist: importlib.metadata.Distribution | None) -> None:
    """Call one plugin's ``genzoo_register_models`` and ``genzoo_register_pretrained`` with a
    ``register`` bound to it."""
    plugin = pm.get_plugin(plugin_name)
    dist_name = dist.metadata["Name"] if dist is not None else None
    version = dist.version if dist is not None else None
    for hook, register in ((pm.hook.genzoo_register_models, _register_model),
                           (pm.hook.genzoo_register_pretrained, _register_pretrained)):
        for impl in [i for i in hook.get_hookimpls() if i.plugin is plugin]:
            impl.function(register=functools.partial(register, reg, plugin_name, dist_name,
                                                     version))


def _register_model(reg: Registry, plugin: str, dist: str | None, version: str | None,
                    name: str, factory: Callable[..., Any] | str, summary: str = "") -> None:
    if not (callable(factory) or isinstance(factory, str)):
        raise PluginError(
            f"plugin {plugin!r} registered model {name!r} with factory {factory!r}; "
            "pass a callable or a 'module:attribute' string"
        )
    reg.add(ModelInfo(name=name, summary=summary.strip().splitlines()[0] if summary else "",
                      plugin=plugin, distribution=dist, version=version, factory=factory))


def _register_pretrained(reg: Registry, plugin: str, dist: str | None, version: str | None,
                         name: str, folder: str | os.PathLike[str], summary: str = "") -> None:
    if not isinstance(folder, (str, os.PathLike)):
        raise PluginError(f"plugin {plugin!r} registered pretrained {name!r} with folder "
                          f"{folder!r}; pass the model folder's path")
    reg.add_pretrained(PretrainedInfo(
        name=name, folder=Path(folder), summary=summary.strip().splitlines()[0] if summary else "",
        plugin=plugin, distribution=dist, version=version))
