"""Class labels, everything about them: how many classes a model has, the labels it samples and
trains on, and the checks that refuse labels outside its classes.

A class-conditional model has a config field ``num_classes`` (:func:`class_count`); its labels
are class indices in ``[0, num_classes)``. The pieces, by where labels come from:

* sampling: :func:`class_labels` checks and expands the ``labels`` a user passes to
  ``sample(n, labels=...)`` (one class, ``n`` classes, or none: every class in turn,
  :func:`cycle_labels`); :func:`one_hot` turns them into the rows a network takes;
* training: :func:`batch_labels` takes a batch's labels for a conditional model's training step,
  :func:`drop_labels` drops some of them to the null class for classifier-free guidance;
* checks: :func:`check_data_labels` refuses a data set whose labels the model cannot take before
  a run starts, :func:`check_labels` and :class:`LabelWatch` refuse a batch's labels outside
  the classes while it trains (:func:`label_range_problem` says what is wrong for both).
"""

from __future__ import annotations

from typing import Any

import torch

from .errors import BatchError, ConfigError
from .protocols import Batch

__all__ = ["class_count", "one_hot", "cycle_labels", "class_labels", "batch_labels",
           "drop_labels", "label_range_problem", "check_labels", "check_data_labels",
           "LabelWatch"]


# -- a model's classes --------------------------------------------------------------------------

def class_count(model: Any) -> int:
    """How many classes a model is conditioned on: its config's ``num_classes``, ``0`` for an
    unconditional model (or one without such a setting)."""
    return getattr(getattr(model, "config", None), "num_classes", 0)


def one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """``N×num_classes`` one-hot rows for integer ``labels``; float ``N×num_classes`` rows
    (soft labels, e.g. interpolated between two classes) are returned as they are.

    Indexes an identity matrix on the labels' device, so nothing is read back to the host.
    """
    if labels.is_floating_point():
        if labels.dim() != 2 or labels.shape[1] != num_classes:
            raise ValueError(f"soft labels must be N×{num_classes}, got {tuple(labels.shape)}")
        return labels.to(dtype)
    return torch.eye(num_classes, dtype=dtype, device=labels.device)[labels.long()]


# -- sampling -----------------------------------------------------------------------------------

