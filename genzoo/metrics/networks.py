"""genzoo's own feature networks, and how genzoo trains them: a small CNN body with a classifier
head (for data with labels) or a contrastive head (for data without).

Every feature network (the pretrained ones' wrapper too) has ``input_shape`` and
``feature_dim`` and a ``features_and_logits(images)`` method taking float images in ``[0, 1]``
of ``input_shape``. Strided convolutions instead of pooling keep training on the full MNIST
training set to about 15 s of one CPU core per epoch while reaching ~99% test accuracy in two
epochs.

* The **domain classifier** (:class:`ClassifierNet`) is trained on the data's labels with a
  fixed seed, Adam with a linear decay, a few epochs (:func:`train_classifier_net`).
* The **contrastive network** (:class:`ContrastiveNet`), for data without labels, is trained on
  the images alone, SimCLR-style (:func:`train_contrastive_net`): two random views of each image
  (crop and rescale, horizontal flip, brightness and contrast, and for colour images saturation
  and an occasional grey view) go through the network; the NT-Xent loss (Chen et al., 2020, "A
  Simple Framework for Contrastive Learning of Visual Representations") pulls each image's two
  views together and pushes the other images' views away. The network thereby learns what the
  data's images have in common and what tells them apart, which is what FID and the other
  metrics need from a feature space. It trains a fixed number of steps (not epochs), so its
  cost does not grow with the data: the defaults, 600 steps of 128 images, take about a minute
  on one CPU core at 32×32.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .errors import MetricsError
from .images import as_float_images

__all__ = ["ClassifierNet", "ContrastiveNet", "FEATURE_DIM", "ClassifierSettings", "train_classifier_net",
           "one_cpu_thread", "ContrastiveSettings", "train_contrastive_net", "augment", "nt_xent"]

#: Size of the feature layer whose activations the metrics compare.
FEATURE_DIM = 128


class _Body(nn.Module):
    """``conv 5×5/2 (32) → ReLU → conv 3×3/2 (64) → ReLU → linear (feature_dim)``."""

    def __init__(self, image_shape: tuple[int, int, int], feature_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape
        self.image_shape = (int(c), int(h), int(w))
        self.feature_dim = int(feature_dim)
        spatial = _after_two_stride2(h) * _after_two_stride2(w)
        self.body = nn.Sequential(
            nn.Conv2d(c, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * spatial, feature_dim),
        )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of the images it reads."""
        return self.image_shape


class ClassifierNet(_Body):
    """A small CNN classifier for ``C×H×W`` images in ``[0, 1]``.

    ``conv 5×5/2 (32) → ReLU → conv 3×3/2 (64) → ReLU → linear (128) → ReLU → linear (classes)``

    The features are the 128 outputs of the penultimate linear layer *before* its ReLU: images
    unlike the data (noise, blanks) then land far from every real image, which the rectified
    activations, squashed towards zero, do not ensure.

    Args:
        image_shape: ``(channels, height, width)`` of the images.
        num_classes: Number of classes of the head.
        feature_dim: Size of the feature layer.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int,
                 feature_dim: int = FEATURE_DIM) -> None:
        super().__init__(image_shape, feature_dim)
        self.num_classes = int(num_classes)
        self.head = nn.Linear(feature_dim, num_classes)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The feature layer's outputs (before its ReLU) and the class logits of float images in
        ``[0, 1]``."""
        features = self.body(images * 2 - 1)
        return features, self.head(torch.relu(features))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The class logits of float images in ``[0, 1]``."""
        return self.features_and_logits(images)[1]


class ContrastiveNet(_Body):
    """The same CNN body with a SimCLR projection head, for data without labels.

    ``body → linear (128) → ReLU → linear (projection_dim)``; the loss compares projections, the
    metrics the body's 128 features (Chen et al., 2020: the layer before the projection head
    keeps more of the image).

    Args:
        image_shape: ``(channels, height, width)`` of the images.
        feature_dim: Size of the feature layer.
        projection_dim: Size of the projections the contrastive loss compares.
    """

    num_classes = 0

    def __init__(self, image_shape: tuple[int, int, int], feature_dim: int = FEATURE_DIM,
                 projection_dim: int = 64) -> None:
        super().__init__(image_shape, feature_dim)
        self.projection_dim = int(projection_dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, feature_dim), nn.ReLU(),
                                  nn.Linear(feature_dim, projection_dim))

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The body's features of float images in ``[0, 1]`` (and no logits)."""
        return self.body(images * 2 - 1), None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The projections of float images in ``[0, 1]``."""
        return self.head(self.body(images * 2 - 1))


def _after_two_stride2(size: int) -> int:
    """Spatial size after the two stride-2 convolutions (5×5 pad 2, then 3×3 pad 1): ⌈size/4⌉."""
    return (size + 3) // 4


# -- training the classifier --------------------------------------------------------------------

@dataclass(frozen=True)
class ClassifierSettings:
    """How the domain classifier is trained; the defaults are what users get.

    Attributes:
        epochs: Passes over the training images (more when a small set needs them to reach
            ``min_steps``).
        batch_size: Images per step.
        lr: Adam's starting learning rate, decayed linearly to 0 over the run.
        seed: Seeds the weights and the data order (global random state is left untouched).
        max_train_images: Train on only the first this many images (for quick tests).
        min_steps: The fewest optimiser steps: a small image folder gets as many epochs as
            reach it (MNIST's two epochs are 938 steps).
    """

    epochs: int = 2
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    max_train_images: int | None = None
    min_steps: int = 500

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise MetricsError(f"the classifier's epochs must be a positive integer, got {self.epochs!r}")
        limit = self.max_train_images
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise MetricsError(f"max_train_images must be a positive integer or None, got {limit!r}")


def train_classifier_net(images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                         settings: ClassifierSettings, *, device: torch.device,
                         log: Callable[[str], None] | None = None) -> tuple[ClassifierNet, float]:
    """Train a :class:`ClassifierNet` on ``uint8`` images and their labels.

    The same settings and data give the same weights on the same kind of CPU and thread count
    (see :func:`one_cpu_thread`).

    Returns:
        The network (in eval mode, on ``device``) and the seconds training took.
    """
    if settings.max_train_images is not None:
        images, labels = images[: settings.max_train_images], labels[: settings.max_train_images]
    n = images.shape[0]
    steps_per_epoch = -(-n // settings.batch_size)
    epochs = max(settings.epochs, -(-settings.min_steps // steps_per_epoch))
    total_steps = epochs * steps_per_epoch
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        net = ClassifierNet(tuple(images.shape[1:]), num_classes).to(device)
        order_rng = torch.Generator().manual_seed(settings.seed)
        optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / total_steps)
        net.train()
        for epoch in range(epochs):
            order = torch.randperm(n, generator=order_rng)
            for index in order.split(settings.batch_size):
                x = as_float_images(images[index].to(device))
                loss = F.cross_entropy(net(x), labels[index].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
            if log is not None and (epoch + 1) % max(1, epochs // 4) == 0:
                log(f"  epoch {epoch + 1}/{epochs}: last batch loss {loss.detach().item():.4f} "
                    f"({time.perf_counter() - started:.0f} s)")
    net.eval()
    return net, time.perf_counter() - started


@contextlib.contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the block on one CPU thread when ``device`` is the CPU, then restore torch's setting.

    The classifier is trained this way: its small convolutions gain little from more threads,
    one thread gives the same weights whatever the machine's core count, and on a busy machine
    two threads waiting on each other were ten times slower (full MNIST: 37 s on one thread,
    430 s on two, under the same load).
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# -- training the contrastive network -----------------------------------------------------------

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
