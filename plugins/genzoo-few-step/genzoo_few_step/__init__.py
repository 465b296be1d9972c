"""genzoo-few-step: models that sample in one to a few network evaluations, registered with
genzoo as ``"distilled-flow"`` and ``"meanflow"``.

* ``distilled-flow`` (:mod:`genzoo_few_step.student`): a student of a trained flow-matching (or
  diffusion) teacher. It reflows and distils the teacher's sampler from noise–image pairs the
  teacher makes once into the run folder (Liu et al. 2023), and samples in 1, 2 or 4 steps.
* ``meanflow`` (:mod:`genzoo_few_step.meanflow`): a one-step model trained from scratch, with no
  teacher: the mean velocity of the flow over a jump (Geng et al. 2025).

Both jump along the straight path from noise to data in as many steps as asked
(:mod:`genzoo_few_step.jumps`).
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
    register("distilled-flow", "genzoo_few_step.student:DistilledFlow",
             summary="A 1-to-4-step student of a flow-matching teacher (reflow and distillation)")
    register("meanflow", "genzoo_few_step.meanflow:MeanFlow",
             summary="MeanFlow: a one-step model trained from scratch, no teacher")


@hookimpl
def genzoo_register_pretrained(register: Any) -> None:
    """Register the model folders this package ships (``pretrained:NAME``)."""
    shipped = Path(__file__).parent / "pretrained"
    register("mnist-distilled-flow", shipped / "mnist-distilled-flow",
             summary="a class-conditional 1-step student of mnist-flow-matching, 3 epochs on its "
                     "pairs; 1 network evaluation per image")
