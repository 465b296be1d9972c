"""Network building blocks that model plugins share.

Plugins may depend on genzoo's public API only; the pieces here are part of it, so that two
families that need the same network (the diffusion and flow-matching plugins both denoise with
a UNet and both guide it) do not each write their own. Family-specific pieces (noise schedules,
samplers, ODE solvers) stay in the plugin that needs them.
"""

from .guidance import guided
from .options import UNetOptions, UNetSampling
from .path import interpolate, sample_times
from .unet import UNet, check_unet_options, timestep_embedding

__all__ = ["UNet", "check_unet_options", "timestep_embedding", "guided", "UNetOptions",
           "UNetSampling", "interpolate", "sample_times"]
