"""A fresh environment holding torch, torchvision and what they need, and nothing else.

Installing torch takes minutes and gigabytes; the test environment already holds it. So a fresh
virtual environment gets the files of torch, torchvision and their requirements as hard links to
this environment's copies (a copy where the file system refuses links): seconds, not minutes,
and nothing of genzoo's own dependencies. pip then sees torch installed and resolves everything
else from the package index, as on a user's machine.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: What the fresh environment starts with: pip, torch and torchvision (and what they need).
BASE = ("pip", "torch", "torchvision")


def requirement_closure(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` and everything they require (with the extras each
    requirement names, as ``cuda-toolkit[cufile]``)."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [(name, "") for name in names]
    while todo:
        name, extra = todo.pop()
        name = canonicalize_name(name)
        if (name, extra) in done:
            continue
        done.add((name, extra))
        dist = seen.setdefault(name, importlib.metadata.distribution(name))
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo += [(requirement.name, e) for e in ("", *requirement.extras)]
    return list(seen.values())


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        if not os.path.samefile(source, target):
            raise
    except OSError:
        shutil.copy2(source, target)


def fresh_environment(folder: Path) -> Path:
    """A new virtual environment in ``folder`` holding :data:`BASE` alone (pip too is linked in
    from this environment: faster than ``ensurepip``, and the same pip).

    Returns:
        The environment's ``bin`` folder.
    """
    shutil.rmtree(folder, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, clear=True).create(folder)
    bin_dir = folder / "bin"
    target_site = Path(subprocess.run(
        [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, env=clean_env()).stdout.strip())
    our_site = Path(sysconfig.get_paths()["purelib"]).resolve()
    for dist in requirement_closure(BASE):
        for file in dist.files or []:
            source = Path(dist.locate_file(file)).resolve()
            try:
                relative = source.relative_to(our_site)
            except ValueError:
                continue  # console scripts and data outside site-packages: not needed here
            if source.is_file():
                _place(source, target_site / relative)
    return bin_dir


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would let the fresh one see the checkout or
    this environment (``PYTHONPATH``, ``VIRTUAL_ENV``) or choose plugins, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "GENZOO_PLUGINS",
                        "GENZOO_BLOCK_PLUGINS", "PYTHONSAFEPATH"}}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(sys.prefix))
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "OMP_NUM_THREADS": "1"})
    env.update(extra)
    return env
