"""Grid layouts: each reconstruction sits under its real image, whatever the image count."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import genzoo
from genzoo.runner.outputs import (reconstruction_row_length, reconstruction_rows,
                                 save_reconstruction_grid)


@pytest.mark.parametrize("n", [1, 7, 10, 16, 64])
def test_each_reconstruction_is_under_its_real_image(n):
    real = torch.arange(1, n + 1, dtype=torch.float).view(n, 1, 1, 1).expand(n, 1, 2, 2)
    recon = -real
    per_row = reconstruction_row_length(n)
    tiles = reconstruction_rows(real, recon)
    rows = -(-n // per_row)
    assert tiles.shape == (2 * rows * per_row, 1, 2, 2)
    for index in range(rows * per_row):
        row, column = divmod(index, per_row)
        above = tiles[2 * row * per_row + column]
        below = tiles[(2 * row + 1) * per_row + column]
        if index < n:
            assert torch.equal(above, real[index]) and torch.equal(below, recon[index])
        else:
            assert not above.any() and not below.any()  # blank, keeping the next pair aligned


def test_reconstruction_grid_file_has_whole_rows(tmp_path):
    vae = genzoo.build("vae", hidden_dim=16, latent_dim=2, seed=0)
    path = save_reconstruction_grid(vae, torch.rand(10, 1, 28, 28), tmp_path / "r.png")
    with Image.open(path) as grid:  # 10 images, rows of 4: 3 real rows and 3 reconstruction rows
        assert grid.size == (4 * 30 + 2, 6 * 30 + 2)
