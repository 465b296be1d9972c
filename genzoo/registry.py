"""The model registry: a mapping from model name to the factory that builds it.

Plugins fill it through the :func:`~genzoo.hookspecs.genzoo_register_models` hook; users read it
through :func:`genzoo.build`, :func:`genzoo.list_models` and :func:`genzoo.model_infos`.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DuplicateModelError, PluginError, UnknownModelError

__all__ = ["ModelInfo", "PretrainedInfo", "BrokenPlugin", "Registry"]

Factory = Callable[..., Any]


def _origin(distribution: str | None, version: str | None, plugin: str) -> str:
    if distribution:
        return f"{distribution} {version or ''}".strip()
    return f"plugin {plugin!r}"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model.

    Attributes:
        name: The name :func:`genzoo.build` takes.
        summary: One line saying what the model is.
        plugin: The plugin (entry-point name) that registered it.
        distribution: The installed distribution the plugin came from (``None`` for a plugin
            registered at run time).
        version: That distribution's version.
        factory: A callable returning the model, or a lazy ``"module:attribute"`` reference.
    """

    name: str
    summary: str
    plugin: str
    distribution: str | None = None
    version: str | None = None
    factory: Factory | str = field(default="", repr=False, compare=False)

    @property
    def origin(self) -> str:
        """``"distribution version"`` where known, else the plugin name."""
        return _origin(self.distribution, self.version, self.plugin)

    def load_factory(self) -> Factory:
        """Return the factory, importing it first if it was registered as ``"module:attr"``."""
        if callable(self.factory):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        if not attr:
            raise PluginError(
                f"model {self.name!r} from {self.origin} has factory {self.factory!r}; "
                "a lazy factory must read 'package.module:attribute'"
            )
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as err:
            raise PluginError(
                f"model {self.name!r} from {self.origin}: cannot import its factory "
                f"{self.factory!r}: {err}"
            ) from err
        return obj


