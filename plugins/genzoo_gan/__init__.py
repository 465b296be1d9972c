"""The GAN plugin: the seed report's MLP GAN (``"gan"``) and a convolutional DCGAN (``"dcgan"``).

It is found through the ``genzoo`` entry-point group like any third-party plugin; the model
code is imported only when a model is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.plugin import hookimpl

__all__ = ["GENZOO_PLUGIN_API", "genzoo_register_models", "genzoo_register_pretrained"]

#: The genzoo plugin API this package is written for (built-ins declare it like any plugin).
GENZOO_PLUGIN_API = 1


@hookimpl
def genzoo_register_models(register: Any) -> None:
    register("gan", "genzoo_gan.model:GAN",
             summary="MLP GAN (5-layer generator, 3-layer discriminator), non-saturating loss")
    register("dcgan", "genzoo_gan.conv:DCGAN",
             summary="DCGAN for 28x28 to 96x96 (conv-transpose generator, conv discriminator); "
                     "bce/hinge/wgan-gp, weight EMA, class-conditional")


@hookimpl
def genzoo_register_pretrained(register: Any) -> None:
    """Register the model folders this package ships (``pretrained:NAME``)."""
    shipped = Path(__file__).parent / "pretrained"
    register("mnist-gan", shipped / "mnist-gan",
             summary="the seed MLP GAN with a weight EMA (decay 0.999), 20 epochs on MNIST")
    register("mnist-dcgan", shipped / "mnist-dcgan",
             summary="a class-conditional DCGAN, 12 epochs on MNIST")
