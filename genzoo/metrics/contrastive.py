"""A feature network for data without labels, trained by genzoo on that data (SimCLR-style).

Two random views of each image (crop and rescale, horizontal flip, brightness and contrast, and
for colour images saturation and an occasional grey view) go through the network; the NT-Xent
loss (Chen et al., 2020, "A Simple Framework for Contrastive Learning of Visual
Representations") pulls each image's two views together and pushes the other images' views away.
The network thereby learns what the data's images have in common and what tells them apart,
which is what FID and the other metrics need from a feature space.

It trains a fixed number of steps (not epochs), so its cost does not grow with the data: the
defaults, 600 steps of 128 images, take about a minute on one CPU core at 32×32.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .classifier_training import as_float_images
from .errors import MetricsError
from .network import ContrastiveNet

__all__ = ["ContrastiveSettings", "train_contrastive_net", "augment", "nt_xent"]


@dataclass(frozen=True)
class ContrastiveSettings:
    """How the contrastive feature network is trained; the defaults are what users get.

    Attributes:
        steps: Optimiser steps.
        batch_size: Images per step (each seen as two views).
        lr: Adam's starting learning rate, decayed linearly to 0 over the run.
        temperature: The NT-Xent temperature.
        seed: Seeds the weights, the batches and the augmentations.
        max_train_images: Train on only the first this many images (for quick tests).
    """

    steps: int = 600
    batch_size: int = 128
    lr: float = 2e-3
    temperature: float = 0.2
    seed: int = 0
    max_train_images: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MetricsError(f"the contrastive network's {name} must be a positive integer, got {value!r}")
        limit = self.max_train_images
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 2):
            raise MetricsError(f"max_train_images must be an integer of at least 2 or None, got {limit!r}")


def train_contrastive_net(images: torch.Tensor, settings: ContrastiveSettings, *,
                          device: torch.device,
                          log: Callable[[str], None] | None = None) -> tuple[ContrastiveNet, float]:
    """Train a :class:`ContrastiveNet` on images (``uint8`` or floats in ``[0, 1]``) without labels.

    Returns:
        The network (in eval mode, on ``device``) and the seconds training took.

    Raises:
        MetricsError: fewer than two images.
    """
    if settings.max_train_images is not None:
        images = images[: settings.max_train_images]
    n = images.shape[0]
    if n < 2:
        raise MetricsError(f"the contrastive network needs at least 2 images to train, got {n}")
    batch = min(settings.batch_size, n)
    colour = images.shape[1] == 3
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        net = ContrastiveNet(tuple(images.shape[1:])).to(device)
        generator = torch.Generator().manual_seed(settings.seed)
        optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / settings.steps)
        net.train()
        order = torch.randperm(n, generator=generator)
        position = 0
        for step in range(settings.steps):
            if position + batch > n:
                order, position = torch.randperm(n, generator=generator), 0
            x = as_float_images(images[order[position:position + batch]]).to(device)
            position += batch
            views = torch.cat([augment(x, generator, colour=colour), augment(x, generator, colour=colour)])
            projections = F.normalize(net(views), dim=1)
            loss = nt_xent(projections, settings.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if log is not None and (step + 1) % max(1, settings.steps // 4) == 0:
                log(f"  step {step + 1}/{settings.steps}: loss {loss.detach().item():.4f} "
                    f"({time.perf_counter() - started:.0f} s)")
    net.eval()
    return net, time.perf_counter() - started


def nt_xent(projections: torch.Tensor, temperature: float) -> torch.Tensor:
    """The NT-Xent loss of ``2N`` unit-length projections: rows ``i`` and ``i + N`` are two
    views of one image."""
    count = projections.shape[0] // 2
    similarity = projections @ projections.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(count, 2 * count), torch.arange(count)]).to(projections.device)
    return F.cross_entropy(similarity, targets)


def augment(images: torch.Tensor, generator: torch.Generator, *, colour: bool) -> torch.Tensor:
    """One random view of each float image in ``[0, 1]``: a crop of 35-100% of the area (aspect
    3:4 to 4:3) scaled back to full size, a horizontal flip half of the time, brightness and
    contrast ×[0.6, 1.4], and for colour images saturation ×[0.6, 1.4] and grey 20% of the time.

    The random numbers come from ``generator`` (on the CPU), so a seed gives the same views.
    """
    n = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * (high - low) + low).to(images.device)

    area, aspect = uniform(0.35, 1.0), uniform(math.log(3 / 4), math.log(4 / 3)).exp()
    width, height = (area * aspect).sqrt().clamp(max=1), (area / aspect).sqrt().clamp(max=1)
    flip = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=images.device)
    theta[:, 0, 0], theta[:, 1, 1] = width * flip, height
    theta[:, 0, 2], theta[:, 1, 2] = uniform(-1, 1) * (1 - width), uniform(-1, 1) * (1 - height)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(0.6, 1.4).view(n, 1, 1, 1) + mean * uniform(0.6, 1.4).view(n, 1, 1, 1)
    if colour:
        grey = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        saturation = torch.where(uniform(0, 1) < 0.2, 0.0, uniform(0.6, 1.4)).view(n, 1, 1, 1)
        x = grey + (x - grey) * saturation
    return x.clamp(0, 1)
