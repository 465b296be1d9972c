"""What generators decode: paths through latent space.

:func:`interpolate` decodes the images along a path between two latent codes of any
:class:`~genzoo.GenerativeModel` with a vector latent (``"gan"``, ``"dcgan"``, ``"vae"``,
``"conv-vae"``); :func:`interpolate_images` encodes two images with an
:class:`~genzoo.Encoder` and decodes the path between their posterior means::

    from genzoo.latent import interpolate

    frames = interpolate(model, steps=8, seed=3)  # 8×C×H×W in [0, 1]

A class-conditional model walks its path with one class, or between two (the class labels
themselves are :mod:`genzoo.labels`' business).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch

from ._words import model_label
from .labels import class_count, class_labels, one_hot
from .sampling import eval_mode

__all__ = ["slerp", "lerp", "latent_path", "interpolate", "interpolate_images"]


def lerp(start: torch.Tensor, end: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight-line points ``(1 - t)·start + t·end``, one per value of the 1-D ``t``."""
    t = t.to(start.dtype).reshape(-1, *([1] * start.dim()))
    return start.unsqueeze(0) + t * (end - start).unsqueeze(0)


def slerp(start: torch.Tensor, end: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: the great-circle arc from ``start`` to ``end``, with the norm
    interpolated linearly along it.

    Gaussian latents concentrate near a sphere, so the points of a straight line between two
    of them are atypically short; the arc keeps every point typical. Falls back to :func:`lerp`
    for (anti)parallel endpoints.
    """
    a, b = start.reshape(-1).double(), end.reshape(-1).double()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return lerp(start, end, t)
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua @ ub).clamp(-1.0, 1.0))
    if omega < 1e-6 or math.pi - omega < 1e-6:
        return lerp(start, end, t)
    td = t.double().reshape(-1, 1)
    direction = (torch.sin((1 - td) * omega) * ua + torch.sin(td * omega) * ub) / torch.sin(omega)
    norm = (1 - td) * na + td * nb
    return (direction * norm).to(start.dtype).reshape(-1, *start.shape)


def latent_path(start: torch.Tensor, end: torch.Tensor, steps: int,
                method: Literal["slerp", "lerp"] = "slerp") -> torch.Tensor:
    """``steps`` latent codes from ``start`` to ``end`` (both included exactly), stacked."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer of at least 2, got {steps!r}")
    if method not in ("slerp", "lerp"):
        raise ValueError(f"method must be 'slerp' or 'lerp', got {method!r}")
    if start.shape != end.shape:
        raise ValueError(f"start and end must have the same shape, got {tuple(start.shape)} "
                         f"and {tuple(end.shape)}")
    t = torch.linspace(0.0, 1.0, steps)
    path = (slerp if method == "slerp" else lerp)(start, end, t)
    path[0], path[-1] = start, end  # exact endpoints, whatever the rounding
    return path


@torch.no_grad()
def interpolate(model: Any, steps: int = 8, *, seed: int = 0, start: torch.Tensor | None = None,
                end: torch.Tensor | None = None, method: Literal["slerp", "lerp"] = "slerp",
                labels: torch.Tensor | int | None = None) -> torch.Tensor:
    """Decode ``steps`` images along a path between two latent codes.

    Args:
        model: A :class:`~genzoo.GenerativeModel` (anything with ``sample_latent`` and
            ``generate``) whose latent codes are vectors.
        steps: How many images, endpoints included (at least 2).
        seed: Draws the endpoints that are not given (the same two codes for a seed, whether
            or not one of them is passed).
        start: The first latent code (one code, e.g. ``model.sample_latent(1)[0]``).
        end: The last latent code.
        method: ``"slerp"`` (spherical, for Gaussian latents) or ``"lerp"`` (straight).
        labels: For class-conditional models: one class for every image, or ``steps`` classes.
            When omitted, one class drawn from ``seed`` for the whole path.

    Returns:
        ``steps×C×H×W`` images in ``[0, 1]`` on the model's device; the first is
        ``model.generate(start)``, the last ``model.generate(end)``.
    """
    generator = torch.Generator().manual_seed(seed)
    drawn = model.sample_latent(2, generator=generator)
    shape = drawn[0].shape
    start = drawn[0] if start is None else torch.as_tensor(start, dtype=drawn.dtype).reshape(shape)
    end = drawn[1] if end is None else torch.as_tensor(end, dtype=drawn.dtype).reshape(shape)
    path = latent_path(start.cpu(), end.cpu(), steps, method)
    classes = class_count(model)
    if labels is None and classes:
        labels = int(torch.randint(classes, (), generator=generator))
    return _decode(model, path, labels)


