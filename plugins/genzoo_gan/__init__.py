"""The GAN plugin: the seed report's MLP GAN, registered as ``"gan"``.

It is found through the ``genzoo`` entry-point group like any third-party plugin; the model
code is imported only when a GAN is built.
"""

from __future__ import annotations

from typing import Any

import genzoo


@genzoo.hookimpl
def genzoo_register_models(register: Any) -> None:
    register("gan", "genzoo_gan.model:GAN",
             summary="MLP GAN (5-layer generator, 3-layer discriminator), non-saturating loss")
