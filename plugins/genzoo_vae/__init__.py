"""The VAE plugin: the seed report's MLP VAE (``"vae"``) and a convolutional VAE (``"conv-vae"``).

It is found through the ``genzoo`` entry-point group like any third-party plugin; the model
code is imported only when a model is built.
"""

from __future__ import annotations

from typing import Any

from genzoo.plugin import hookimpl

__all__ = ["GENZOO_PLUGIN_API", "genzoo_register_models"]

#: The genzoo plugin API this package is written for (built-ins declare it like any plugin).
GENZOO_PLUGIN_API = 1


@hookimpl
def genzoo_register_models(register: Any) -> None:
    register("vae", "genzoo_vae.model:VAE",
             summary="MLP VAE (784-400-20), Bernoulli likelihood, BCE + beta * KL")
    register("conv-vae", "genzoo_vae.conv:ConvVAE",
             summary="Convolutional VAE for 28x28 to 96x96, BCE + beta * KL, "
                     "optionally class-conditional")