@torch.no_grad()
def interpolate_images(model: Any, a: torch.Tensor, b: torch.Tensor, steps: int = 8, *,
                       method: Literal["slerp", "lerp"] = "lerp",
                       labels: torch.Tensor | int | None = None) -> torch.Tensor:
    """Encode images ``a`` and ``b``, and decode ``steps`` images between their posterior means.

    Args:
        model: An :class:`~genzoo.Encoder` that also has ``generate`` (``"vae"``, ``"conv-vae"``).
        a: One image, ``C×H×W`` (or ``1×C×H×W``), floats in ``[0, 1]`` or ``uint8``.
        b: Another image of the same shape.
        steps: How many images, endpoints included.
        method: ``"lerp"`` (the default: posterior means are not on a sphere) or ``"slerp"``.
        labels: For class-conditional models: one class for both images and the whole path.
            When omitted, the model infers each image's class and the path also moves from
            ``a``'s class to ``b``'s (the one-hot label is interpolated along with the code).

    Returns:
        ``steps×C×H×W`` images in ``[0, 1]``: ``a``'s reconstruction first, ``b``'s last.
    """
    with eval_mode(model):
        device = next(model.parameters()).device
        pair = torch.stack([_image(a), _image(b)]).to(device)
        classes = class_count(model)
        if not classes:
            if labels is not None:
                raise ValueError(f"{model_label(model)} is not class-conditional; "
                                 "interpolate without labels")
            mean = model.encode(pair).mean
            return _decode(model, latent_path(mean[0].cpu(), mean[1].cpu(), steps, method), None)
        if labels is None:
            pair_labels = model.infer_labels(pair)
            mean = model.encode(pair, labels=pair_labels).mean
            ends = one_hot(pair_labels, classes, torch.float32).cpu()
            soft = lerp(ends[0], ends[1], torch.linspace(0.0, 1.0, steps))
            path = latent_path(mean[0].cpu(), mean[1].cpu(), steps, method)
            return _decode(model, path, soft)
        if torch.is_tensor(labels) and labels.numel() != 1:
            raise ValueError("labels must be one class for both images and the whole path")
        label = int(labels)
        mean = model.encode(pair, labels=_labels(model, label, 2, device)).mean
        return _decode(model, latent_path(mean[0].cpu(), mean[1].cpu(), steps, method), label)


def _image(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected one image (C×H×W or 1×C×H×W), got {tuple(x.shape)}")
        x = x[0]
    if x.dim() != 3:
        raise ValueError(f"expected one image (C×H×W or 1×C×H×W), got {tuple(x.shape)}")
    return x.float().div(255) if x.dtype == torch.uint8 else x.float()


def _decode(model: Any, path: torch.Tensor, labels: torch.Tensor | int | None) -> torch.Tensor:
    with eval_mode(model):
        z = path.to(next(model.parameters()).device)
        if labels is None:
            images = model.generate(z)
        elif torch.is_tensor(labels) and labels.is_floating_point():  # soft (interpolated) labels
            images = model.generate(z, labels=labels.to(z.device))
        else:
            images = model.generate(z, labels=_labels(model, labels, z.shape[0], z.device))
        return images.float().clamp_(0, 1)


def _labels(model: Any, labels: torch.Tensor | int, n: int, device: torch.device) -> torch.Tensor:
    """``n`` checked labels of ``model``'s classes on ``device`` (one class, or ``n``)."""
    return class_labels(labels, n, class_count(model), device, owner=model_label(model))
