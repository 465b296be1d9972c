"""The hooks a genzoo plugin may implement.

Mark implementations with :data:`genzoo.hookimpl`. Arguments are passed by name; an
implementation may accept any subset of a hook's arguments, but a name the hook does not have
(a typo) makes genzoo reject the plugin.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("genzoo")
hookimpl = pluggy.HookimplMarker("genzoo")


@hookspec
def genzoo_register_models(register):
    """Register models by calling ``register(name, factory, summary="...")`` once per model."""


@hookspec
def genzoo_register_pretrained(register):
    """Register shipped model folders by calling ``register(name, folder, summary="...")``."""


@hookspec
def genzoo_fit_start(model, run):
    """Called once when :meth:`~genzoo.GenerativeModel.fit` starts, after any resume."""


@hookspec
def genzoo_epoch_end(model, run, epoch, metrics):
    """Called after each epoch with that epoch's metrics (a dict of floats)."""


@hookspec
def genzoo_checkpoint_saved(model, run, path):
    """Called after the runner wrote a checkpoint to ``path``."""


@hookspec
def genzoo_fit_end(model, run):
    """Called once when fitting ends, normally or interrupted."""
