"""Invertible layers of a normalizing flow, each with its log-determinant.

Every layer maps ``x`` to ``y`` with ``forward(x) -> (y, logdet)``, where ``logdet`` is the
``N`` per-image log-absolute-determinant of the Jacobian ``dy/dx``, and back with
``inverse(y) -> x``.

* :class:`ActNorm`: a per-channel affine map, initialised from the first training batch so
  its output has zero mean and unit variance per channel (Glow).
* :class:`InvertibleConv1x1`: a learned channel mixing ``W``, LU-decomposed so that
  ``log |det W|`` costs ``O(C)`` (Glow).
* :class:`Reverse`: the fixed channel reversal between RealNVP's couplings.
* :class:`AffineCoupling`: half the channels scaled and shifted by a small CNN of the other
  half; the CNN's last layer starts at zero, so the coupling starts as the identity.
* :func:`squeeze` / :func:`unsqueeze`: ``C×H×W ↔ 4C×H/2×W/2`` (volume-preserving).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from einops import rearrange
from torch import nn

__all__ = ["ActNorm", "InvertibleConv1x1", "Reverse", "AffineCoupling", "FlowStep", "squeeze",
           "unsqueeze"]


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """``N×C×H×W → N×4C×H/2×W/2``: each 2×2 patch becomes four channels."""
    return rearrange(x, "n c (h a) (w b) -> n (c a b) h w", a=2, b=2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`squeeze`."""
    return rearrange(x, "n (c a b) h w -> n c (h a) (w b)", a=2, b=2)


def _pixels(x: torch.Tensor) -> int:
    return x.shape[2] * x.shape[3]


class ActNorm(nn.Module):
    """``y = (x + loc) · exp(log_scale)`` per channel, data-initialised on the first training
    batch (averaged over processes under distributed training); the identity until then.

    Args:
        channels: The number of channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _initialize(self, x: torch.Tensor) -> None:
        moments = torch.stack([x.mean((0, 2, 3)), x.pow(2).mean((0, 2, 3))]).float()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(moments)
            moments /= dist.get_world_size()
        mean, square = moments
        std = (square - mean.pow(2)).clamp_min(0).sqrt()
        self.loc.copy_(-mean.view_as(self.loc))
        self.log_scale.copy_(-torch.log(std + 1e-6).view_as(self.log_scale))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            self._initialize(x)
        y = (x + self.loc) * self.log_scale.exp()
        return y, (self.log_scale.sum() * _pixels(x)).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.log_scale) - self.loc


class InvertibleConv1x1(nn.Module):
    """A learned invertible 1×1 convolution ``W = P · L · (U + diag(sign · exp(log_s)))``.

    ``P`` is a fixed permutation, ``L`` unit lower-triangular and ``U`` strictly upper-
    triangular, so ``log |det W| = Σ log_s``. It starts as a random rotation (``logdet`` 0).

    Args:
        channels: The number of channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        rotation = torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(rotation)
        diagonal = torch.diagonal(upper)
        self.register_buffer("permutation", p)
        self.register_buffer("sign", torch.sign(diagonal))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(diagonal.abs()))

    def weight(self) -> torch.Tensor:
        """The ``C×C`` matrix ``W``."""
        eye = torch.eye(self.lower.shape[0], device=self.lower.device, dtype=self.lower.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign * self.log_s.exp())
        return self.permutation @ lower @ upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.einsum("ij,njhw->nihw", self.weight(), x)
        return y, (self.log_s.sum() * _pixels(x)).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        inverse = torch.linalg.inv(self.weight().double()).to(y.dtype)
        return torch.einsum("ij,njhw->nihw", inverse, y)


class Reverse(nn.Module):
    """Reverses the order of the channels (RealNVP's alternation of the coupled halves)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.flip(1), x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y.flip(1)


class AffineCoupling(nn.Module):
    """``y_b = x_b · exp(s) + t`` with ``(s, t) = CNN(x_a)``, ``y_a = x_a``.

    ``s = 2·tanh(raw / 2)`` keeps each scale in ``(e⁻², e²)`` (a soft clamp that keeps training
    stable); the CNN is conv3×3 → ReLU → conv1×1 → ReLU → conv3×3, its last layer zero, so the
    coupling starts as the identity.

    Args:
        channels: The number of channels (even); the first half conditions the second.
        hidden: The CNN's width.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        half = channels // 2
        last = nn.Conv2d(hidden, 2 * (channels - half), 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(nn.Conv2d(half, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)
        self.half = half

    def _scale_shift(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw, shift = self.net(a).chunk(2, 1)
        return 2 * torch.tanh(raw / 2), shift

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = x[:, :self.half], x[:, self.half:]
        log_scale, shift = self._scale_shift(a)
        y = torch.cat([a, b * log_scale.exp() + shift], 1)
        return y, log_scale.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        a, b = y[:, :self.half], y[:, self.half:]
        log_scale, shift = self._scale_shift(a)
        return torch.cat([a, (b - shift) * torch.exp(-log_scale)], 1)


class FlowStep(nn.Module):
    """One step of flow: actnorm, then a channel mixing (1×1 conv or reversal), then a coupling.

    Args:
        channels: The number of channels.
        hidden: The coupling CNN's width.
        mixing: ``"invconv"`` (Glow) or ``"reverse"`` (RealNVP).
    """

    def __init__(self, channels: int, hidden: int, mixing: str) -> None:
        super().__init__()
        self.layers = nn.ModuleList([
            ActNorm(channels),
            InvertibleConv1x1(channels) if mixing == "invconv" else Reverse(),
            AffineCoupling(channels, hidden),
        ])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        total = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y
