"""Small generated image folders for the metrics tests: colour shapes, flat or one class per folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPES = ("disc", "square", "bar", "ring")


def shape_images(n: int, size: int = 16, *, seed: int = 0, channels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``n×size×size×channels`` (uint8) of one coloured shape each on a dark
    background, and their shape index: disc, square, horizontal bar or ring, at a random place,
    size and colour."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES), size=n)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    images = np.empty((n, size, size, channels), dtype=np.uint8)
    for i, label in enumerate(labels):
        cy, cx = rng.uniform(0.3, 0.7, size=2) * size
        r = rng.uniform(0.18, 0.3) * size
        d = np.hypot(yy - cy, xx - cx)
        mask = {0: d < r, 1: (abs(yy - cy) < r) & (abs(xx - cx) < r),
                2: (abs(yy - cy) < r / 3) & (abs(xx - cx) < r * 1.4), 3: abs(d - r) < r / 3}[int(label)]
        colour = rng.uniform(120, 255, size=channels)
        background = rng.uniform(0, 50, size=channels)
        noise = rng.normal(0, 6, size=(size, size, channels))
        pixels = np.where(mask[..., None], colour, background) + noise
        images[i] = np.clip(pixels, 0, 255).astype(np.uint8)
    return images, labels


def write_shape_folder(folder: Path, n: int, size: int = 16, *, seed: int = 0, classes: bool = False,
                       channels: int = 3) -> Path:
    """Write ``n`` shape images as PNGs into ``folder`` (flat, or one sub-folder per shape)."""
    from PIL import Image

    images, labels = shape_images(n, size, seed=seed, channels=channels)
    for i, (image, label) in enumerate(zip(images, labels)):
        target = folder / SHAPES[int(label)] if classes else folder
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0] if channels == 1 else image).save(target / f"{i:05d}.png")
    return folder
