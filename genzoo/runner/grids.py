"""Image grids: samples from a fixed latent batch, and real images beside reconstructions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_sample_grid", "save_reconstruction_grid", "reconstruction_rows",
           "reconstruction_row_length"]


def save_sample_grid(model: Any, path: Path, n: int, seed: int) -> Path:
    """Save ``n`` samples drawn with ``seed`` (the same latents every call) as a square grid."""
    from torchvision.utils import save_image

    from ..sampling import finite_images

    images = finite_images(model.sample(n, seed=seed).float().cpu(), "grid samples")
    save_image(images, path, nrow=max(1, round(math.sqrt(n))), padding=2)
    return path


def save_reconstruction_grid(model: Any, images: torch.Tensor, path: Path) -> Path:
    """Save real ``images`` in odd rows and their reconstructions in the rows below them."""
    from torchvision.utils import make_grid, save_image

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            recon = model.reconstruct(images).float()
    finally:
        model.train(was_training)
    from ..sampling import finite_images

    finite_images(recon, "reconstructions")
    grid = make_grid(reconstruction_rows(images.float(), recon).cpu(),
                     nrow=reconstruction_row_length(images.shape[0]), padding=2)
    save_image(grid, path)
    return path


def reconstruction_row_length(n: int) -> int:
    """How many images a row of a reconstruction grid of ``n`` real images holds."""
    return max(1, round(math.sqrt(2 * n)))


def reconstruction_rows(real: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Real images and their reconstructions in alternate rows, each reconstruction below its
    original: a short last row is filled with blank images so that the pairs stay aligned."""
    n = real.shape[0]
    per_row = reconstruction_row_length(n)
    rows = []
    for start in range(0, n, per_row):
        for part in (real, recon):
            row = part[start:start + per_row]
            blank = row.new_zeros((per_row - row.shape[0], *row.shape[1:]))
            rows.append(torch.cat([row, blank]))
    return torch.cat(rows)
