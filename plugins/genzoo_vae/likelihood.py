"""The VAEs' likelihood bounds: the ELBO and the importance-weighted bound, in nats.

The decoder outputs a logit ``η`` per pixel. Trained with binary cross-entropy, it defines
Bernoulli probabilities ``λ = σ(η)``, which are *not* a density for the continuous pixel values
of dequantized data: ``λ^x (1-λ)^(1-x)`` does not integrate to 1 over ``x ∈ [0, 1]``. To score
images, the decoder is read as a **continuous Bernoulli** (Loaiza-Ganem & Cunningham, 2019):

    p(x | η) = C(η) · λ^x (1 - λ)^(1 - x),   C(η) = η / tanh(η / 2)   (C(0) = 2),

a proper density on ``[0, 1]``, so ``log p(x | z) = -BCE(η, x) + log C(η)``. With ``K``
samples ``z_k ~ q(z | x)`` the importance-weighted bound (Burda et al., 2016) is

    L_K(x) = log (1/K) Σ_k p(x | z_k) p(z_k) / q(z_k | x)  ≤  log p(x),

``L_1`` is the ELBO (with the KL term at weight 1, whatever ``beta`` was trained with), and
``L_K`` rises towards ``log p(x)`` as ``K`` grows. A class-conditional VAE is scored as the
mixture over its classes with equal weights, ``log p(x) ≥ logsumexp_y L_K(x | y) - log(classes)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genzoo.plugin import Posterior

__all__ = ["continuous_bernoulli_log_norm", "continuous_bernoulli_log_prob", "importance_weighted_bound"]

_LOG_2PI = math.log(2 * math.pi)
#: Decoder passes per chunk of importance samples (keeps memory flat for large ``K``).
_CHUNK = 8192


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """``log C(η) = log(η / tanh(η / 2))``, the continuous Bernoulli's log-normaliser, stably.

    Uses ``log|η| - log(1 - e^{-|η|}) + log(1 + e^{-|η|})`` and, near 0, the Taylor series
    ``log 2 + η²/12``.
    """
    a = logits.abs()
    small = a < 1e-3
    safe = torch.where(small, torch.ones_like(a), a)
    exact = torch.log(safe) - torch.log(-torch.expm1(-safe)) + torch.log1p(torch.exp(-safe))
    return torch.where(small, math.log(2.0) + a.pow(2) / 12, exact)


def continuous_bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Elementwise ``log p(x | η)`` of the continuous Bernoulli with logits ``η``, ``x ∈ [0, 1]``."""
    return (-F.binary_cross_entropy_with_logits(logits, x, reduction="none")
            + continuous_bernoulli_log_norm(logits))


def importance_weighted_bound(posterior: Posterior, decode_logits: Callable[[torch.Tensor], torch.Tensor],
                              images: torch.Tensor, samples: int,
                              generator: torch.Generator | None = None) -> torch.Tensor:
    """``L_K(x)`` per image (``K = samples``; ``K = 1`` is the ELBO) in nats.

    Args:
        posterior: ``q(z | x)`` for the ``N`` images.
        decode_logits: Latents ``M×L`` → pixel logits (any shape with ``M`` rows).
        images: ``N×C×H×W`` continuous images in ``[0, 1]``.
        samples: ``K``.
        generator: A CPU generator for the latent noise (``None``: the global one).
    """
    mean, logvar = _wide(posterior.mean), _wide(posterior.logvar)
    n, latent = mean.shape
    x = _wide(images).flatten(1)
    std = torch.exp(0.5 * logvar)
    per_chunk = max(1, _CHUNK // n)
    weights = []
    for start in range(0, samples, per_chunk):
        k = min(per_chunk, samples - start)
        if generator is None:
            eps = torch.randn(k, n, latent, device=mean.device, dtype=mean.dtype)
        else:
            eps = torch.randn(k, n, latent, generator=generator).to(mean.device, mean.dtype)
        z = mean + eps * std
        logits = _wide(decode_logits(z.reshape(k * n, latent))).reshape(k, n, -1)
        log_px = continuous_bernoulli_log_prob(logits, x.expand(k, -1, -1)).sum(2)
        log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(2)
        log_qz = -0.5 * (eps.pow(2) + _LOG_2PI + logvar).sum(2)
        weights.append(log_px + log_pz - log_qz)
    return torch.logsumexp(torch.cat(weights), 0) - math.log(samples)


def _wide(t: torch.Tensor) -> torch.Tensor:
    """At least float32 (half-precision outputs of autocast are widened; float64 is kept)."""
    return t if t.dtype == torch.float64 else t.float()
