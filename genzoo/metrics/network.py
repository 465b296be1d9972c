"""The domain classifier's network: two strided convolutions, a 128-d feature layer, a head.

Strided convolutions instead of pooling keep training on the full MNIST training set to about
15 s of one CPU core per epoch while reaching ~99% test accuracy in two epochs.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ClassifierNet", "FEATURE_DIM"]

#: Size of the penultimate layer whose activations FID and precision/recall compare.
FEATURE_DIM = 128


class ClassifierNet(nn.Module):
    """A small CNN for ``C×H×W`` images in ``[0, 1]``.

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
        super().__init__()
        c, h, w = image_shape
        self.image_shape = (int(c), int(h), int(w))
        self.num_classes = int(num_classes)
        self.feature_dim = int(feature_dim)
        spatial = _after_two_stride2(h) * _after_two_stride2(w)
        self.body = nn.Sequential(
            nn.Conv2d(c, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * spatial, feature_dim),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The feature layer's outputs (before its ReLU) and the class logits of float images in
        ``[0, 1]``."""
        features = self.body(images * 2 - 1)
        return features, self.head(torch.relu(features))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The class logits of float images in ``[0, 1]``."""
        return self.features_and_logits(images)[1]


def _after_two_stride2(size: int) -> int:
    """Spatial size after the two stride-2 convolutions (5×5 pad 2, then 3×3 pad 1): ⌈size/4⌉."""
    return (size + 3) // 4
