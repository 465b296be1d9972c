"""genzoo-flow-matching: conditional flow matching, registered with genzoo as ``"flow-matching"``.

The model (:mod:`genzoo_flow_matching.model`) trains a UNet velocity field on the straight path
from noise to data (:mod:`genzoo.nn.path`) and samples by integrating it with an ODE
solver (:mod:`genzoo_flow_matching.solvers`) in a few steps.
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
    register("flow-matching", "genzoo_flow_matching.model:FlowMatching",
             summary="Flow matching (rectified flow) on a UNet; Euler, midpoint or Heun in few steps")


@hookimpl
def genzoo_register_pretrained(register: Any) -> None:
    """Register the model folders this package ships (``pretrained:NAME``)."""
    shipped = Path(__file__).parent / "pretrained"
    register("mnist-flow-matching", shipped / "mnist-flow-matching",
             summary="class-conditional flow matching, 4 epochs on MNIST; 6 Heun steps with guidance 1.25")
