"""What the MLP GAN and the DCGAN share: the adversarial step, the loss families, the generator's
weight EMA and class conditioning.

A subclass builds ``self.generator`` and ``self.discriminator`` and says how images enter the
discriminator and leave the generator (:meth:`AdversarialModel._real_input`,
:meth:`~AdversarialModel._to_images`, :meth:`~AdversarialModel._features` and
:meth:`~AdversarialModel._head`); its config has the fields checked by :func:`check_options`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from genzoo.plugin import (
    Batch, GenerativeModel, StepContext, adam, batch_labels, cycle_labels, ema_decay,
    lerp_towards, one_hot,
)

from .losses import LOSSES, d_loss_fn, g_loss_fn, gradient_penalty

__all__ = ["AdversarialModel", "check_options"]


def check_options(cfg: Any) -> None:
    """Validate the option fields every genzoo GAN config has (raise ``ValueError``)."""
    if cfg.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {cfg.loss!r}")
    if cfg.gp_weight < 0:
        raise ValueError(f"gp_weight must not be negative, got {cfg.gp_weight}")
    if cfg.d_steps < 1:
        raise ValueError(f"d_steps must be at least 1, got {cfg.d_steps}")
    if not 0.0 <= cfg.ema < 1.0:
        raise ValueError(f"ema must be in [0, 1) (0 turns it off), got {cfg.ema}")
    if cfg.num_classes < 0 or cfg.num_classes == 1:
        raise ValueError("num_classes must be 0 (unconditional) or at least 2, "
                         f"got {cfg.num_classes}")


class AdversarialModel(GenerativeModel):
    """A GAN trained through the runner with the options of its config:

    * ``loss``: ``"bce"`` (non-saturating), ``"hinge"`` or ``"wgan-gp"`` (plus ``gp_weight``
      times the per-example gradient penalty);
    * ``d_steps``: discriminator steps per generator step (the generator steps on every
      ``d_steps``-th batch; every batch steps the discriminator);
    * ``ema``: when positive, ``ema_generator`` is an exponential moving average of the
      generator's weights, updated after each generator step and used by :meth:`generate`; it
      is part of the ``state_dict``, so checkpoints and resumed runs keep it exactly. Its
      batch-norm statistics are its own (see :meth:`update_ema`);
    * ``num_classes``: when positive, the generator sees a one-hot label beside ``z`` and the
      discriminator is a projection discriminator (``head(h) + <embed(y), h>``); batches must
      carry labels.
    """

    generator: nn.Module
    discriminator: nn.Module

    def _init_options(self, features: int) -> None:
        """Call at the end of ``__init__``: adds the label projection (``features``: the size
        of the discriminator's last hidden layer) and the EMA generator, as configured."""
        cfg = self.config
        if cfg.num_classes:
            self.label_projection = nn.Embedding(cfg.num_classes, features)
            nn.init.xavier_uniform_(self.label_projection.weight)
        if cfg.ema > 0:
            self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False).eval()

    # -- what a subclass provides ---------------------------------------------------------------

    def _real_input(self, images: torch.Tensor) -> torch.Tensor:
        """Real images in ``[0, 1]`` → the discriminator's input (scaled to ``[-1, 1]``)."""
        raise NotImplementedError

    def _to_images(self, out: torch.Tensor) -> torch.Tensor:
        """The generator's output → ``N×C×H×W`` images in ``[0, 1]``."""
        raise NotImplementedError

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator up to its last hidden layer: ``N×features``."""
        raise NotImplementedError

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        """The discriminator's last layer: features → ``N×1`` logits."""
        raise NotImplementedError

    # -- networks with the options --------------------------------------------------------------

    @property
    def uses_ema(self) -> bool:
        """Whether :meth:`generate` decodes with the EMA generator."""
        return self.config.ema > 0

    def _generator_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.config.num_classes:
            return z
        return torch.cat([z, one_hot(labels, self.config.num_classes, z.dtype)], dim=1)

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's logits (``N×1``) for inputs ``x`` in its own layout and scale."""
        if not self.config.num_classes:
            return self.discriminator(x)
        h = self._features(x)
        projection = (self.label_projection(labels) * h).sum(dim=1, keepdim=True)
        return self._head(h) + projection

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode ``z`` to images in ``[0, 1]``, with the EMA generator when ``ema > 0``.

        Class-conditional models take ``labels`` (``N`` classes, or ``N×num_classes`` soft
        labels); without them image ``i`` shows class ``i mod num_classes``, so every class
        appears equally often (see :func:`genzoo.labels.cycle_labels`).
        """
        classes = self.config.num_classes
        if not classes and labels is not None:
            raise ValueError(f"{type(self).__name__} is not class-conditional; "
                             "generate without labels")
        if classes and labels is None:
            labels = cycle_labels(z.shape[0], classes, z.device)
        net = self.ema_generator if self.uses_ema else self.generator
        return self._to_images(net(self._generator_input(z, labels)))

    def train(self, mode: bool = True) -> AdversarialModel:
        super().train(mode)
        if self.uses_ema:
            self.ema_generator.eval()  # an average of weights only ever runs in inference mode
        return self

    def generator_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters the ``"generator"`` optimizer steps."""
        return self.generator.parameters()

    def discriminator_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters the ``"discriminator"`` optimizer steps (the label projection too)."""
        if self.config.num_classes:
            return itertools.chain(self.discriminator.parameters(),
                                   self.label_projection.parameters())
        return self.discriminator.parameters()

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, generator=generator)

    # -- training -------------------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        cfg = self.config
        return {
            "discriminator": adam(self.discriminator_parameters(), cfg.lr, cfg.betas),
            "generator": adam(self.generator_parameters(), cfg.lr, cfg.betas),
        }

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        cfg = self.config
        real = self._real_input(batch.images)
        labels = None
        if cfg.num_classes:
            name = f"model {self.registry_name or type(self).__name__!r}"
            labels = batch_labels(batch, cfg.num_classes, name)
        n = real.shape[0]
        z = torch.randn(n, cfg.latent_dim, device=real.device)
        update_generator = (step.index + 1) % cfg.d_steps == 0
        inputs = self._generator_input(z, labels)
        with torch.set_grad_enabled(update_generator):  # no generator graph on critic-only steps
            fake = self.generator(inputs)

        # the discriminator on real and generated images (the fakes' labels are the real ones)
        pair_labels = None if labels is None else torch.cat([labels, labels])
        logits = self.critic(torch.cat([real, fake.detach()]), pair_labels)
        d_loss = d_loss_fn(cfg.loss)(logits[:n], logits[n:])
        metrics = {}
        if cfg.loss == "wgan-gp":
            penalty = gradient_penalty(lambda x: self.critic(x, labels), real, fake)
            metrics["gp"] = penalty.detach()
            d_loss = d_loss + cfg.gp_weight * penalty
        step.optimize(d_loss, "discriminator")

        # the generator through the updated discriminator
        g_loss_of = g_loss_fn(cfg.loss)
        if update_generator:
            g_loss = g_loss_of(self.critic(fake, labels))
            step.optimize(g_loss, "generator")
            if self.uses_ema:
                self.update_ema(step.index, inputs)
        else:  # a critic-only step reports the generator loss before the critic's update
            g_loss = g_loss_of(logits[n:].detach())
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **metrics}

    @torch.no_grad()
    def update_ema(self, index: int, inputs: torch.Tensor | None = None) -> None:
        """Move the EMA generator towards the generator: ``ema ← ema + (1 - decay)·(g - ema)``
        with ``decay = min(ema, (1 + index) / (10 + index))`` (a warm-up, so that a short run's
        average is not dominated by the initial weights): the runner's weight EMA update
        (:func:`genzoo.runner.optimization.lerp_towards`, :func:`genzoo.runner.optimization.ema_decay`), applied
        to the generator alone.

        Batch-norm statistics: the raw generator's running statistics describe the raw
        weights' activations, not the average's (copying them made MNIST FID markedly worse),
        so with ``inputs`` (the step's generator input) the EMA generator runs once on them in
        training mode, without gradients, to update its own running statistics. A generator
        without batch norm skips that pass.
        """
        lerp_towards(list(self.ema_generator.parameters()), self.generator.parameters(),
                     ema_decay(self.config.ema, index))
        if inputs is not None and self._ema_has_batch_norm():
            self.ema_generator.train()
            try:
                self.ema_generator(inputs.detach())
            finally:
                self.ema_generator.eval()

    def _ema_has_batch_norm(self) -> bool:
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                   for m in self.ema_generator.modules())
