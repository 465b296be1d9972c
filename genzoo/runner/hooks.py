"""The runner's hooks for one run: its own callbacks, then the installed plugins.

A run's callbacks are registered on a plugin manager of their own, made for that run, never on
the process-wide one: nothing of one ``fit`` reaches another, whether they run one after the
other or at once in threads, and a callback refused while registering leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

from .. import hookspecs
from ..errors import ConfigError
from ..plugins import plugin_manager

__all__ = ["RunHooks"]


class RunHooks:
    """Calls a runner hook on this run's callbacks, then on every installed plugin.

    Args:
        callbacks: Objects with :data:`genzoo.hookimpl` methods, for this run only.

    Raises:
        ConfigError: a callback implements a hook that does not exist or takes an argument
            the hook does not have (a typo).
    """

    def __init__(self, callbacks: Iterable[object]) -> None:
        self._plugins = plugin_manager().hook
        manager = pluggy.PluginManager("genzoo")
        manager.add_hookspecs(hookspecs)
        for callback in callbacks:
            try:
                manager.register(callback)
            except (pluggy.PluginValidationError, ValueError) as err:
                raise ConfigError(f"callback {callback!r} was refused: {err}") from None
            for hook in manager.get_hookcallers(callback) or []:
                if not hook.has_spec():
                    raise ConfigError(f"callback {callback!r} implements {hook.name}, which is not "
                                      "a genzoo hook; see genzoo.hookspecs for the hooks")
        self._callbacks = manager.hook

    def __call__(self, name: str, **kwargs: Any) -> None:
        """Call hook ``name`` with ``kwargs``: this run's callbacks first, then the plugins."""
        getattr(self._callbacks, name)(**kwargs)
        getattr(self._plugins, name)(**kwargs)
