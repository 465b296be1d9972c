"""genzoo-diffusion: denoising diffusion, registered with genzoo as ``"ddpm"``.

genzoo finds this module through the ``genzoo`` entry-point group declared in
``pyproject.toml``, and calls :func:`genzoo_register_models`. The factory is given as a
``"module:attribute"`` string, so listing models (``genzoo list``) does not import torch code
from :mod:`genzoo_diffusion.model`; that happens only when a model is built.

The pieces are separate, as in diffusers: the network is genzoo's :class:`genzoo.nn.UNet`, the
noise schedule (:mod:`genzoo_diffusion.schedule`) noises images (``add_noise``), and a sampler
(:mod:`genzoo_diffusion.samplers`) takes one denoising ``step``; a new sampler needs no new model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.plugin import hookimpl

__all__ = ["GENZOO_PLUGIN_API", "genzoo_register_models", "genzoo_register_pretrained"]

#: The genzoo plugin API this package is written against; a genzoo implementing another
#: version reports the plugin as broken instead of loading it.
GENZOO_PLUGIN_API = 1


@hookimpl
def genzoo_register_models(register: Any) -> None:
    register("ddpm", "genzoo_diffusion.model:Diffusion",
             summary="Denoising diffusion on a UNet (epsilon or v prediction), DDPM or DDIM sampling, guidance")


@hookimpl
def genzoo_register_pretrained(register: Any) -> None:
    """Register the model folders this package ships (``pretrained:NAME``)."""
    shipped = Path(__file__).parent / "pretrained"
    register("mnist-ddpm", shipped / "mnist-ddpm",
             summary="class-conditional DDPM, 3 epochs on MNIST; 10 DDIM steps with guidance 1.25")
