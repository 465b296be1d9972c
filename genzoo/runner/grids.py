"""Image grids: samples from a fixed latent batch, and real images beside reconstructions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_sample_grid", "save_reconstruction_grid"]


def save_sample_grid(model: Any, path: Path, n: int, seed: int) -> Path:
    """Save ``n`` samples drawn with ``seed`` (the same latents every call) as a square grid."""
    from torchvision.utils import save_image

    images = model.sample(n, seed=seed)
    save_image(images.float().cpu(), path, nrow=max(1, round(math.sqrt(n))), padding=2)
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
    n = images.shape[0]
    per_row = max(1, round(math.sqrt(2 * n)))
    rows = []
    for start in range(0, n, per_row):
        rows.append(images[start:start + per_row].float())
        rows.append(recon[start:start + per_row])
    grid = make_grid(torch.cat(rows).cpu(), nrow=per_row, padding=2)
    save_image(grid, path)
    return path
