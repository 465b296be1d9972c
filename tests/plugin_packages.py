"""Real, pip-installed genzoo plugin distributions for tests.

:func:`install_plugin` (a pytest fixture) writes a tiny plugin distribution -- a
``pyproject.toml`` declaring ``[project.entry-points.genzoo]`` and one package whose
``__init__`` implements ``genzoo_register_models`` with :data:`genzoo.hookimpl` -- installs it
for real with ``pip install --no-deps --no-build-isolation --no-index --target <site>`` (no
network: setuptools comes from the running environment), puts ``<site>`` first on ``sys.path``
and calls :func:`genzoo.reload_plugins`, so the next genzoo call discovers it through its
entry point like any installed package.

Installed folders are cached for the whole pytest session, keyed by the package's spec, so a
package used by several tests is built once. At the end of each test the fixture restores
``sys.path``, forgets the plugin modules it imported, and calls ``genzoo.reload_plugins()``
again, so the next test sees a clean registry.

Use it from a test module with::

    from tests.plugin_packages import install_plugin  # noqa: F401

    def test_something(install_plugin):
        plugin = install_plugin(dist="gz-acme", version="2.0", models=("acme",))
        assert "acme" in genzoo.list_models()
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import genzoo

__all__ = [
    "PluginSpec",
    "InstalledPlugin",
    "TINY_MODEL_SOURCE",
    "build_plugin",
    "install_plugin",
    "fresh_plugins",
]

#: A tiny :class:`genzoo.GenerativeModel` subclass, the model the generated plugins register.
TINY_MODEL_SOURCE = '''
import math
from dataclasses import dataclass

import torch

import genzoo


@dataclass(frozen=True)
class TinyConfig:
    image_shape: tuple[int, int, int] = (1, 2, 2)
    latent_dim: int = 3


class TinyModel(genzoo.GenerativeModel):
    """A one-layer generator, enough to be built and sampled."""

    Config = TinyConfig

    def __init__(self, config=None, /, **overrides):
        super().__init__(config, **overrides)
        self.linear = torch.nn.Linear(self.config.latent_dim, math.prod(self.config.image_shape))

    def sample_latent(self, n, *, generator=None):
        return torch.randn(n, self.config.latent_dim, generator=generator)

    def generate(self, z):
        return torch.sigmoid(self.linear(z)).view(-1, *self.image_shape)
'''

#: The default hook: registers every name in the module-level ``MODELS`` tuple as TinyModel.
_DEFAULT_HOOK = '''

@genzoo.hookimpl
def genzoo_register_models(register):
    for name in MODELS:
        register(name, TinyModel, summary=f"Tiny test model {name}.\\nSecond line.")
'''


@dataclass(frozen=True)
class PluginSpec:
    """Everything that defines one generated plugin distribution (hashable: the cache key).

    Attributes:
        dist: The distribution name (``[project] name``).
        version: The distribution version.
        entry_point: The entry-point name in the ``genzoo`` group (the plugin's name).
        module: The importable package the entry point refers to.
        models: Model names the default body registers (also available as ``MODELS``).
        body: The package's ``__init__`` source after the prelude; ``None``: the tiny model
            plus a hook registering every name in ``MODELS``.
        prelude: Source run at the top of ``__init__`` (after ``import genzoo`` and ``MODELS``),
            e.g. ``raise ImportError(...)`` or ``GENZOO_PLUGIN_API = 99``.
        extra_modules: ``(name, source)`` pairs written as submodules of the package.
    """

    dist: str
    version: str
    entry_point: str
    module: str
    models: tuple[str, ...]
    body: str | None = None
    prelude: str = ""
    extra_modules: tuple[tuple[str, str], ...] = ()

    def init_source(self) -> str:
        head = f'"""Generated genzoo test plugin {self.dist} {self.version}."""\n\nimport genzoo\n\n'
        head += f"MODELS = {self.models!r}\n"
        prelude = textwrap.dedent(self.prelude).strip()
        if prelude:
            head += "\n" + prelude + "\n"
        if self.body is None:
            body = TINY_MODEL_SOURCE + _DEFAULT_HOOK
        else:
            body = textwrap.dedent(self.body)
        return head + "\n" + body

    def pyproject(self) -> str:
        return textwrap.dedent(f'''\
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{self.dist}"
            version = "{self.version}"
            description = "A generated genzoo test plugin"
            requires-python = ">=3.10"

            [project.entry-points.genzoo]
            "{self.entry_point}" = "{self.module}"

            [tool.setuptools]
            packages = ["{self.module}"]
            ''')


@dataclass(frozen=True)
class InstalledPlugin:
    """A generated plugin, installed and on ``sys.path``."""

    spec: PluginSpec
    site: Path

    @property
    def dist(self) -> str:
        return self.spec.dist

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def entry_point(self) -> str:
        return self.spec.entry_point

    @property
    def module(self) -> str:
        return self.spec.module

    @property
    def models(self) -> tuple[str, ...]:
        return self.spec.models


def make_spec(
    dist: str = "genzoo-test-plugin",
    version: str = "1.0.0",
    *,
    entry_point: str | None = None,
    models: tuple[str, ...] | list[str] = ("tiny",),
    body: str | None = None,
    prelude: str = "",
    module: str | None = None,
    extra_modules: Mapping[str, str] | None = None,
) -> PluginSpec:
    """A :class:`PluginSpec` with defaults: the entry point and module named after ``dist``.

    The default module name carries a hash of the spec, so two different specs never share
    a module name (and so never a ``sys.modules`` entry).
    """
    extras = tuple(sorted((extra_modules or {}).items()))
    key = repr((dist, version, entry_point, tuple(models), body, prelude, extras))
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", dist).strip("_").lower() or "plugin"
    return PluginSpec(
        dist=dist,
        version=version,
        entry_point=entry_point or slug,
        module=module or f"gzt_{slug}_{digest}",
        models=tuple(models),
        body=body,
        prelude=prelude,
        extra_modules=extras,
    )


def pip_install_dir(source: Path, site: Path) -> Path:
    """Install the package at ``source`` into ``site`` with pip, offline; return ``site``."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
           "PIP_CONFIG_FILE": os.devnull}
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
               "--no-index", "--target", str(site), str(source.resolve())]
    done = subprocess.run(command, cwd=source.parent, env=env, capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install {source}:\n{done.stdout}\n{done.stderr}")
    return site


def build_plugin(spec: PluginSpec, root: Path) -> Path:
    """Write ``spec``'s sources under ``root/src`` and pip-install them into ``root/site``.

    Returns:
        The ``site`` folder to put on ``sys.path``.
    """
    src = root / "src"
    package = src / spec.module
    package.mkdir(parents=True)
    (src / "pyproject.toml").write_text(spec.pyproject())
    (package / "__init__.py").write_text(spec.init_source())
    for name, source in spec.extra_modules:
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    site = pip_install_dir(src, root / "site")
    if not list(site.glob("*.dist-info/entry_points.txt")):
        raise RuntimeError(f"pip installed {spec.dist} without its entry points into {site}")
    return site


_BUILDS = pytest.StashKey[dict[PluginSpec, Path]]()


def _cached_site(spec: PluginSpec, request: pytest.FixtureRequest,
                 factory: pytest.TempPathFactory) -> Path:
    builds = request.config.stash.setdefault(_BUILDS, {})
    site = builds.get(spec)
    if site is None:
        site = build_plugin(spec, factory.mktemp(f"plugin-{spec.module}", numbered=True))
        builds[spec] = site
    return site


def _forget_modules(sites: list[Path]) -> None:
    roots = [os.path.realpath(site) for site in sites]
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if path and any(os.path.realpath(path).startswith(root + os.sep) for root in roots):
            del sys.modules[name]


@pytest.fixture
def install_plugin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., InstalledPlugin]]:
    """Install generated plugin distributions for one test; see :func:`make_spec` for options.

    Call ``install_plugin(dist, version, entry_point=..., models=(...), body=..., prelude=...,
    module=..., extra_modules={...})`` once per plugin (several per test are fine); each call
    returns an :class:`InstalledPlugin` and leaves genzoo ready to rediscover plugins.

    Put other folders on ``sys.path`` with ``install_plugin.prepend_site(path)``, not with
    ``monkeypatch.syspath_prepend``: a ``monkeypatch`` set up before this fixture (any autouse
    fixture using it) would restore its own copy of ``sys.path`` after this fixture's teardown.
    """
    patch = pytest.MonkeyPatch()
    sites: list[Path] = []
    genzoo.reload_plugins()

    def prepend_site(site: Path) -> None:
        patch.syspath_prepend(str(site))
        sites.append(Path(site))
        genzoo.reload_plugins()

    def install(*args: object, **kwargs: object) -> InstalledPlugin:
        spec = make_spec(*args, **kwargs)  # type: ignore[arg-type]
        site = _cached_site(spec, request, tmp_path_factory)
        prepend_site(site)
        return InstalledPlugin(spec, site)

    #: ``install_plugin.prepend_site(path)``: also put a folder built by :func:`build_plugin`
    #: on ``sys.path`` (undone, with its modules forgotten, at the end of the test).
    install.prepend_site = prepend_site  # type: ignore[attr-defined]

    try:
        yield install
    finally:
        patch.undo()
        _forget_modules(sites)
        genzoo.reload_plugins()


@pytest.fixture
def fresh_plugins() -> Iterator[pytest.MonkeyPatch]:
    """Rediscover plugins before and after the test (for tests that set GENZOO_* variables).

    Yields a ``MonkeyPatch`` to set variables with; the next genzoo call discovers plugins under
    the new environment. At the end the patches are undone, then plugins are reloaded.
    """
    patch = pytest.MonkeyPatch()
    genzoo.reload_plugins()
    try:
        yield patch
    finally:
        patch.undo()
        genzoo.reload_plugins()
