"""Conditional flow matching on a UNet velocity field, for 28×28 and 32×32 images.

Training draws a time ``t`` and Gaussian noise per image, puts the image on the straight path
from the noise (:func:`~genzoo.nn.path.interpolate`) and regresses the path's
velocity with a :class:`genzoo.nn.UNet`. Sampling integrates the learned field from noise
(``t = 0``) to data (``t = 1``) with an ODE solver (:mod:`genzoo_flow_matching.solvers`) in
``sample_steps`` steps. With ``num_classes`` the field is class-conditional and is sampled with
classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from genzoo.plugin import (
    MAX_SAMPLING_STEPS, Batch, GenerativeModel, StepContext, UNetOptions, UNetSampling, adam,
    class_labels, generate_in_chunks, guided, interpolate, sample_times, sampling_option,
)

from .solvers import SOLVERS, integrate, time_grid

__all__ = ["FlowMatchingConfig", "FlowMatching"]

Sampler = Literal["euler", "midpoint", "heun"]


@dataclass(frozen=True)
class FlowMatchingConfig(UNetOptions):
    """The flow-matching model's options.

    The UNet and class-conditioning options (``image_shape``, ``base_width``,
    ``channel_mults``, ``blocks_per_level``, ``patch_size``, ``dropout``, ``num_classes``,
    ``label_dropout``) come first, from :class:`~genzoo.nn.UNetOptions`; the flow-matching
    ones follow.

    Attributes:
        time_sampling: ``"uniform"`` or ``"logit-normal"`` training times.
        sampler: The ODE solver: ``"euler"`` (one velocity per step), ``"midpoint"`` or
            ``"heun"`` (two per step, second order).
        sample_steps: Solver steps when sampling (``steps=`` of ``sample`` and
            :meth:`FlowMatching.generate` overrides it).
        time_shift: Above 1 spends more sampling steps near the noise end (1: even steps).
        guidance: Classifier-free guidance scale when sampling a conditional model (1: none).
        lr: Adam's learning rate.

    The sampling options (``sampler``, ``sample_steps``, ``guidance`` and the like) may change
    after training: ``genzoo.load(path, guidance=3.0)``, ``genzoo sample CKPT --set ...``.
    """

    time_sampling: Literal["uniform", "logit-normal"] = "logit-normal"
    sampler: Sampler = sampling_option("heun")
    sample_steps: int = sampling_option(10, minimum=1, maximum=MAX_SAMPLING_STEPS)
    time_shift: float = sampling_option(1.0, maximum=100.0)
    guidance: float = sampling_option(1.0, minimum=0.0, maximum=100.0)
    lr: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sample_steps < 1 or self.time_shift <= 0 or self.guidance < 0 or self.lr <= 0:
            raise ValueError("sample_steps must be at least 1; time_shift and lr positive; "
                             "guidance 0 or more")


class FlowMatching(UNetSampling, GenerativeModel):
    """Flow matching: a :class:`~genzoo.Generator` and :class:`~genzoo.Trainer`.

    Images in ``[0, 1]`` are scaled to ``[-1, 1]``. The latent of
    :meth:`~genzoo.nn.UNetSampling.sample_latent` is the start noise; :meth:`generate`
    integrates it deterministically, so the same noise, labels and options always give the same
    images.

    Args:
        config: A :class:`FlowMatchingConfig`; or pass its fields as keyword arguments.

    Example::

        model = genzoo.build("flow-matching", num_classes=10)
        model.fit(loader, epochs=5)
        sevens = model.sample(16, labels=7, guidance=2.0, steps=8)
    """

    Config = FlowMatchingConfig
    config: FlowMatchingConfig

    def __init__(self, config: FlowMatchingConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.net = cfg.build_unet()

    # -- training -------------------------------------------------------------------------

    def loss(self, images: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
             labels: torch.Tensor | None = None) -> torch.Tensor:
        """The velocity regression loss for ``images`` in ``[0, 1]`` at times ``t``: the
        network at the path's point ``interpolate(x, noise, t)`` against the path's velocity
        ``x - noise`` (the same at every time)."""
        x = images * 2 - 1
        predicted = self.net(interpolate(x, noise, t), t, labels)
        return F.mse_loss(predicted.float(), (x - noise).float())

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"flow": adam(self.parameters(), self.config.lr)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        cfg = self.config
        images = batch.images
        labels = cfg.training_labels(batch, "flow-matching")
        t = sample_times(images.shape[0], cfg.time_sampling, images.device)
        noise = torch.randn_like(images, dtype=torch.float32)
        loss = self.loss(images, t, noise, labels)
        step.optimize(loss, "flow")
        return {"loss": loss.detach()}

    # -- sampling -------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, *,
                 steps: int | None = None, guidance: float | None = None,
                 sampler: Sampler | None = None, chunk: int | None = None) -> torch.Tensor:
        """Integrate the velocity field from the noise ``z`` (on the model's device) to images
        in ``[0, 1]``.

        Its keyword arguments are the options of ``sample``
        (``model.sample(16, labels=7, guidance=2.0, steps=8)``).

        Args:
            z: ``N×C×H×W`` start noise.
            labels: ``N`` classes of a conditional model; ``None``: the classes in turn.
            steps: Solver steps (default: the config's ``sample_steps``); fewer is faster.
            guidance: Classifier-free guidance scale (default: the config's ``guidance``).
            sampler: ``"euler"``, ``"midpoint"`` or ``"heun"`` (default: the config's).
            chunk: Images integrated at a time (the same images, less memory; see
                :func:`genzoo.sampling.generate_in_chunks`); default: 100 on a CPU, where that
                is fastest, all at once elsewhere.

        Raises:
            ValueError: an unknown sampler, fewer than one step, a negative guidance, ``chunk``
                not positive, or labels for an unconditional model.
        """
        cfg = self.config
        steps = cfg.sample_steps if steps is None else int(steps)
        guidance = cfg.guidance if guidance is None else float(guidance)
        sampler = sampler or cfg.sampler
        if sampler not in SOLVERS:
            raise ValueError(f"unknown sampler {sampler!r}; use one of {', '.join(SOLVERS)}")
        if guidance < 0:
            raise ValueError(f"guidance must be 0 or more, got {guidance}")
        labels = class_labels(labels, z.shape[0], cfg.num_classes, z.device)
        return generate_in_chunks(self._integrate, z, labels, chunk=chunk, steps=steps,
                                  guidance=guidance, sampler=sampler)

    def _integrate(self, z: torch.Tensor, labels: torch.Tensor | None, *, steps: int,
                   guidance: float, sampler: Sampler) -> torch.Tensor:
        """The ODE solver's ``steps`` steps for one chunk of images."""

        def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
            times = torch.full((x.shape[0],), t, device=x.device)
            return guided(self.net, x, times, labels, guidance).float()

        grid = time_grid(steps, self.config.time_shift)
        return (integrate(SOLVERS[sampler](), velocity, z.float(), grid) + 1) / 2
