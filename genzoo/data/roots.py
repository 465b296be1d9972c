"""Where genzoo keeps downloaded data sets."""

from __future__ import annotations

import os
from pathlib import Path

from genzoo.files import cache_folder

__all__ = ["DATA_ENV_VAR", "data_root"]

#: Environment variable that selects the data folder when no ``root`` is given.
DATA_ENV_VAR = "GENZOO_DATA"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the folder that holds data sets.

    The first of these that is set wins:

    1. the explicit ``root`` argument;
    2. the ``GENZOO_DATA`` environment variable;
    3. ``$XDG_CACHE_HOME/genzoo/data`` when ``XDG_CACHE_HOME`` is an absolute path;
    4. ``~/.cache/genzoo/data``.

    ``~`` is expanded. The folder is not created.

    Args:
        root: An explicit folder, or ``None`` to use the environment / default.

    Returns:
        The data folder as a :class:`pathlib.Path`.
    """
    if root is not None:
        return Path(os.fspath(root)).expanduser()
    env = os.environ.get(DATA_ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return cache_folder("data")