def cycle_labels(n: int, num_classes: int,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """The labels a conditional model uses when ``generate`` gets none: ``0, 1, ..., k-1, 0, ...``.

    Every class equally often (so ``sample(n)`` of a conditional model covers the classes evenly,
    as a grid wants; :func:`genzoo.metrics.evaluate` passes the data's class frequencies instead),
    and the same labels for the same ``n`` (so a seed gives the same images).
    """
    return torch.arange(n, device=device) % num_classes


def class_labels(labels: torch.Tensor | int | None, n: int, num_classes: int,
                 device: torch.device | str | None = None, *,
                 owner: str = "the model") -> torch.Tensor | None:
    """Check and expand the ``labels`` a user passes to ``sample(n, labels=...)``.

    Args:
        labels: One class for all ``n`` images, ``n`` classes, or ``None``.
        n: The number of images.
        num_classes: The model's classes (0: unconditional).
        device: Where the returned labels go.
        owner: Who samples, for the message (``"model 'vae'"``).

    Returns:
        ``n`` long labels; for ``None``, the classes in turn (:func:`cycle_labels`) for a
        conditional model and ``None`` for an unconditional one.

    Raises:
        ConfigError: (a ValueError) labels for an unconditional model, or labels of the wrong
            shape or range.
    """
    if labels is None:
        return cycle_labels(n, num_classes, device) if num_classes else None
    if not num_classes:
        raise ConfigError(f"{owner} is not class-conditional; sample without labels "
                          "(or train one with num_classes=N)")
    labels = torch.as_tensor(labels, dtype=torch.long)
    labels = labels.expand(n) if labels.dim() == 0 else labels
    if labels.shape != (n,) or labels.min() < 0 or labels.max() >= num_classes:
        raise ConfigError(f"labels must be one class or {n} classes in [0, {num_classes})")
    return labels.to(device)


# -- training -----------------------------------------------------------------------------------

def batch_labels(batch: Batch, num_classes: int, model: str) -> torch.Tensor:
    """The batch's labels as a long tensor, or :class:`~genzoo.BatchError` if it has none."""
    if batch.labels is None:
        raise BatchError(
            f"{model} is class-conditional (num_classes={num_classes}) and needs labelled "
            "batches: (images, labels) tuples, e.g. InMemoryLoader(images, labels, ...) or a "
            "DataLoader over a labelled data set; build it with num_classes=0 to train without"
        )
    labels = batch.labels
    if labels.dim() != 1 or labels.shape[0] != batch.images.shape[0]:
        raise BatchError(f"expected {batch.images.shape[0]} labels, one per image, got shape "
                         f"{tuple(labels.shape)}")
    if labels.is_floating_point():
        raise BatchError(f"labels must be integer classes, got dtype {labels.dtype}")
    return labels.long()


def drop_labels(labels: torch.Tensor, probability: float, null_label: int) -> torch.Tensor:
    """``labels`` with each one replaced by ``null_label`` with ``probability`` (drawn from
    torch's global random state on the labels' device, which the runner seeds and restores).

    Training a network on both conditions this way lets it make the unconditional prediction
    that classifier-free guidance (:func:`genzoo.nn.guided`) mixes in when sampling.
    """
    if probability <= 0:
        return labels
    drop = torch.rand(labels.shape, device=labels.device) < probability
    return torch.where(drop, torch.full_like(labels, null_label), labels)


# -- checks -------------------------------------------------------------------------------------

def label_range_problem(labels: torch.Tensor, classes: int) -> tuple[str, int] | None:
    """What is wrong with ``labels`` that are not class indices in ``[0, classes)``: words for an
    error (``"label 12, outside 0 to 9 (num_classes=10); labels must be class indices from 0"``)
    and the ``num_classes`` that would hold them; ``None`` when they fit."""
    low, high = int(labels.min()), int(labels.max())
    if low >= 0 and high < classes:
        return None
    bad = low if low < 0 else high
    return (f"label {bad}, outside 0 to {classes - 1} (num_classes={classes}); labels must be "
            f"class indices from 0", max(high + 1, classes))


def check_labels(labels: torch.Tensor | None, classes: int, cause: BaseException | None = None) -> None:
    """Raise a :class:`~genzoo.BatchError` if a batch's ``labels`` are not class indices in
    ``[0, classes)``.

    The runner calls it only when a training step fails (an embedding given a label outside its
    table raises ``IndexError`` on the CPU), so correct batches cost nothing.

    Args:
        labels: A batch's labels, or ``None``.
        classes: The model's ``num_classes`` (0: not class-conditional; nothing is checked).
        cause: The error the step raised, chained to the new one.
    """
    if labels is None or not classes:
        return
    problem = label_range_problem(labels, classes)
    if problem is not None:
        words, fits = problem
        raise BatchError(f"a batch has {words}: build the model with num_classes={fits} or fix the "
                         "labels") from cause


def check_data_labels(images: Any, model: Any, name: str) -> None:
    """Refuse a data set whose labels a class-conditional model cannot take, before training on
    it: a folder with more classes than ``num_classes``, or labels outside ``[0, num_classes)``.

    Args:
        images: The data set (its ``labels``, ``classes`` and ``name``, where it has them).
        model: The model to train on it.
        name: The model's name as the user typed it.

    Raises:
        ConfigError: naming the classes or the labels, and the setting to change.
    """
    classes = class_count(model)
    labels = getattr(images, "labels", None)
    if not classes or labels is None or labels.numel() == 0:
        return
    found = getattr(images, "classes", None)
    if found and len(found) > classes:
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        raise ConfigError(
            f"{images.name} has {len(found)} classes ({shown}) but {name} is set to "
            f"num_classes={classes}; train with --set num_classes={len(found)}")
    problem = label_range_problem(labels, classes)
    if problem is not None:
        words, fits = problem
        raise ConfigError(f"{images.name} has {words}: train with --set num_classes={fits} or fix "
                          "the labels")


class LabelWatch:
    """Checks that every batch's labels are class indices in ``[0, classes)``.

    Labels on the CPU are checked at once (cheap, and nothing waits for a device). Labels on an
    accelerator update a running minimum and maximum there, read back by :meth:`check` when the
    runner synchronises anyway, as :class:`~genzoo.batches.RangeWatch` does for images.

    Args:
        classes: The model's ``num_classes``; 0 (not class-conditional) checks nothing.
    """

    def __init__(self, classes: int) -> None:
        self.classes = classes
        self._bounds: tuple[torch.Tensor, torch.Tensor] | None = None

    def observe(self, labels: torch.Tensor | None) -> None:
        """Take ``labels`` into account (checked now when they are on the CPU)."""
        if labels is None or not self.classes or labels.numel() == 0:
            return
        if labels.device.type == "cpu":
            check_labels(labels, self.classes)
            return
        lo, hi = torch.aminmax(labels.detach())
        if self._bounds is None:
            self._bounds = (lo, hi)
        else:
            torch.minimum(self._bounds[0], lo, out=self._bounds[0])
            torch.maximum(self._bounds[1], hi, out=self._bounds[1])

    def check(self) -> None:
        """Raise :class:`~genzoo.BatchError` if any label observed so far was out of range."""
        if self._bounds is not None:
            check_labels(torch.stack(self._bounds), self.classes)
