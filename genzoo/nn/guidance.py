"""Class conditioning with classifier-free guidance (Ho & Salimans 2022), for any network
``net(x, t, labels)`` whose null class is ``net.null_label`` (as :class:`~genzoo.nn.UNet`'s).

Training drops each label to the null class with a small probability (:func:`drop_labels`), so
one network learns the conditional and the unconditional prediction; sampling mixes the two
(:func:`guided`): ``uncond + guidance · (cond - uncond)``. ``guidance=1`` is plain conditional
sampling, larger values trade diversity for fidelity to the class.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError

__all__ = ["class_labels", "drop_labels", "guided"]


def class_labels(labels: torch.Tensor | int | None, n: int, num_classes: int,
                 device: torch.device | str | None = None) -> torch.Tensor | None:
    """Check and expand the ``labels`` a user passes to ``sample(n, labels=...)``.

    Args:
        labels: One class for all ``n`` images, ``n`` classes, or ``None``.
        n: The number of images.
        num_classes: The model's classes (0: unconditional).
        device: Where the returned labels go.

    Returns:
        ``n`` long labels; for ``None``, the classes in turn (``0, 1, ..., k-1, 0, ...``) for a
        conditional model and ``None`` for an unconditional one.

    Raises:
        ConfigError: (a ValueError) labels for an unconditional model, or labels of the wrong
            shape or range.
    """
    if labels is None:
        return torch.arange(n, device=device) % num_classes if num_classes else None
    if not num_classes:
        raise ConfigError("the model is not class-conditional; sample without labels "
                          "(or train one with num_classes=N)")
    labels = torch.as_tensor(labels, dtype=torch.long)
    labels = labels.expand(n) if labels.dim() == 0 else labels
    if labels.shape != (n,) or labels.min() < 0 or labels.max() >= num_classes:
        raise ConfigError(f"labels must be one class or {n} classes in [0, {num_classes})")
    return labels.to(device)


def drop_labels(labels: torch.Tensor, probability: float, null_label: int) -> torch.Tensor:
    """``labels`` with each one replaced by ``null_label`` with ``probability`` (drawn from
    torch's global random state on the labels' device, which the runner seeds and restores)."""
    if probability <= 0:
        return labels
    drop = torch.rand(labels.shape, device=labels.device) < probability
    return torch.where(drop, torch.full_like(labels, null_label), labels)


def guided(net: Any, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None,
           guidance: float) -> torch.Tensor:
    """The network's prediction with classifier-free guidance ``guidance``.

    With no labels or ``guidance == 1`` it is one plain forward pass; otherwise the conditional
    and unconditional predictions come from one forward pass over the batch twice.

    Args:
        net: A network ``net(x, t, labels)`` with a ``null_label`` attribute.
        x: The batch.
        t: ``N`` times.
        labels: ``N`` labels, or ``None`` for an unconditional prediction.
        guidance: The guidance scale (0: unconditional; 1: conditional; above 1: guided).
    """
    if labels is None or guidance == 1:
        return net(x, t, labels)
    if guidance == 0:
        return net(x, t, None)
    null = torch.full_like(labels, net.null_label)
    cond, uncond = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null])).chunk(2)
    return uncond + guidance * (cond - uncond)
