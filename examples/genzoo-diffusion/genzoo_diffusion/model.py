"""A small denoising-diffusion probabilistic model (DDPM) for 28×28 and 32×32 images.

The network is a compact convolutional UNet (residual blocks with a sinusoidal time embedding,
one downsampling per extra resolution, skip connections) that predicts the noise ``eps`` added
to an image. Training draws a random timestep and noise per image and regresses the noise
(:func:`~genzoo_diffusion.losses.noise_prediction_loss`). Sampling starts from Gaussian noise
``x_T`` and denoises in ``sample_steps`` strided steps, either deterministically (DDIM, eta=0)
or ancestrally (DDPM posterior noise at every step).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from genzoo.model import GenerativeModel, eval_mode
from genzoo.optim import adam
from genzoo.protocols import Batch, StepContext

from .losses import noise_prediction_loss

__all__ = ["DiffusionConfig", "Diffusion", "UNet", "beta_schedule"]


@dataclass(frozen=True)
class DiffusionConfig:
    """The diffusion model's options.

    Attributes:
        image_shape: ``(channels, height, width)``; height and width must be divisible by
            ``2 ** (len(channel_mults) - 1)`` (28×28 and 32×32 work with the defaults).
        base_width: Channels of the UNet's first resolution.
        channel_mults: Width multiplier per resolution (its length is the number of resolutions).
        blocks_per_level: Residual blocks per resolution on the way down.
        norm_groups: Group-norm groups (reduced to a divisor of each layer's width).
        timesteps: Diffusion steps ``T`` the model is trained on.
        schedule: ``"cosine"`` (Nichol & Dhariwal) or ``"linear"`` (Ho et al.) noise schedule.
        sample_steps: Denoising steps when sampling (strided over the ``T`` training steps).
        sampler: ``"ddim"``: deterministic given ``x_T``; ``"ddpm"``: ancestral, fresh noise
            at every step (drawn from the sampling generator, never from the global one).
        clip_denoised: Clip the predicted clean image to ``[-1, 1]`` at every sampling step.
        lr: Adam's learning rate.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    base_width: int = 32
    channel_mults: tuple[int, ...] = (1, 2)
    blocks_per_level: int = 1
    norm_groups: int = 8
    timesteps: int = 1000
    schedule: Literal["cosine", "linear"] = "cosine"
    sample_steps: int = 50
    sampler: Literal["ddpm", "ddim"] = "ddim"
    clip_denoised: bool = True
    lr: float = 2e-4

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (channels, height, width), got {self.image_shape}")
        if not self.channel_mults or min(self.channel_mults) < 1:
            raise ValueError(f"channel_mults must be positive and non-empty, got {self.channel_mults}")
        factor = 2 ** (len(self.channel_mults) - 1)
        _, h, w = self.image_shape
        if h % factor or w % factor:
            raise ValueError(
                f"image height and width must be divisible by {factor} for "
                f"{len(self.channel_mults)} resolutions, got {h}x{w}"
            )
        if self.base_width < 2 or self.blocks_per_level < 1 or self.norm_groups < 1:
            raise ValueError("base_width must be at least 2; blocks_per_level and norm_groups at least 1")
        if self.timesteps < 1:
            raise ValueError(f"timesteps must be positive, got {self.timesteps}")
        if not 1 <= self.sample_steps <= self.timesteps:
            raise ValueError(
                f"sample_steps must be between 1 and timesteps ({self.timesteps}), got {self.sample_steps}"
            )
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


# -- the noise schedule ---------------------------------------------------------------------


def beta_schedule(kind: str, timesteps: int) -> torch.Tensor:
    """The ``timesteps`` noise variances ``beta_t`` (float64), clipped to at most 0.999.

    ``"linear"`` spaces them from 1e-4 to 0.02 (scaled by ``1000 / timesteps`` so that a shorter
    chain destroys the signal as fully); ``"cosine"`` makes ``alpha_bar_t`` follow a squared
    cosine with offset ``s = 0.008``.
    """
    if kind == "linear":
        scale = 1000 / timesteps
        betas = torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)
    elif kind == "cosine":
        s = 0.008
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
    else:
        raise ValueError(f"unknown schedule {kind!r}; use 'cosine' or 'linear'")
    return betas.clamp(0.0, 0.999)


# -- the network ----------------------------------------------------------------------------


