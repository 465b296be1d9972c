"""The genzoo side of the benchmark: the seed models through ``fit``, as a user calls it."""

from __future__ import annotations

import time

import genzoo
from genzoo.data import InMemoryLoader, load_images


def train(name: str, root: str, batch_size: int, max_steps: int | None, bf16: bool,
          loader: str = "in-memory", device: str = "cpu") -> tuple[int, float]:
    """Fit ``genzoo.build(name)`` for one epoch (or ``max_steps``); return images and seconds."""
    images = load_images("mnist", root=root, download=False)
    if loader == "in-memory":
        data = InMemoryLoader.from_image_set(images, batch_size=batch_size, device=device)
    else:  # the classic DataLoader, to show what the in-memory loader is worth
        from torch.utils.data import DataLoader
        from torchvision import datasets, transforms

        data = DataLoader(datasets.MNIST(root, train=True, transform=transforms.ToTensor()),
                          batch_size=batch_size, shuffle=True)
    model = genzoo.build(name)
    start = time.perf_counter()
    result = model.fit(data, epochs=1, max_steps=max_steps, precision="bf16" if bf16 else "32",
                       device=device, progress=False)
    seconds = time.perf_counter() - start
    return min(result.steps * batch_size, len(images)), seconds
