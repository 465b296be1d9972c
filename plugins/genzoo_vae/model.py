"""The seed report's MLP VAE, faithfully: 784-400 encoder, mean and log-variance heads, 20-400-784 decoder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from einops import rearrange
from torch import nn

from genzoo.plugin import (
    Batch, GenerativeModel, LogLikelihood, Posterior, StepContext, adam, batch_labels,
    cycle_labels, dequantize, eval_mode, one_hot, sampling_option,
)

from .likelihood import continuous_bernoulli_log_norm, importance_weighted_bound
from .losses import kl_divergence, reconstruction_loss

__all__ = ["VAEConfig", "VAE", "VariationalAutoencoder"]


@dataclass(frozen=True)
class VAEConfig:
    """The VAE's options; the defaults are the seed report's model.

    Attributes:
        image_shape: ``(channels, height, width)`` of the images.
        hidden_dim: Width of the encoder's and the decoder's hidden layer.
        latent_dim: Size of the latent code.
        beta: Weight of the KL term (1 is the plain VAE; other values give a beta-VAE).
        lr: Adam's learning rate.
        num_classes: Class-conditional (a CVAE) with this many classes (``0``: unconditional,
            the seed model). The encoder and the decoder both see a one-hot label beside their
            input; batches must carry labels.
        temperature: Standard deviation of the prior the samples' latents are drawn from
            (``1``: the prior itself; below 1 trades variety for cleaner images). Sampling
            only: ``genzoo sample --set temperature=0.7`` changes it after training.
        likelihood: The training loss's pixel likelihood: ``"bernoulli"`` (the seed's BCE) or
            ``"continuous-bernoulli"`` (BCE minus the continuous Bernoulli's log-normaliser: the
            proper density that :meth:`~VariationalAutoencoder.log_likelihood` scores with, fitted
            to uniformly dequantized pixels as the flows are).
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden_dim: int = 400
    latent_dim: int = 20
    beta: float = 1.0
    lr: float = 1e-3
    num_classes: int = 0
    temperature: float = sampling_option(1.0, maximum=100.0)
    likelihood: Literal["bernoulli", "continuous-bernoulli"] = "bernoulli"

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (channels, height, width), got {self.image_shape}")
        if self.hidden_dim < 1 or self.latent_dim < 1:
            raise ValueError("hidden_dim and latent_dim must be positive")
        if self.beta < 0:
            raise ValueError(f"beta must not be negative, got {self.beta}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        check_num_classes(self.num_classes)
        check_likelihood(self.likelihood)


def check_likelihood(likelihood: str) -> None:
    """Raise ``ValueError`` unless ``likelihood`` is a pixel likelihood the VAEs train with."""
    if likelihood not in ("bernoulli", "continuous-bernoulli"):
        raise ValueError(f"likelihood must be 'bernoulli' or 'continuous-bernoulli', got {likelihood!r}")


def check_num_classes(num_classes: int) -> None:
    """Raise ``ValueError`` unless ``num_classes`` is 0 (unconditional) or at least 2."""
    if num_classes < 0 or num_classes == 1:
        raise ValueError(f"num_classes must be 0 (unconditional) or at least 2, got {num_classes}")


class VariationalAutoencoder(GenerativeModel):
    """What the MLP VAE and the convolutional VAE share: a :class:`~genzoo.Generator`,
    :class:`~genzoo.Encoder` and :class:`~genzoo.Trainer`.

    The encoder maps an image to the mean and log-variance of a Gaussian posterior; a latent
    drawn from it by reparameterisation is decoded to Bernoulli pixel probabilities. The loss
    is the pixels' binary cross-entropy plus ``beta`` times the KL divergence to the prior.

    A subclass builds ``mean_head`` and ``logvar_head`` and implements :meth:`_hidden` (images
    and one-hot labels → the encoder's last hidden layer) and :meth:`_decoder_logits`
    (latents and one-hot labels → pixel logits, flat or ``N×C×H×W``). Its config has
    ``latent_dim``, ``beta``, ``lr`` and ``num_classes``.

    Class-conditional models (``num_classes > 0``) take labels in :meth:`encode`,
    :meth:`decode`, :meth:`reconstruct` and :meth:`generate`. Without them, ``generate`` draws
    image ``i`` of class ``i mod num_classes``, and ``encode``/``reconstruct`` use the class
    whose evidence lower bound is highest for each image (:meth:`infer_labels`), so the
    runner's reconstruction grids work without labels.

    It is also a :class:`~genzoo.DensityModel`: :meth:`log_likelihood` returns the ELBO or an
    importance-weighted bound under a continuous Bernoulli reading of the decoder (see
    :mod:`genzoo_vae.likelihood`), labelled as a bound.
    """

    mean_head: nn.Module
    logvar_head: nn.Module

    def _hidden(self, images: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _decoder_logits(self, z: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _condition(self, labels: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
        classes = self.config.num_classes
        if not classes:
            if labels is not None:
                raise ValueError(f"{type(self).__name__} is not class-conditional; pass no labels")
            return None
        if labels is None:
            raise ValueError(f"{type(self).__name__} is class-conditional; pass labels")
        return one_hot(labels.to(like.device), classes, like.dtype)

    def encode(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> Posterior:
        """The posterior over latents for ``N×C×H×W`` images in ``[0, 1]`` (and their
        labels, for a class-conditional model: inferred when omitted)."""
        if self.config.num_classes and labels is None:
            labels = self.infer_labels(images)
        hidden = self._hidden(images, self._condition(labels, images))
        return Posterior(self.mean_head(hidden), self.logvar_head(hidden))

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's pixel logits (flat ``N×(C·H·W)`` for the MLP VAE, else ``N×C×H×W``)."""
        return self._decoder_logits(z, self._condition(labels, z))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (pixel probabilities in ``[0, 1]``) for latent codes ``z``."""
        probs = torch.sigmoid(self.decode_logits(z, labels).float())
        return probs.reshape(z.shape[0], *self.image_shape)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode ``images`` from their posterior means."""
        if self.config.num_classes and labels is None:
            labels = self.infer_labels(images)
        return self.decode(self.encode(images, labels).mean, labels)

    @torch.no_grad()
    def infer_labels(self, images: torch.Tensor) -> torch.Tensor:
        """For a class-conditional model: each image's most likely class, the one whose
        evidence lower bound (at the posterior mean) is highest. Costs ``num_classes`` passes."""
        classes = self.config.num_classes
        if not classes:
            raise ValueError(f"{type(self).__name__} is not class-conditional")
        n = images.shape[0]
        candidates = torch.arange(classes, device=images.device).repeat_interleave(n)
        tiled = images.repeat(classes, *([1] * (images.dim() - 1)))
        hidden = self._hidden(tiled, one_hot(candidates, classes, tiled.dtype))
        mean, logvar = self.mean_head(hidden), self.logvar_head(hidden)
        logits = self._decoder_logits(mean, one_hot(candidates, classes, mean.dtype)).float()
        bce = nn.functional.binary_cross_entropy_with_logits(
            logits.reshape(tiled.shape), tiled.float(), reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).float().sum(1)
        bound = -(bce + self.config.beta * kl)
        return bound.reshape(classes, n).argmax(0)

    def log_likelihood(self, images: torch.Tensor, *, samples: int = 1,
                       generator: torch.Generator | None = None) -> LogLikelihood:
        """A lower bound on ``log p(x)`` in nats for continuous images in ``[0, 1]``.

        ``samples=1`` is the ELBO, ``samples=K`` the importance-weighted bound with ``K``
        samples (tighter as ``K`` grows), both under a continuous Bernoulli likelihood of the
        decoder's logits (:mod:`genzoo_vae.likelihood` gives the formulas). A
        class-conditional model is scored as the equal-weight mixture over its classes.

        Raises:
            ValueError: ``samples`` is not a positive integer.
        """
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        with eval_mode(self):
            classes = self.config.num_classes
            if not classes:
                return LogLikelihood(importance_weighted_bound(
                    self.encode(images), self.decode_logits, images, samples, generator), exact=False)
            bounds = []
            for label in range(classes):
                def of(rows: int, label: int = label) -> torch.Tensor:
                    return torch.full((rows,), label, dtype=torch.long, device=images.device)
                bounds.append(importance_weighted_bound(
                    self.encode(images, of(images.shape[0])),
                    lambda z, of=of: self.decode_logits(z, of(z.shape[0])), images, samples, generator))
            return LogLikelihood(torch.logsumexp(torch.stack(bounds), 0) - math.log(classes), exact=False)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes from the prior, scaled by the config's ``temperature``."""
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        return z if self.config.temperature == 1.0 else z * self.config.temperature

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode ``z``; a class-conditional model without ``labels`` draws image ``i`` of
        class ``i mod num_classes``. ``labels`` may also be ``N×num_classes`` soft labels."""
        if self.config.num_classes and labels is None:
            labels = cycle_labels(z.shape[0], self.config.num_classes, z.device)
        return self.decode(z, labels)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": adam(self.parameters(), self.config.lr)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        x = batch.images
        if self.config.likelihood == "continuous-bernoulli":
            # A density over continuous pixels is fitted to continuous pixels: on the 8-bit
            # values themselves it grows without bound at exactly 0 and 1.
            x = dequantize(x)
        labels = None
        if self.config.num_classes:
            labels = batch_labels(batch, self.config.num_classes,
                                  f"model {self.registry_name or type(self).__name__!r}")
        mean, logvar = self.encode(x, labels)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)  # reparameterisation
        logits = self.decode_logits(z, labels)
        reconstruction = reconstruction_loss(logits, x.reshape(logits.shape))
        if self.config.likelihood == "continuous-bernoulli":
            reconstruction = reconstruction - continuous_bernoulli_log_norm(logits.float()).sum() / x.shape[0]
        kl = kl_divergence(mean, logvar)
        loss = reconstruction + self.config.beta * kl
        step.optimize(loss, "vae")
        return {"loss": loss.detach(), "reconstruction": reconstruction.detach(), "kl": kl.detach()}


class VAE(VariationalAutoencoder):
    """The seed's MLP VAE: a :class:`~genzoo.Generator`, :class:`~genzoo.Encoder` and
    :class:`~genzoo.Trainer` (see :class:`VariationalAutoencoder`).

    With the default config this is exactly the seed model; ``num_classes > 0`` makes it a
    conditional VAE whose encoder and decoder also take a one-hot label.

    Args:
        config: A :class:`VAEConfig`; or pass its fields as keyword arguments.
    """

    Config = VAEConfig
    config: VAEConfig

    def __init__(self, config: VAEConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        pixels = math.prod(cfg.image_shape)
        self.encoder = nn.Sequential(nn.Linear(pixels + cfg.num_classes, cfg.hidden_dim), nn.ReLU())
        self.mean_head = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.logvar_head = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim + cfg.num_classes, cfg.hidden_dim),
                                     nn.ReLU(), nn.Linear(cfg.hidden_dim, pixels))

    def _hidden(self, images: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        flat = rearrange(images, "n c h w -> n (c h w)")
        return self.encoder(flat if condition is None else torch.cat([flat, condition], dim=1))

    def _decoder_logits(self, z: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        return self.decoder(z if condition is None else torch.cat([z, condition], dim=1))