def _norm(groups: int, channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class TimeEmbedding(nn.Module):
    """Sinusoidal features of the timestep, then a two-layer MLP."""

    def __init__(self, width: int, dim: int, timesteps: int) -> None:
        super().__init__()
        half = width // 2
        freqs = torch.exp(-math.log(10_000) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.scale = 1000 / timesteps  # the same frequencies whatever the chain's length
        self.mlp = nn.Sequential(nn.Linear(2 * half, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = rearrange(t.float() * self.scale, "n -> n 1") * rearrange(self.freqs, "f -> 1 f")
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=1))


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus the time embedding, twice; with a (1×1) skip path."""

    def __init__(self, cin: int, cout: int, time_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = _norm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(time_dim, cout)
        self.norm2 = _norm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as (nearly) the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + rearrange(self.time(F.silu(temb)), "n c -> n c 1 1")
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class Upsample(nn.Module):
    """Nearest-neighbour ×2, then a 3×3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """A compact UNet without attention: ``eps_theta(x_t, t)`` with the shape of ``x_t``.

    Args:
        channels: Image channels.
        base_width: Channels at full resolution.
        channel_mults: Width multiplier per resolution; each extra one halves the size.
        blocks_per_level: Residual blocks per resolution going down (one more going up).
        groups: Group-norm groups.
        timesteps: Length of the diffusion chain (scales the time embedding).
    """

    def __init__(self, channels: int, base_width: int, channel_mults: tuple[int, ...],
                 blocks_per_level: int, groups: int, timesteps: int) -> None:
        super().__init__()
        time_dim = 4 * base_width
        self.time = TimeEmbedding(base_width, time_dim, timesteps)
        self.stem = nn.Conv2d(channels, base_width, 3, padding=1)
        widths = [base_width * m for m in channel_mults]
        skips = [base_width]
        previous = base_width
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for level, width in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(ResBlock(previous, width, time_dim, groups))
                previous = width
                skips.append(width)
            self.down.append(blocks)
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(previous, previous, 3, stride=2, padding=1))
                skips.append(previous)
        self.middle = ResBlock(previous, previous, time_dim, groups)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(widths))):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level + 1):
                blocks.append(ResBlock(previous + skips.pop(), widths[level], time_dim, groups))
                previous = widths[level]
            self.up.append(blocks)
            if level > 0:
                self.upsample.append(Upsample(previous))
        self.head = nn.Sequential(_norm(groups, previous), nn.SiLU(),
                                  nn.Conv2d(previous, channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)  # predict zero noise at first: the loss starts at 1
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time(t)
        h = self.stem(x)
        skips = [h]
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, temb)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        h = self.middle(h, temb)
        for level, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), temb)
            if level < len(self.upsample):
                h = self.upsample[level](h)
        return self.head(h)


# -- the model ------------------------------------------------------------------------------


