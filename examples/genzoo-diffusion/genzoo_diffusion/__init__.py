"""genzoo-diffusion: a small denoising-diffusion model, registered with genzoo as ``"diffusion"``.

genzoo finds this module through the ``genzoo`` entry-point group declared in
``pyproject.toml``, and calls :func:`genzoo_register_models`. The factory is given as a
``"module:attribute"`` string, so listing models (``genzoo list``) does not import torch code
from :mod:`genzoo_diffusion.model`; that happens only when a diffusion model is built.
"""

from __future__ import annotations

from typing import Any

import genzoo

__all__ = ["GENZOO_PLUGIN_API", "genzoo_register_models"]

#: The genzoo plugin API this package is written against; a genzoo implementing another
#: version reports the plugin as broken instead of loading it.
GENZOO_PLUGIN_API = 1


@genzoo.hookimpl
def genzoo_register_models(register: Any) -> None:
    register("diffusion", "genzoo_diffusion.model:Diffusion",
             summary="Small DDPM (conv UNet, epsilon prediction), DDPM or DDIM sampling")
