"""Write a new, working genzoo model plugin package: what ``genzoo new-plugin`` runs.

The package is flat (no ``src/``) and complete: a ``pyproject.toml`` declaring the ``genzoo``
entry point, a README, the plugin module with its registration hook, a tiny model (a small MLP
VAE) with its losses in their own module, and a test that builds, fits, samples, saves and
loads it through genzoo. ``pip install -e DIR`` then ``pytest DIR/tests`` pass as written; the
model is the part to replace.

Example:
    >>> from pathlib import Path
    >>> from genzoo.scaffold import write_plugin
    >>> write_plugin("my-model", Path("genzoo-my-model"))  # doctest: +SKIP
    PosixPath('genzoo-my-model')
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import GenzooError
from .plugins import ENTRY_POINT_GROUP, PLUGIN_API_VERSION

__all__ = ["ScaffoldError", "PluginNames", "plugin_names", "name_clashes", "write_plugin"]

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_MAX_NAME = 40


class ScaffoldError(GenzooError, ValueError):
    """The plugin name is not usable or already taken, or the target folder is in the way."""


@dataclass(frozen=True)
class PluginNames:
    """The names one plugin package uses, derived from the name given to ``new-plugin``.

    Attributes:
        model: The registered model name and entry-point name (``my-model``).
        distribution: The distribution (``pip``) name (``genzoo-my-model``).
        package: The importable package (``genzoo_my_model``).
        class_name: The model class (``MyModel``).
        test_file: The generated test module's file name (``test_my_model.py``).
    """

    model: str
    distribution: str
    package: str
    class_name: str
    test_file: str


def plugin_names(name: str) -> PluginNames:
    """Check ``name`` and derive the package's names from it.

    ``my-model`` and ``my_model`` both give model ``my-model``, distribution
    ``genzoo-my-model`` and package ``genzoo_my_model``.

    Raises:
        ScaffoldError: the name is empty, too long, or not lowercase letters and digits in
            words joined by single ``-`` or ``_``, starting with a letter.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > _MAX_NAME:
        raise ScaffoldError(
            f"{name!r} is not a usable plugin name: use lowercase letters and digits, in words "
            f"joined by single '-' or '_', starting with a letter, at most {_MAX_NAME} "
            "characters (e.g. my-model or my_model)"
        )
    words = re.split(r"[-_]", name)
    if words[0] == "genzoo" and len(words) > 1:  # "genzoo-foo" means the plugin "foo"
        words = words[1:]
    model = "-".join(words)
    snake = "_".join(words)
    return PluginNames(
        model=model,
        distribution=f"genzoo-{model}",
        package=f"genzoo_{snake}",
        class_name="".join(w.capitalize() for w in words),
        test_file=f"test_{snake}.py",
    )


def name_clashes(names: PluginNames) -> list[str]:
    """What is already installed under one of the names a new plugin would take.

    A new package must not shadow an installed one: a second ``genzoo_NAME`` package would
    replace the installed plugin's package of that name (the built-in VAE's, for ``vae``), and
    a second model or plugin named ``NAME`` would make genzoo refuse both
    (:class:`genzoo.DuplicateModelError`).

    Args:
        names: The names of the plugin to be written (from :func:`plugin_names`).

    Returns:
        One phrase per clash (``"the package genzoo_NAME is already importable (from ...)"``),
        checking the import package, the distribution, the registered models and the plugins'
        entry-point names; empty when every name is free.
    """
    clashes = []
    origin = _importable(names.package)
    if origin is not None:
        clashes.append(f"the package {names.package} is already importable{origin}")
    try:
        installed = importlib.metadata.distribution(names.distribution)
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        clashes.append(f"the distribution {names.distribution} {installed.version} is installed")
    from .build import model_infos

    with warnings.catch_warnings():  # a broken plugin is `genzoo list`'s business, not ours
        warnings.simplefilter("ignore")
        infos = {info.name: info for info in model_infos()}
    if names.model in infos:
        clashes.append(f"the model {names.model!r} is registered (from {infos[names.model].origin})")
    else:
        for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if point.name == names.model:
                where = f" (from {point.dist.name})" if point.dist is not None else ""
                clashes.append(f"a plugin named {names.model!r} is installed{where}")
                break
    return clashes


