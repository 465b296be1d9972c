"""The GANs' losses, computed from discriminator logits (stable: no sigmoid then log).

Three families, picked by the ``loss`` config field:

* ``"bce"``: the non-saturating GAN (Goodfellow et al. 2014), the seed's loss.
* ``"hinge"``: the hinge loss of SAGAN/BigGAN: ``relu(1 - D(x)) + relu(1 + D(G(z)))`` for the
  discriminator, ``-D(G(z))`` for the generator.
* ``"wgan-gp"``: the Wasserstein critic ``D(G(z)) - D(x)`` plus a gradient penalty
  ``(||∇D(x̂)|| - 1)²`` on random interpolates ``x̂`` of real and generated images, with the norm
  taken per example (Gulrajani et al. 2017), and ``-D(G(z))`` for the generator.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "LOSSES",
    "discriminator_loss",
    "generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "per_example_gradient_norms",
    "gradient_penalty",
    "d_loss_fn",
    "g_loss_fn",
]

#: The values of the ``loss`` config field.
LOSSES = ("bce", "hinge", "wgan-gp")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of calling real images real and generated ones fake.

    Equals ``BCE(sigmoid(real), 1) + BCE(sigmoid(fake), 0)``, each averaged over the batch.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``BCE(sigmoid(fake), 1)``: ``-log D(G(z))``."""
    return F.softplus(-fake_logits).mean()


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))``."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``-mean(D(G(z)))``."""
    return -fake_logits.mean()


def wasserstein_critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(D(G(z))) - mean(D(x))``: minus the critic's estimate of the Wasserstein distance
    (add :func:`gradient_penalty` to keep the critic 1-Lipschitz)."""
    return fake_logits.mean() - real_logits.mean()


def wasserstein_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``-mean(D(G(z)))``."""
    return -fake_logits.mean()


def per_example_gradient_norms(critic: Callable[[torch.Tensor], torch.Tensor],
                               inputs: torch.Tensor, *, create_graph: bool = True) -> torch.Tensor:
    """``||∇ₓ D(x)||₂`` for each example ``x`` of ``inputs``: an ``N`` vector.

    Each example's critic output depends on that example only (no batch norm in the critic),
    so the gradient of the summed outputs holds every example's own gradient; the norm is
    taken over all but the batch axis.
    """
    inputs = inputs.detach().requires_grad_(True)
    outputs = critic(inputs)
    (grads,) = torch.autograd.grad(outputs.float().sum(), inputs, create_graph=create_graph)
    return grads.float().flatten(1).norm(2, dim=1)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's penalty: ``mean((||∇D(x̂)|| - 1)²)`` over per-example interpolates
    ``x̂ = ε·real + (1 - ε)·fake`` with one ``ε ~ U[0, 1]`` per example.

    Differentiable with respect to the critic's weights (double back-propagation).
    """
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device,
                     dtype=real.dtype)
    mixed = torch.lerp(fake.detach().to(real.dtype), real.detach(), eps)
    norms = per_example_gradient_norms(critic, mixed)
    return (norms - 1).pow(2).mean()


def d_loss_fn(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The discriminator loss (from real and fake logits) of the ``loss`` family, without any
    gradient penalty."""
    return {"bce": discriminator_loss, "hinge": hinge_discriminator_loss,
            "wgan-gp": wasserstein_critic_loss}[loss]


def g_loss_fn(loss: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The generator loss (from fake logits) of the ``loss`` family."""
    return {"bce": generator_loss, "hinge": hinge_generator_loss,
            "wgan-gp": wasserstein_generator_loss}[loss]
