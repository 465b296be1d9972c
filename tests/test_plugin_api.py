"""``genzoo.plugin``, the public API of model plugins: every name importable, documented, light.

That the shipped plugins import nothing else of genzoo is checked by the import contracts
(``tests/test_import_contracts.py``).
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import genzoo
import genzoo.plugin
import genzoo.plugins

ROOT = Path(__file__).resolve().parents[1]
#: A Sphinx cross-reference in the module docstring: :class:`~genzoo.GenerativeModel`.
_REFERENCE = re.compile(r":(?:class|func|data|exc|meth):`~?([\w.]+)`")


def resolve(target: str) -> object:
    """The object a dotted name (``genzoo.runner.optimization.ema_decay``) names."""
    parts = target.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise LookupError(target)


def test_every_name_is_importable_and_the_object_genzoo_defines() -> None:
    names = genzoo.plugin.__all__
    assert len(names) == len(set(names)), "a name is listed twice in __all__"
    namespace: dict[str, object] = {}
    exec(f"from genzoo.plugin import {', '.join(names)}", namespace)  # noqa: S102
    for name in names:
        assert namespace[name] is getattr(genzoo.plugin, name)
    # The names the shipped plugins and the scaffold use, from where genzoo defines them.
    assert genzoo.plugin.GenerativeModel is genzoo.GenerativeModel
    assert genzoo.plugin.hookimpl is genzoo.hookimpl
    assert genzoo.plugin.PLUGIN_API_VERSION == genzoo.plugins.PLUGIN_API_VERSION
    assert genzoo.plugin.ema_decay is resolve("genzoo.runner.optimization.ema_decay")
    assert genzoo.plugin.dequantize is resolve("genzoo.metrics.likelihood.dequantize")
    assert genzoo.plugin.bits_per_dim is resolve("genzoo.metrics.bits_per_dim")


def test_every_name_is_documented_in_the_module_docstring_where_genzoo_defines_it() -> None:
    """Each name is linked from genzoo.plugin's docstring (the API page) to the object itself,
    and every function and class has a docstring of its own."""
    doc = genzoo.plugin.__doc__ or ""
    linked = {target.rsplit(".", 1)[1]: target for target in _REFERENCE.findall(doc)}
    for name in genzoo.plugin.__all__:
        obj = getattr(genzoo.plugin, name)
        assert name in linked, f"genzoo.plugin.{name} is not listed in the module docstring"
        assert resolve(linked[name]) is obj, f"{linked[name]} is not genzoo.plugin.{name}"
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), f"genzoo.plugin.{name} has no docstring"
    assert "GENZOO_PLUGIN_API" in doc and "PLUGIN_API_VERSION" in doc


def test_the_api_page_shows_the_module_and_the_index_links_it() -> None:
    page = (ROOT / "docs" / "api" / "genzoo.plugin.rst").read_text(encoding="utf-8")
    assert ".. automodule:: genzoo.plugin" in page
    assert ":doc:`genzoo.plugin`" in (ROOT / "docs" / "api" / "index.rst").read_text(encoding="utf-8")


def test_importing_the_plugin_api_leaves_data_metrics_reports_and_the_cli_alone() -> None:
    heavy = ("genzoo.data", "genzoo.metrics", "genzoo.report", "genzoo.cli", "genzoo.training")
    code = ("import sys, genzoo.plugin; "
            f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["dequantize", "bits_per_dim"])
def test_the_likelihood_helpers_are_the_metrics_ones(name: str) -> None:
    """Moved to genzoo.density so that plugins need not import genzoo.metrics; the metrics
    module still exports the very same functions."""
    from genzoo.metrics import likelihood

    assert getattr(likelihood, name) is getattr(genzoo.plugin, name)
    assert name in likelihood.__all__


@pytest.mark.parametrize("package", ["genzoo_gan", "genzoo_vae", "genzoo_diffusion",
                                     "genzoo_flow_matching", "genzoo_flows",
                                     "genzoo_few_step"])
def test_every_shipped_plugin_declares_the_api_it_targets(package: str) -> None:
    module = importlib.import_module(package)
    assert module.GENZOO_PLUGIN_API == genzoo.plugin.PLUGIN_API_VERSION
    assert "GENZOO_PLUGIN_API" in module.__all__


@pytest.mark.parametrize("target", ["genzoo_diffusion.model:Diffusion",
                                    "genzoo_flow_matching.model:FlowMatching",
                                    "genzoo_few_step.student:DistilledFlow",
                                    "genzoo_few_step.meanflow:MeanFlow"])
def test_the_unet_families_models_take_their_sampling_defaults_from_the_plugin_api(
        target: str) -> None:
    """Written once, in genzoo.plugin.UNetSampling, not copied into each model."""
    module, name = target.split(":")
    model = getattr(importlib.import_module(module), name)
    assert issubclass(model, genzoo.plugin.UNetSampling)
    assert model.__mro__.index(genzoo.plugin.UNetSampling) < model.__mro__.index(
        genzoo.plugin.GenerativeModel)
    assert not {"sampling_steps", "sample_latent"} & set(vars(model))