def _importable(package: str) -> str | None:
    """``" (from FOLDER)"`` when ``package`` can be imported (``""`` if from nowhere known),
    ``None`` when it cannot."""
    if package in sys.modules:
        spec = getattr(sys.modules[package], "__spec__", None)
    else:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    where = locations[0] if locations else getattr(spec, "origin", None)
    return f" (from {where})" if where else ""


def _free_name(names: PluginNames) -> str | None:
    """A name like ``names.model`` that clashes with nothing installed, to suggest."""
    model = names.model
    candidates = [] if model.startswith("my-") else [f"my-{model}"]
    candidates += [f"{model}-{i}" for i in range(2, 10)]
    for candidate in candidates:
        if _NAME.fullmatch(candidate) and len(candidate) <= _MAX_NAME \
                and not name_clashes(plugin_names(candidate)):
            return candidate
    return None


def write_plugin(name: str, directory: Path, *, force: bool = False) -> Path:
    """Write a new plugin package for a model called ``name`` into ``directory``.

    Args:
        name: The model's name, e.g. ``my-model`` (see :func:`plugin_names`).
        directory: The package's root folder; created if missing.
        force: Write even if the name's package, distribution, model or plugin name is already
            installed (see :func:`name_clashes`), and into a folder that already has files
            (overwriting those of the same names, leaving the others).

    Returns:
        ``directory``.

    Raises:
        ScaffoldError: the name is not usable, or (without ``force``) already taken by an
            installed package, distribution, model or plugin; ``directory`` is a file, or it
            is a folder with files in it and ``force`` is false.
    """
    names = plugin_names(name)
    directory = Path(directory)
    if not force:
        clashes = name_clashes(names)
        if clashes:
            free = _free_name(names)
            instead = f"choose another name (e.g. {free})" if free else "choose another name"
            raise ScaffoldError(
                f"{name!r} would shadow what is installed: {'; '.join(clashes)}; {instead}, "
                "or pass --force (force=True from Python) to write it anyway"
            )
    if directory.exists() and not directory.is_dir():
        raise ScaffoldError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise ScaffoldError(
            f"{directory} already exists and is not empty; choose another folder, or pass "
            "--force (force=True from Python) to write into it, overwriting files of the same names"
        )
    for relative, template in _files(names).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(template, names), encoding="utf-8")
    return directory


def _genzoo_requirement() -> str:
    """This genzoo's release series: ``genzoo>=0.1,<0.2`` (before 1.0, a minor release may
    change the plugin API), ``genzoo>=1.2,<2`` from 1.0 on; plain ``genzoo`` from a source tree."""
    from . import __version__

    match = re.match(r"(\d+)\.(\d+)", __version__)
    if match is None or __version__.startswith("0.0.0"):
        return "genzoo"
    major, minor = int(match.group(1)), int(match.group(2))
    below = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"genzoo>={major}.{minor},<{below}"


def _render(template: str, names: PluginNames) -> str:
    values = {
        "model": names.model,
        "distribution": names.distribution,
        "package": names.package,
        "class_name": names.class_name,
        "test_file": names.test_file,
        "genzoo_requirement": _genzoo_requirement(),
        "plugin_api": str(PLUGIN_API_VERSION),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], template)


def _files(names: PluginNames) -> dict[str, str]:
    return {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        ".gitignore": _GITIGNORE,
        f"{names.package}/__init__.py": _INIT,
        f"{names.package}/model.py": _MODEL,
        f"{names.package}/losses.py": _LOSSES,
        f"tests/{names.test_file}": _TEST,
    }


# -- templates: {{name}} placeholders, filled by _render ------------------------------------

_PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{{distribution}}"
version = "0.1.0"
description = "The {{model}} generative model, as a genzoo plugin."
readme = "README.md"
requires-python = ">=3.11"
dependencies = [
    "{{genzoo_requirement}}",
    "torch>=2.4",
    "einops>=0.8",
]

[project.optional-dependencies]
test = ["pytest>=8"]

# This table makes the package a genzoo plugin: genzoo imports every module named in the
# "genzoo" entry-point group and calls its genzoo_register_models hook.
[project.entry-points.genzoo]
{{model}} = "{{package}}"

