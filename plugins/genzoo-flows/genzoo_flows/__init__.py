"""genzoo-flows: normalizing flows with an exact log-likelihood, registered with genzoo.

``"glow"`` (Kingma & Dhariwal, 2018) and ``"realnvp"`` (Dinh et al., 2017) share one
multi-scale architecture (:mod:`genzoo_flows.model`) built from the invertible layers of
:mod:`genzoo_flows.layers`. genzoo finds this module through the ``genzoo`` entry-point group;
the model code is imported only when a flow is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.plugin import hookimpl

__all__ = ["GENZOO_PLUGIN_API", "genzoo_register_models", "genzoo_register_pretrained"]

#: The genzoo plugin API this package is written against.
GENZOO_PLUGIN_API = 1


@hookimpl
def genzoo_register_models(register: Any) -> None:
    """Register ``glow`` and ``realnvp``."""
    register("glow", "genzoo_flows.model:Glow",
             summary="Glow: multi-scale flow, actnorm + invertible 1x1 conv + affine coupling, exact likelihood")
    register("realnvp", "genzoo_flows.model:RealNVP",
             summary="RealNVP-style multi-scale flow, affine coupling with fixed channel reversal, exact likelihood")


@hookimpl
def genzoo_register_pretrained(register: Any) -> None:
    """Register the model folders this package ships (``pretrained:NAME``)."""
    shipped = Path(__file__).parent / "pretrained"
    register("mnist-glow", shipped / "mnist-glow",
             summary="Glow (2 levels x 8 steps), 4 epochs on MNIST; exact likelihood")
