"""The arithmetic of image densities: uniform dequantization and bits per dimension.

A small module of the core, so that a model plugin (through :mod:`genzoo.plugin`) can train on
dequantized pixels and report its likelihood in bits per dimension without importing the
evaluation machinery of :mod:`genzoo.metrics`, which re-exports both functions from
:mod:`genzoo.metrics.likelihood` and explains the convention.
"""

from __future__ import annotations

import math

import torch

__all__ = ["bits_per_dim", "dequantize"]

_LOG_256 = math.log(256.0)


def dequantize(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniformly dequantize 8-bit images: pixel ``k`` becomes ``(k + u) / 256``, ``u ~ U[0, 1)``.

    Args:
        images: ``uint8`` images, or floats ``k / 255`` in ``[0, 1]`` (as genzoo's loaders and
            the runner hand them to a training step; they are rounded back to ``k``).
        generator: A CPU generator for the noise (repeatable without touching the global
            random state); ``None`` draws from torch's global generator on the images' device.

    Returns:
        Float images in ``[0, 1)``, on the images' device.
    """
    levels = images.float() if images.dtype == torch.uint8 else (images.float() * 255).round_()
    if generator is None:
        noise = torch.rand_like(levels)
    else:
        noise = torch.rand(levels.shape, generator=generator).to(levels.device)
    return (levels + noise) / 256


def bits_per_dim(log_density: torch.Tensor, dims: int) -> torch.Tensor:
    """Bits per dimension of dequantized 8-bit data from log-densities in nats on ``[0, 1]^D``.

    Args:
        log_density: ``log p(x)`` per image, of images ``x`` in ``[0, 1]^D``.
        dims: ``D``, the number of pixel values per image (``C·H·W``).
    """
    return (-log_density / dims + _LOG_256) / math.log(2.0)