[tool.setuptools]
packages = ["{{package}}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

_README = '''\
# {{distribution}}

The `{{model}}` generative model as a [genzoo](https://pypi.org/project/genzoo/) plugin.

## Install and use

```console
$ pip install -e .            # or: pip install {{distribution}}
$ genzoo list                 # shows {{model}} from {{distribution}} 0.1.0
$ genzoo train {{model}} --data mnist --epochs 5 --out runs/{{model}}
$ genzoo sample runs/{{model}}/checkpoints/last.pt -n 64 -o samples.png
```

From Python:

```python
import genzoo

model = genzoo.build("{{model}}", latent_dim=16)
model.fit(loader, epochs=5, out="runs/{{model}}")
images = model.sample(64, seed=0)
```

## Layout

* `pyproject.toml`: the `[project.entry-points.genzoo]` table registers the plugin.
* `{{package}}/__init__.py`: the `genzoo_register_models` hook and `GENZOO_PLUGIN_API`.
* `{{package}}/model.py`: the model, a `genzoo.GenerativeModel` with a typed config
  (a small MLP VAE to start from: replace it with yours).
* `{{package}}/losses.py`: its losses.
* `tests/{{test_file}}`: builds, fits, samples, saves and loads the model.

## Test

```console
$ pip install -e ".[test]"
$ pytest
```

## Publish

```console
$ python -m pip wheel --no-deps -w dist .   # or: python -m build
$ python -m twine upload dist/*
```

Anyone who then runs `pip install {{distribution}}` gets the model in `genzoo list`.
'''

_GITIGNORE = '''\
__pycache__/
*.egg-info/
build/
dist/
runs/
'''

_INIT = '''\
"""{{distribution}}: the {{model}} model, registered with genzoo.

genzoo finds this module through the ``genzoo`` entry point in ``pyproject.toml`` and calls
:func:`genzoo_register_models`. The factory is a ``"module:attribute"`` string, so the model
code is imported only when someone builds the model, not when genzoo lists models.
"""

from __future__ import annotations

from typing import Any

from genzoo.plugin import hookimpl

__all__ = ["GENZOO_PLUGIN_API", "genzoo_register_models"]

#: The genzoo plugin API this package is written for (that of genzoo.plugin, the one genzoo
#: module a plugin imports); a genzoo implementing another version reports the plugin as
#: broken instead of loading it.
GENZOO_PLUGIN_API = {{plugin_api}}


@hookimpl
def genzoo_register_models(register: Any) -> None:
    register("{{model}}", "{{package}}.model:{{class_name}}",
             summary="Small MLP VAE (scaffolded by genzoo new-plugin)")
'''

_LOSSES = '''\
"""The {{model}} model's losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["reconstruction_loss", "kl_divergence"]


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy from logits, summed over pixels, averaged over the batch."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="sum")
    return bce / target.shape[0]


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, exp(logvar)) || N(0, I))`` summed over latents, averaged over the batch."""
    mean, logvar = mean.float(), logvar.float()
    return -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / mean.shape[0]
'''

_MODEL = '''\
"""The {{model}} model: a small MLP VAE to start from.

A genzoo model is a :class:`genzoo.GenerativeModel` (a ``torch.nn.Module`` with a typed config)
that implements four methods: ``sample_latent`` and ``generate`` (for sampling), and
``configure_optimizers`` and ``training_step`` (for the shared training loop).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

# Everything a plugin takes from genzoo comes from genzoo.plugin, the API that
# GENZOO_PLUGIN_API names; genzoo's other modules may change in any release.
from genzoo.plugin import Batch, GenerativeModel, StepContext, adam

from .losses import kl_divergence, reconstruction_loss

__all__ = ["{{class_name}}Config", "{{class_name}}"]


@dataclass(frozen=True)
class {{class_name}}Config:
    """The model's options. Each field can be set with ``genzoo.build("{{model}}", field=...)``
    or ``genzoo train {{model}} --set field=value``; values are checked against these types.

    Attributes:
        image_shape: ``(channels, height, width)`` of the images (the trainer sets it from
            the data).
        hidden_dim: Width of the hidden layers.
        latent_dim: Size of the latent code.
        lr: Adam's learning rate.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden_dim: int = 256
    latent_dim: int = 16
    lr: float = 1e-3

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (channels, height, width), got {self.image_shape}")
        if self.hidden_dim < 1 or self.latent_dim < 1:
            raise ValueError("hidden_dim and latent_dim must be positive")


class {{class_name}}(GenerativeModel):
    """A small MLP VAE: a :class:`genzoo.Generator` and a :class:`genzoo.Trainer`."""

    Config = {{class_name}}Config
    config: {{class_name}}Config

    def __init__(self, config: {{class_name}}Config | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        pixels = math.prod(cfg.image_shape)
        self.encoder = nn.Sequential(nn.Linear(pixels, cfg.hidden_dim), nn.ReLU(),
                                     nn.Linear(cfg.hidden_dim, 2 * cfg.latent_dim))
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden_dim), nn.ReLU(),
                                     nn.Linear(cfg.hidden_dim, pixels))

    # -- sampling: genzoo's sample(n, seed=...) calls these --------------------------------
    # (a keyword argument added to generate, say temperature=None, becomes an option of sample)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent codes, drawn on the CPU from ``generator`` (so seeds repeat anywhere)."""
        return torch.randn(n, self.config.latent_dim, generator=generator)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images in ``[0, 1]`` for latent codes ``z`` (already on the model's device)."""
        c, h, w = self.image_shape
        probs = torch.sigmoid(self.decoder(z).float())
        return rearrange(probs, "n (c h w) -> n c h w", c=c, h=h, w=w)

    # -- training: the runner calls these ---------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name; called after the model is on its training device."""
        return {"{{model}}": adam(self.parameters(), self.config.lr)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        """One step on ``batch.images`` (``N×C×H×W`` in ``[0, 1]``, on the device)."""
        x = rearrange(batch.images, "n c h w -> n (c h w)")
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        reconstruction = reconstruction_loss(self.decoder(z), x)
        kl = kl_divergence(mean, logvar)
        loss = reconstruction + kl
        step.optimize(loss, "{{model}}")  # the runner does backward and the optimizer step
        # Return tensors, not floats: the runner reads them back once per logging interval.
        return {"loss": loss.detach(), "reconstruction": reconstruction.detach(), "kl": kl.detach()}
'''

_TEST = '''\
"""Tests of the {{model}} plugin. Run with ``pytest`` after ``pip install -e .``."""

from __future__ import annotations

import math

import torch

import genzoo
from genzoo.data import InMemoryLoader

MODEL = "{{model}}"


def small(**overrides: object) -> genzoo.GenerativeModel:
    return genzoo.build(MODEL, seed=0, hidden_dim=32, latent_dim=4, **overrides)


def test_the_plugin_is_installed_and_registers_the_model() -> None:
    infos = {info.name: info for info in genzoo.model_infos()}
    assert MODEL in infos, f"{MODEL} is not registered; did you pip install this package?"
    assert infos[MODEL].distribution == "{{distribution}}"
    assert "{{model}}" not in {broken.name for broken in genzoo.broken_plugins()}


def test_the_model_follows_the_protocols() -> None:
    model = small()
    assert isinstance(model, genzoo.Generator)
    assert isinstance(model, genzoo.Trainer)
    assert model.config.latent_dim == 4


def test_fit_sample_save_and_load(tmp_path) -> None:
    torch.manual_seed(0)
    model = small(image_shape=(1, 8, 8))
    images = torch.rand(64, *model.image_shape)  # any N×C×H×W floats in [0, 1]
    result = model.fit(InMemoryLoader(images, batch_size=16), epochs=2, seed=0,
                       out=tmp_path / "run", grid_size=4, progress=False)
    assert result.epochs == 2 and result.steps == 8
    assert math.isfinite(result.metrics["loss"])

    samples = model.sample(5, seed=1)
    assert samples.shape == (5, *model.image_shape)
    assert samples.dtype == torch.float32
    assert 0 <= samples.min() and samples.max() <= 1
    assert torch.equal(samples, model.sample(5, seed=1))  # a seed repeats the images

    model.save(tmp_path / "model.pt")
    loaded = genzoo.load(tmp_path / "model.pt")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert torch.equal(loaded.sample(5, seed=1), samples)
    assert genzoo.load(result.checkpoint).config == model.config  # the runner's checkpoint


def test_a_wrong_setting_is_a_config_error() -> None:
    try:
        genzoo.build(MODEL, hidden_dim="wide")
    except genzoo.ConfigError as err:
        assert "hidden_dim" in str(err)
    else:
        raise AssertionError("a non-integer hidden_dim was accepted")
'''
