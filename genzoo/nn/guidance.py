"""Class conditioning with classifier-free guidance (Ho & Salimans 2022), for any network
``net(x, t, labels)`` whose null class is ``net.null_label`` (as :class:`~genzoo.nn.UNet`'s).

Training drops each label to the null class with a small probability
(:func:`genzoo.labels.drop_labels`), so one network learns the conditional and the unconditional
prediction; sampling mixes the two (:func:`guided`): ``uncond + guidance · (cond - uncond)``.
``guidance=1`` is plain conditional sampling, larger values trade diversity for fidelity to the
class.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["guided"]


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
