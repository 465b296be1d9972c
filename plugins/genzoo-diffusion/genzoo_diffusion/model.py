"""Denoising diffusion (DDPM) on a UNet, for 28×28 and 32×32 images.

The network (:class:`genzoo.nn.UNet`) predicts the noise ``eps`` or the velocity ``v`` of a
noised image. Training noises each image to a random timestep with the schedule's
:meth:`~genzoo_diffusion.schedule.NoiseSchedule.add_noise` and regresses the target. Sampling
starts from Gaussian noise and takes ``sample_steps`` strided steps with a sampler
(:mod:`genzoo_diffusion.samplers`): deterministic DDIM or ancestral DDPM. With ``num_classes``
the model is class-conditional and is sampled with classifier-free guidance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from genzoo.plugin import (
    MAX_SAMPLING_STEPS, Batch, GenerativeModel, StepContext, UNetOptions, UNetSampling, adam,
    class_labels, generate_in_chunks, guided, sampling_option, sampling_progress,
)

from .samplers import SAMPLERS, sampling_timesteps
from .schedule import NoiseSchedule, Prediction

__all__ = ["DiffusionConfig", "Diffusion"]

SamplerName = Literal["ddim", "ddpm"]


@dataclass(frozen=True)
class DiffusionConfig(UNetOptions):
    """The diffusion model's options.

    The UNet and class-conditioning options (``image_shape``, ``base_width``,
    ``channel_mults``, ``blocks_per_level``, ``patch_size``, ``dropout``, ``num_classes``,
    ``label_dropout``) come first, from :class:`~genzoo.nn.UNetOptions`; the diffusion ones
    follow.

    Attributes:
        timesteps: Diffusion steps ``T`` the model is trained on.
        schedule: ``"cosine"`` (Nichol & Dhariwal) or ``"linear"`` (Ho et al.) noise schedule.
        prediction: What the network predicts: ``"epsilon"`` (the noise) or ``"v"`` (the
            velocity ``sqrt(ab) eps - sqrt(1 - ab) x0``, better behaved at few steps).
        sampler: ``"ddim"`` (deterministic given the start noise) or ``"ddpm"`` (ancestral).
        sample_steps: Denoising steps when sampling, strided over the ``T`` training steps
            (``steps=`` of ``sample`` and :meth:`Diffusion.generate` overrides it).
        guidance: Classifier-free guidance scale when sampling a conditional model (1: none).
        clip_denoised: Clip each predicted clean image to the data range while sampling.
        lr: Adam's learning rate.

    The sampling options (``sampler``, ``sample_steps``, ``guidance`` and the like) may change
    after training: ``genzoo.load(path, guidance=3.0)``, ``genzoo sample CKPT --set ...``.
    """

    timesteps: int = 1000
    schedule: Literal["cosine", "linear"] = "cosine"
    prediction: Prediction = "v"
    sampler: SamplerName = sampling_option("ddim")
    sample_steps: int = sampling_option(20, minimum=1, maximum=MAX_SAMPLING_STEPS)
    guidance: float = sampling_option(1.0, minimum=0.0, maximum=100.0)
    clip_denoised: bool = sampling_option(True)
    lr: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.timesteps < 1:
            raise ValueError(f"timesteps must be positive, got {self.timesteps}")
        if not 1 <= self.sample_steps <= self.timesteps:
            raise ValueError(f"sample_steps must be between 1 and timesteps ({self.timesteps}), "
                             f"got {self.sample_steps}")
        if self.guidance < 0 or self.lr <= 0:
            raise ValueError("guidance must be 0 or more and lr positive")


class Diffusion(UNetSampling, GenerativeModel):
    """A DDPM: a :class:`~genzoo.Generator` and :class:`~genzoo.Trainer`.

    Images in ``[0, 1]`` are scaled to ``[-1, 1]``. The latent of
    :meth:`~genzoo.nn.UNetSampling.sample_latent` is the start noise ``x_T``. The DDPM sampler
    adds noise at every step: :meth:`sample` draws it from the same CPU generator as ``x_T`` (so
    a ``seed`` repeats the images), and :meth:`generate` from a generator seeded by a hash of
    ``z`` (so the same ``z`` gives the same images). Neither touches torch's global random
    state.

    Args:
        config: A :class:`DiffusionConfig`; or pass its fields as keyword arguments.

    Example::

        model = genzoo.build("ddpm", num_classes=10)
        model.fit(loader, epochs=5)
        sevens = model.sample(16, labels=7, guidance=3.0, steps=25)
    """

    Config = DiffusionConfig
    config: DiffusionConfig

    def __init__(self, config: DiffusionConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.net = cfg.build_unet()
        self.schedule = NoiseSchedule(cfg.schedule, cfg.timesteps)

    def _predict(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None,
                 guidance: float = 1.0) -> torch.Tensor:
        return guided(self.net, x, t.float() / self.config.timesteps, labels, guidance)

    # -- training -------------------------------------------------------------------------

    def loss(self, images: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
             labels: torch.Tensor | None = None) -> torch.Tensor:
        """The denoising loss for ``images`` in ``[0, 1]`` at integer timesteps ``t``."""
        cfg = self.config
        x0 = images * 2 - 1
        output = self._predict(self.schedule.add_noise(x0, noise, t), t, labels)
        return F.mse_loss(output.float(), self.schedule.target(x0, noise, t, cfg.prediction).float())

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"diffusion": adam(self.parameters(), self.config.lr)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        cfg = self.config
        images = batch.images
        labels = cfg.training_labels(batch, "ddpm")
        t = torch.randint(0, cfg.timesteps, (images.shape[0],), device=images.device)
        noise = torch.randn_like(images, dtype=torch.float32)
        loss = self.loss(images, t, noise, labels)
        step.optimize(loss, "diffusion")
        return {"loss": loss.detach()}

    # -- sampling -------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, *,
                 steps: int | None = None, guidance: float | None = None,
                 sampler: SamplerName | None = None, chunk: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Denoise ``x_T = z`` (on the model's device) into images in ``[0, 1]``.

        Each step predicts, turns the prediction into the clean image ``x0`` (clipped to
        ``[-1, 1]`` when ``clip_denoised``) and the noise, and lets the sampler step to the next
        visited timestep. Its keyword arguments are the options of ``sample``
        (``model.sample(16, labels=7, guidance=3.0, steps=25)``), which hands on its own
        generator too: the DDPM sampler draws every step's noise from the generator that drew
        ``x_T``, so a ``seed`` repeats the images.

        Args:
            z: ``N×C×H×W`` Gaussian noise.
            labels: ``N`` classes of a conditional model; ``None``: the classes in turn.
            steps: Denoising steps (default: the config's ``sample_steps``); fewer is faster.
            guidance: Classifier-free guidance scale (default: the config's ``guidance``).
            sampler: ``"ddim"`` or ``"ddpm"`` (default: the config's).
            chunk: Images denoised at a time (less memory; see
                :func:`genzoo.sampling.generate_in_chunks`); default: 100 on a CPU (no faster
                than 500 for ddpm at 28×28, measured), all at once elsewhere. The DDPM sampler
                draws each chunk's step noise in turn, so its images depend on the chunk; DDIM's
                do not.
            generator: A CPU generator for the DDPM sampler's noise; ``None``: one seeded by a
                hash of ``z``.

        Raises:
            ValueError: an unknown sampler, a step count outside ``[1, timesteps]``, a negative
                guidance, ``chunk`` not positive, or labels for an unconditional model.
        """
        cfg = self.config
        steps = cfg.sample_steps if steps is None else int(steps)
        guidance = cfg.guidance if guidance is None else float(guidance)
        sampler = sampler or cfg.sampler
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
        if guidance < 0:
            raise ValueError(f"guidance must be 0 or more, got {guidance}")
        timesteps = sampling_timesteps(cfg.timesteps, steps)
        labels = class_labels(labels, z.shape[0], cfg.num_classes, z.device)
        if generator is None and sampler == "ddpm":
            generator = torch.Generator().manual_seed(_seed_of(z))
        return generate_in_chunks(self._denoise, z, labels, chunk=chunk, timesteps=timesteps,
                                  guidance=guidance, sampler=sampler, generator=generator)

    def _denoise(self, z: torch.Tensor, labels: torch.Tensor | None, *, timesteps: list[int],
                 guidance: float, sampler: SamplerName,
                 generator: torch.Generator | None) -> torch.Tensor:
        """The sampler's loop over the visited ``timesteps`` for one chunk of images."""
        cfg = self.config
        solver = SAMPLERS[sampler]()
        x = z.float()
        for index, t in enumerate(sampling_progress(timesteps, desc=sampler)):
            t_prev = timesteps[index + 1] if index + 1 < len(timesteps) else -1
            output = self._predict(x, torch.full((x.shape[0],), t, device=x.device), labels, guidance)
            x0, eps = self.schedule.split(x, output.float(), t, cfg.prediction)
            if cfg.clip_denoised:
                x0 = x0.clamp(-1, 1)
                eps = self.schedule.noise_of(x, x0, t)
            x = solver.step(self.schedule, x, x0, eps, t, t_prev, generator)
        return (x + 1) / 2


def _seed_of(x: torch.Tensor) -> int:
    """A 63-bit seed from the bytes of ``x``: the same tensor gives the same seed on any device."""
    data = x.detach().float().cpu().contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1