@dataclass(frozen=True)
class PretrainedInfo:
    """A model folder a plugin ships, loadable as ``"pretrained:NAME"``.

    Attributes:
        name: The name after ``pretrained:``.
        folder: The model folder (``config.json``, ``model.safetensors``, ``README.md``...).
        summary: One line saying what it is.
        plugin: The plugin (entry-point name) that registered it.
        distribution: The installed distribution that ships it (``None`` for a plugin
            registered at run time).
        version: That distribution's version.
    """

    name: str
    folder: Path
    summary: str
    plugin: str
    distribution: str | None = None
    version: str | None = None

    @property
    def origin(self) -> str:
        """``"distribution version"`` where known, else the plugin name."""
        return _origin(self.distribution, self.version, self.plugin)


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to load or to register its models.

    Attributes:
        name: The plugin's entry-point name.
        distribution: The distribution that ships it, where known.
        version: That distribution's version.
        error: The exception it raised; building one of its models raises it again.
    """

    name: str
    distribution: str | None
    version: str | None
    error: BaseException

    @property
    def reason(self) -> str:
        """The error as one line: ``"ExceptionType: message"``."""
        return f"{type(self.error).__name__}: {self.error}"


class Registry:
    """Model names mapped to :class:`ModelInfo`, with conflicts and broken plugins kept aside.

    A name registered by two different distributions is held as a conflict: neither silently
    wins, and :meth:`get` raises :class:`~genzoo.errors.DuplicateModelError` naming both.
    """

    def __init__(self) -> None:
        self._models: dict[str, ModelInfo] = {}
        self._conflicts: dict[str, list[ModelInfo]] = {}
        self._pretrained: dict[str, list[PretrainedInfo]] = {}
        self.broken: dict[str, BrokenPlugin] = {}

    def add(self, info: ModelInfo) -> None:
        """Register ``info``; the same registration seen twice is a no-op."""
        if not isinstance(info.name, str) or not info.name or info.name != info.name.strip():
            raise PluginError(
                f"plugin {info.plugin!r} registered an invalid model name {info.name!r}: "
                "use a non-empty string without surrounding spaces"
            )
        if info.name in self._conflicts:
            if any(_same_source(info, seen) for seen in self._conflicts[info.name]):
                return
            self._conflicts[info.name].append(info)
            return
        seen = self._models.get(info.name)
        if seen is None:
            self._models[info.name] = info
        elif not _same_source(seen, info):
            del self._models[info.name]
            self._conflicts[info.name] = [seen, info]

    def remove_plugin(self, plugin: str) -> None:
        """Forget every model that ``plugin`` registered."""
        self._models = {k: v for k, v in self._models.items() if v.plugin != plugin}
        for name, infos in list(self._conflicts.items()):
            kept = [i for i in infos if i.plugin != plugin]
            del self._conflicts[name]
            for info in kept:
                self.add(info)
        self._pretrained = {name: kept for name, infos in self._pretrained.items()
                            if (kept := [i for i in infos if i.plugin != plugin])}
        self.broken.pop(plugin, None)

    def add_pretrained(self, info: PretrainedInfo) -> None:
        """Register a shipped model folder; the same registration seen twice is a no-op."""
        if not isinstance(info.name, str) or not info.name or info.name != info.name.strip() \
                or ":" in info.name or "/" in info.name:
            raise PluginError(
                f"plugin {info.plugin!r} registered an invalid pretrained name {info.name!r}: "
                "use a non-empty string without spaces around it, ':' or '/'"
            )
        known = self._pretrained.setdefault(info.name, [])
        if not any(i.folder == info.folder and i.distribution == info.distribution for i in known):
            known.append(info)

    def get_pretrained(self, name: str) -> PretrainedInfo:
        """The shipped model folder called ``name``.

        Raises:
            DuplicateModelError: two distributions ship a folder of that name.
            UnknownModelError: none does; the message lists the names there are and the
                closest match.
        """
        infos = self._pretrained.get(name, [])
        if len(infos) == 1:
            return infos[0]
        if infos:
            sources = " and ".join(f"{i.origin} (plugin {i.plugin!r})" for i in infos)
            raise DuplicateModelError(
                f"pretrained:{name} is shipped by more than one distribution: {sources}; "
                "uninstall one of them, or block one with GENZOO_BLOCK_PLUGINS")
        names = sorted(self._pretrained)
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f" Did you mean 'pretrained:{close[0]}'?" if close else ""
        available = ", ".join(names) if names else "none (no installed plugin ships one)"
        raise UnknownModelError(f"no pretrained model named {name!r}.{hint} Shipped: {available} "
                                "(genzoo list --pretrained shows them)")

    def pretrained_infos(self, pattern: str = "*") -> list[PretrainedInfo]:
        """Every shipped model folder whose name matches ``pattern``, sorted by name."""
        return sorted((i for infos in self._pretrained.values() for i in infos
                       if fnmatch.fnmatchcase(i.name, pattern)), key=lambda i: (i.name, i.origin))

    def get(self, name: str) -> ModelInfo:
        """Return the model called ``name``.

        Raises:
            DuplicateModelError: two distributions register ``name``.
            UnknownModelError: no model has that name; the message lists the names there are
                and the closest match.
        """
        if name in self._models:
            return self._models[name]
        if name in self._conflicts:
            raise self.duplicate_error(name)
        broken = self.broken.get(name)
        if broken is not None:
            if isinstance(broken.error, Exception):
                raise broken.error
            raise PluginError(f"plugin {broken.name!r} failed to load, so its models cannot be "
                              f"used: {broken.reason}") from broken.error  # not SystemExit & co
        raise self.unknown_error(name)

    def duplicate_error(self, name: str) -> DuplicateModelError:
        """The error for a name that several distributions register."""
        infos = self._conflicts[name]
        sources = " and ".join(f"{i.origin} (plugin {i.plugin!r})" for i in infos)
        blockers = ",".join(sorted({i.plugin for i in infos[1:]}))
        return DuplicateModelError(
            f"model {name!r} is registered by more than one distribution: {sources}. "
            f"Uninstall one of them, or block one with GENZOO_BLOCK_PLUGINS={blockers}"
        )

    def unknown_error(self, name: str) -> UnknownModelError:
        """The error for a name nobody registered, with the closest match."""
        names = self.names()
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        available = ", ".join(names) if names else "none (no model plugin is installed)"
        broken = ""
        if self.broken:
            broken = " Broken plugins: " + "; ".join(
                f"{b.name} ({b.reason})" for b in self.broken.values()
            ) + "."
        return UnknownModelError(
            f"no model named {name!r}.{hint} Available models: {available}.{broken}"
        )

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted model names matching the shell-style ``pattern`` (conflicts included)."""
        every = set(self._models) | set(self._conflicts)
        return sorted(n for n in every if fnmatch.fnmatchcase(n, pattern))

    def infos(self, pattern: str = "*") -> list[ModelInfo]:
        """Every registration whose name matches ``pattern``, sorted by name then origin."""
        out = [i for i in self._models.values()]
        out += [i for infos in self._conflicts.values() for i in infos]
        return sorted(
            (i for i in out if fnmatch.fnmatchcase(i.name, pattern)),
            key=lambda i: (i.name, i.origin),
        )

    def conflicts(self) -> dict[str, list[ModelInfo]]:
        """Names registered by more than one distribution, with every registration."""
        return {k: list(v) for k, v in self._conflicts.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _same_source(a: ModelInfo, b: ModelInfo) -> bool:
    """Whether two registrations come from one place (a duplicated path, a reload)."""
    if a.distribution or b.distribution:
        return a.distribution == b.distribution
    return a.plugin == b.plugin
