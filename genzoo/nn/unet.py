"""A small convolutional UNet for denoising and velocity fields on 28×28 and 32×32 images.

The network maps an image ``x``, a time ``t`` in ``[0, 1]`` and optionally a class label to a
tensor of ``x``'s shape: the noise, the clean image or a velocity, whatever the model trains it
to predict. It is the usual design (Ho et al. 2020; Dhariwal & Nichol 2021) kept small for CPUs:
residual blocks with group norm and SiLU, a sinusoidal time embedding added to every block,
one downsampling per extra resolution, skip connections, and an optional patch size that lets
the whole network work at half the resolution (a strided stem and a pixel-shuffle head, as
vision transformers patchify), which makes it about four times cheaper.

Class conditioning adds a learned class embedding to the time embedding. The embedding has one
extra row, the *null class* (:attr:`UNet.null_label`), used for unconditional predictions: a
model trained with labels dropped to the null class now and then can be sampled with
classifier-free guidance (Ho & Salimans 2022).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet", "check_unet_options", "timestep_embedding"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0,
                       scale: float = 1000.0) -> torch.Tensor:
    """Sinusoidal features of times ``t`` in ``[0, 1]``: ``N×dim`` (``dim`` even).

    ``t`` is multiplied by ``scale`` first: 1000 makes the frequencies suit a continuous time in
    ``[0, 1]`` as they suit the integer steps of a 1000-step diffusion chain.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = (t.float() * scale)[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def check_unet_options(image_shape: tuple[int, int, int], *, base_width: int,
                       channel_mults: tuple[int, ...], blocks_per_level: int, patch_size: int,
                       num_classes: int = 0, dropout: float = 0.0) -> None:
    """Check a model config's :class:`UNet` options against its image shape, for the config's
    ``__post_init__`` (genzoo reports the :class:`ValueError` as a :class:`~genzoo.ConfigError`
    naming the model).

    Raises:
        ValueError: what is wrong, e.g. an image size that is not a multiple of
            ``patch_size * 2 ** (len(channel_mults) - 1)``.
    """
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"image_shape must be (channels, height, width), got {image_shape}")
    if not channel_mults or min(channel_mults) < 1:
        raise ValueError(f"channel_mults must be positive and non-empty, got {channel_mults}")
    if patch_size not in (1, 2):
        raise ValueError(f"patch_size must be 1 or 2, got {patch_size}")
    multiple = patch_size * 2 ** (len(channel_mults) - 1)
    if image_shape[1] % multiple or image_shape[2] % multiple:
        raise ValueError(f"image height and width must be divisible by {multiple} (patch_size "
                         f"{patch_size}, {len(channel_mults)} resolutions), got "
                         f"{image_shape[1]}x{image_shape[2]}")
    if base_width < 2 or blocks_per_level < 1 or num_classes < 0:
        raise ValueError("base_width must be at least 2, blocks_per_level at least 1, "
                         "num_classes 0 or more")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def _norm(groups: int, channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class _ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus the embedding, twice; with a (1×1) skip path."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = _norm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2 = _norm(groups, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class _Upsample(nn.Module):
    """Nearest-neighbour ×2, then a 3×3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """A compact UNet: ``f(x, t, labels)`` with the shape of ``x``.

    Args:
        channels: Image channels (1 or 3; any number works).
        base_width: Channels at the first resolution.
        channel_mults: Width multiplier per resolution; each one after the first halves the
            height and width.
        blocks_per_level: Residual blocks per resolution on the way down (one more on the way up).
        num_classes: Classes of a class-conditional network; 0 for none.
        norm_groups: Group-norm groups (reduced to a divisor of each layer's width).
        patch_size: 1, or 2 to run the whole network at half the resolution (a stride-2 stem
            and a pixel-shuffle head): about four times fewer operations.
        dropout: Dropout in the residual blocks.
        time_inputs: Times the network takes per image: 1 (``t``: a denoiser, a velocity), or 2
            (``t`` and a second time, such as the end of a jump: a mean velocity, a shortcut),
            each given its own sinusoidal features before the shared time MLP.
        time_scale: What times are multiplied by before their sinusoidal features
            (:func:`timestep_embedding`): 1000 suits a network used at given times; a network
            differentiated in time (MeanFlow's ``d/dt``) wants 1, or the fastest features'
            derivatives (1000 times larger) swamp its target.
        channels_last: Keep the convolution weights in channels-last memory format and convert
            inputs to it: faster on CPUs (about 1.4× at these sizes) and on GPUs with tensor cores.

    Raises:
        ValueError: a size or width is not positive, or ``patch_size`` is not 1 or 2.

    Example::

        net = UNet(1, base_width=32, channel_mults=(1, 2), num_classes=10)
        out = net(torch.randn(8, 1, 28, 28), torch.rand(8), torch.randint(0, 10, (8,)))
    """

    def __init__(self, channels: int = 1, *, base_width: int = 32,
                 channel_mults: tuple[int, ...] = (1, 2), blocks_per_level: int = 1,
                 num_classes: int = 0, norm_groups: int = 8, patch_size: int = 1,
                 dropout: float = 0.0, time_inputs: int = 1, time_scale: float = 1000.0,
                 channels_last: bool = True) -> None:
        super().__init__()
        if channels < 1 or base_width < 2 or blocks_per_level < 1 or norm_groups < 1:
            raise ValueError("channels and blocks_per_level must be positive, base_width at least 2")
        if not channel_mults or min(channel_mults) < 1:
            raise ValueError(f"channel_mults must be positive and non-empty, got {channel_mults}")
        if patch_size not in (1, 2):
            raise ValueError(f"patch_size must be 1 or 2, got {patch_size}")
        if num_classes < 0 or not 0 <= dropout < 1:
            raise ValueError("num_classes must be 0 or more, dropout in [0, 1)")
        if time_inputs not in (1, 2):
            raise ValueError(f"time_inputs must be 1 or 2, got {time_inputs}")
        if not math.isfinite(time_scale) or time_scale <= 0:
            raise ValueError(f"time_scale must be positive and finite, got {time_scale}")
        self.time_inputs, self.time_scale = time_inputs, float(time_scale)
        self.channels, self.patch_size, self.num_classes = channels, patch_size, num_classes
        self.levels = len(channel_mults)
        emb_dim = 4 * base_width
        self.time_width = base_width
        self.time = nn.Sequential(nn.Linear(base_width * time_inputs, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.classes = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.stem = nn.Conv2d(channels, base_width, 3 if patch_size == 1 else 2 * patch_size,
                              stride=patch_size, padding=1 if patch_size == 1 else patch_size // 2)
        widths = [base_width * m for m in channel_mults]
        skips, previous = [base_width], base_width
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        for level, width in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(_ResBlock(previous, width, emb_dim, norm_groups, dropout))
                previous = width
                skips.append(width)
            self.down.append(blocks)
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(previous, previous, 3, stride=2, padding=1))
                skips.append(previous)
        self.middle = _ResBlock(previous, previous, emb_dim, norm_groups, dropout)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(widths))):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level + 1):
                blocks.append(_ResBlock(previous + skips.pop(), widths[level], emb_dim, norm_groups, dropout))
                previous = widths[level]
            self.up.append(blocks)
            if level > 0:
                self.upsample.append(_Upsample(previous))
        out = channels * patch_size**2
        self.head = nn.Sequential(_norm(norm_groups, previous), nn.SiLU(),
                                  nn.Conv2d(previous, out, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)  # predict zeros at first
        nn.init.zeros_(self.head[-1].bias)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    @property
    def null_label(self) -> int:
        """The label of the null class (the unconditional prediction): ``num_classes``."""
        return self.num_classes

    @property
    def size_multiple(self) -> int:
        """Image height and width must be multiples of this (28 and 32 are, with two levels)."""
        return self.patch_size * 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Return the network's output for images ``x`` at times ``t``.

        Args:
            x: ``N×C×H×W`` images (any scale; the model decides).
            t: ``N`` times in ``[0, 1]``, or one time for all; ``N×2`` (or two for all) for a
                network of two ``time_inputs``.
            labels: ``N`` class labels in ``[0, num_classes]`` (``num_classes`` is the null
                class); ``None`` is the null class for all. Ignored by an unconditional network.

        Raises:
            ValueError: ``x`` has the wrong number of channels or a size that is not a multiple
                of :attr:`size_multiple`.
        """
        n, c, h, w = x.shape
        if c != self.channels or h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"the UNet takes {self.channels}-channel images with height and width "
                             f"multiples of {self.size_multiple}, got {c}×{h}×{w}")
        t = torch.as_tensor(t, device=x.device).reshape(-1, self.time_inputs).expand(n, -1)
        emb = self.time(torch.cat([timestep_embedding(t[:, i], self.time_width, scale=self.time_scale)
                                   for i in range(self.time_inputs)], dim=1).to(x.dtype))
        if self.classes is not None:
            if labels is None:
                labels = torch.full((n,), self.null_label, device=x.device, dtype=torch.long)
            emb = emb + self.classes(labels)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.stem(x)
        skips = [h]
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, emb)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        h = self.middle(h, emb)
        for level, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if level < len(self.upsample):
                h = self.upsample[level](h)
        h = self.head(h)
        return F.pixel_shuffle(h, self.patch_size) if self.patch_size > 1 else h