class Diffusion(GenerativeModel):
    """A DDPM with epsilon prediction: a :class:`~genzoo.Generator` and :class:`~genzoo.Trainer`.

    Images in ``[0, 1]`` are scaled to ``[-1, 1]``. A training step noises each image to a
    random timestep ``t``, ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``, and
    regresses ``eps``. Sampling denoises ``x_T ~ N(0, I)`` in ``sample_steps`` steps.

    The latent of :meth:`sample_latent` is ``x_T`` itself. With ``sampler="ddpm"`` each step
    also adds noise; :meth:`sample` draws it from the same CPU generator as ``x_T`` (so a
    ``seed`` repeats the images), and :meth:`generate` from a generator seeded by a hash of
    ``z`` (so the same ``z`` gives the same images). Neither touches torch's global random state.

    Args:
        config: A :class:`DiffusionConfig`; or pass its fields as keyword arguments.
    """

    Config = DiffusionConfig
    config: DiffusionConfig

    def __init__(self, config: DiffusionConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.net = UNet(cfg.image_shape[0], cfg.base_width, cfg.channel_mults,
                        cfg.blocks_per_level, cfg.norm_groups, cfg.timesteps)
        alpha_bar = torch.cumprod(1 - beta_schedule(cfg.schedule, cfg.timesteps), dim=0)
        # Derived from the config, so kept out of the state dict (persistent=False).
        self.register_buffer("alpha_bar", alpha_bar.float(), persistent=False)
        self._alpha_bar = alpha_bar.tolist()  # float64 coefficients for sampling

    # -- training -------------------------------------------------------------------------

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_t`` for clean images ``x0`` in ``[-1, 1]``, timesteps ``t`` and noise ``eps``."""
        alpha_bar = rearrange(self.alpha_bar[t], "n -> n 1 1 1")
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise

    def loss(self, images: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The noise-prediction loss for ``images`` in ``[0, 1]`` at timesteps ``t``."""
        x_t = self.add_noise(images * 2 - 1, t, noise)
        return noise_prediction_loss(self.net(x_t, t), noise)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"diffusion": adam(self.parameters(), self.config.lr)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        images = batch.images
        t = torch.randint(0, self.config.timesteps, (images.shape[0],), device=images.device)
        noise = torch.randn_like(images, dtype=torch.float32)
        loss = self.loss(images, t, noise)
        step.optimize(loss, "diffusion")
        return {"loss": loss.detach()}

    # -- sampling -------------------------------------------------------------------------

    def sampling_timesteps(self) -> list[int]:
        """The training timesteps visited when sampling, from ``T - 1`` down to 0."""
        cfg = self.config
        steps = torch.linspace(cfg.timesteps - 1, 0, cfg.sample_steps, dtype=torch.float64)
        return sorted({int(s) for s in steps.round().tolist()}, reverse=True)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x_T``: ``n`` images of standard Gaussian noise, drawn on the CPU."""
        return torch.randn(n, *self.image_shape, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Denoise ``x_T = z`` into images in ``[0, 1]`` (DDPM noise seeded from ``z``)."""
        if labels is not None:
            raise ValueError("the diffusion model is not class-conditional; sample without labels")
        return self.denoise(z)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, generator: torch.Generator | None = None,
               labels: torch.Tensor | int | None = None) -> torch.Tensor:
        """Return ``n`` new images, ``n×C×H×W`` floats in ``[0, 1]`` on the model's device.

        ``x_T`` and, for the DDPM sampler, every step's noise come from one CPU generator:
        ``generator``, or a fresh one seeded with ``seed``. With neither, ``x_T`` comes from
        torch's global random state, like the other genzoo models' latents.
        """
        if n < 1:
            raise ValueError(f"n must be a positive number of images, got {n}")
        if labels is not None:
            raise ValueError("the diffusion model is not class-conditional; sample without labels")
        if seed is not None:
            generator = torch.Generator().manual_seed(seed)
        with eval_mode(self):
            z = self.sample_latent(n, generator=generator).to(self.device)
            return self.denoise(z, generator=generator).float().clamp_(0, 1)

    @torch.no_grad()
    def denoise(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Run the reverse process from ``x = x_T`` (on the model's device) to images in ``[0, 1]``.

        Each step predicts ``eps``, then the clean image ``x_0`` (clipped to ``[-1, 1]`` when
        ``clip_denoised``), and moves to the previous visited timestep along the DDIM update;
        the DDPM sampler adds noise with the posterior's standard deviation (DDIM with eta=1).

        Args:
            x: ``N×C×H×W`` Gaussian noise.
            generator: A CPU generator for the DDPM sampler's noise; ``None``: one seeded by a
                hash of ``x``.
        """
        cfg = self.config
        stochastic = cfg.sampler == "ddpm"
        if stochastic and generator is None:
            generator = torch.Generator().manual_seed(_seed_of(x))
        x = x.float()
        timesteps = self.sampling_timesteps()
        for index, t in enumerate(timesteps):
            t_prev = timesteps[index + 1] if index + 1 < len(timesteps) else -1
            alpha_bar = self._alpha_bar[t]
            alpha_bar_prev = self._alpha_bar[t_prev] if t_prev >= 0 else 1.0
            eps = self.net(x, torch.full((x.shape[0],), t, device=x.device)).float()
            x0 = (x - math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha_bar)
            if cfg.clip_denoised:
                x0 = x0.clamp(-1, 1)
                eps = (x - math.sqrt(alpha_bar) * x0) / math.sqrt(1 - alpha_bar)
            sigma = 0.0
            if stochastic and t_prev >= 0:
                sigma = math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar)
                                  * (1 - alpha_bar / alpha_bar_prev))
            x = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0)) * eps
            if sigma > 0:
                noise = torch.randn(x.shape, generator=generator).to(x.device)
                x = x + sigma * noise
        return (x + 1) / 2


def _seed_of(x: torch.Tensor) -> int:
    """A 63-bit seed from the bytes of ``x``: the same tensor gives the same seed on any device."""
    data = x.detach().float().cpu().contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1
