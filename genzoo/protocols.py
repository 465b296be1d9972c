"""The contracts third-party models code against.

A model is any object; what it can do is said by which of these protocols it satisfies. They
are :func:`~typing.runtime_checkable`, so ``isinstance(model, genzoo.Encoder)`` tells whether the
runner can draw reconstruction grids for it. Subclassing :class:`genzoo.GenerativeModel` gives
``fit``, ``save`` and sampling helpers for free, but is not required by the protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch

from .optim import OptimizerSpec
from .teacher import Teacher

__all__ = ["Batch", "Posterior", "Generator", "IterativeGenerator", "Encoder", "Trainer",
           "StepContext", "LogLikelihood", "DensityModel", "Student"]


class Batch(NamedTuple):
    """One training batch as the runner hands it to :meth:`Trainer.training_step`.

    Attributes:
        images: ``N×C×H×W`` float images in ``[0, 1]`` on the training device.
        labels: ``N`` integer labels, or ``None`` when the data has none.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None


class Posterior(NamedTuple):
    """A diagonal Gaussian over the latent space, as an :class:`Encoder` returns it.

    Attributes:
        mean: ``N×D`` means.
        logvar: ``N×D`` log-variances.
    """

    mean: torch.Tensor
    logvar: torch.Tensor


@runtime_checkable
class Generator(Protocol):
    """Something that draws new images.

    Besides ``seed`` and ``generator``, ``sample`` may take options of the model's own as
    keyword arguments: ``labels`` for a class-conditional model, ``steps`` for an
    :class:`IterativeGenerator`, a guidance scale or a temperature. A
    :class:`~genzoo.GenerativeModel` takes exactly the keyword arguments of its ``generate``
    and refuses any other with a :class:`~genzoo.ConfigError`.
    """

    image_shape: tuple[int, int, int]
    """``(channels, height, width)`` of the images it makes."""

    def sample(self, n: int, *, seed: int | None = None,
               generator: torch.Generator | None = None, **options: Any) -> torch.Tensor:
        """Return ``n`` new images, ``n×C×H×W`` in ``[0, 1]``.

        The same ``seed`` (or a generator in the same state) gives the same images, without
        touching torch's global random state.
        """
        ...


@runtime_checkable
class IterativeGenerator(Generator, Protocol):
    """A :class:`Generator` that samples in steps (a diffusion or flow-matching model), whose
    number of steps is chosen at sampling time: fewer steps, faster sampling, usually lower
    quality. ``genzoo sample --steps K`` needs one. A :class:`~genzoo.GenerativeModel` is one
    when it has ``sampling_steps`` and its ``generate`` takes ``steps=``.
    """

    sampling_steps: int
    """How many steps :meth:`sample` takes when ``steps`` is not given."""

    def sample(self, n: int, *, seed: int | None = None,
               generator: torch.Generator | None = None,
               steps: int | None = None, **options: Any) -> torch.Tensor:
        """Return ``n`` new images as :meth:`Generator.sample` does, taking ``steps`` steps
        (``None``: :attr:`sampling_steps`)."""
        ...


@runtime_checkable
class Encoder(Protocol):
    """Something that maps images to a latent posterior and back."""

    def encode(self, images: torch.Tensor) -> Posterior:
        """Return the posterior over latents for ``N×C×H×W`` images in ``[0, 1]``."""
        ...

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Return the images decoded from their posterior means, in ``[0, 1]``."""
        ...


@runtime_checkable
class StepContext(Protocol):
    """What the runner lends a training step: the only way a step updates weights."""

    epoch: int
    """The current epoch, counting from 0."""
    index: int
    """The number of training steps taken before this one."""
    epochs: int | None
    """The epoch the run trains up to, a resumed run's earlier ones included (``None``: not
    known), for a step that changes what it trains as the run goes on."""

    def optimize(self, loss: torch.Tensor, optimizer: str) -> None:
        """Back-propagate ``loss`` into the parameters of the named optimizer and step it.

        The runner handles zeroing gradients, loss scaling for fp16, gradient averaging across
        processes, gradient clipping and skipped steps; only that optimizer's parameters
        receive gradients.
        """
        ...

    def teacher_samples(self, make: Callable[[Teacher, int, torch.Generator], Mapping[str, torch.Tensor]],
                        *, count: int, chunk_size: int = 1000, seed: int = 0,
                        name: str = "samples",
                        settings: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """Samples of the model's teacher (a :class:`Student`'s), made once for the whole run.

        The first call makes ``count`` samples, ``chunk_size`` at a time, each chunk by
        ``make(teacher, n, generator)`` (a dict of ``n``-row tensors, such as reflow's noise
        and the teacher's image for it) with its own CPU generator seeded from ``seed`` and
        the chunk's number; in the run folder (``teacher/NAME/``) each chunk is written as it
        is made, so a run interrupted while making them keeps the chunks already made and its
        resume makes only the rest, the same as one uninterrupted run would have. The chunks
        are tied to the teacher's weight hash (another teacher is refused) and re-used by
        later calls, resumes and runs in the same folder, and to ``settings``: whatever else
        decides what ``make`` makes (the student's options it reads, the teacher's sampling
        options; JSON values), which a folder made with other settings must match or is
        refused. The teacher runs without gradients
        in the training precision; torch's global random state is left as it was, so a
        resumed run stays exact.

        Returns:
            The samples, each entry all chunks' rows concatenated, on the CPU.
        """
        ...


@runtime_checkable
class Trainer(Protocol):
    """A model's own training: its optimizers, its losses, one step on a batch."""

    def configure_optimizers(self) -> Mapping[str, torch.optim.Optimizer | OptimizerSpec]:
        """Return the optimizers by name, built on parameters already on the training device.

        An entry may also be an :class:`~genzoo.OptimizerSpec`: the optimizer with its own
        learning-rate scheduler and gradient-clipping norm.
        """
        ...

    def training_step(self, batch: Batch, step: StepContext) -> Mapping[str, torch.Tensor]:
        """Take one step on ``batch``, calling ``step.optimize`` per optimizer.

        Returns:
            The step's losses and other scalars by name, as 0-d tensors (left on the device;
            the runner reads them back once per logging interval).
        """
        ...


@runtime_checkable
class Student(Protocol):
    """A model that trains against a frozen teacher: a distilled student, a reflowed model.

    A model says that it takes a teacher by having these three members; ``teacher_required``
    says whether it cannot train without one. :func:`genzoo.build` (``teacher=``) and
    ``genzoo train --teacher`` hand the teacher over through :meth:`set_teacher`; a model that
    is not a :class:`Student` given a teacher is refused with a :class:`~genzoo.ConfigError`,
    and ``fit`` refuses to train a student whose teacher is required but missing.

    The runner puts the teacher on the training device (eval mode, no gradients; the student's
    ``training_step``, which calls it, runs in the training precision) and records its source
    and weight hash in every checkpoint, never its weights: the teacher is not part of the
    student's ``state_dict``, optimizers or weight EMA (a student must not register
    ``teacher.model`` as a submodule; the runner refuses one that shares its weights).
    A resume refuses a different teacher, and without one loads the run's recorded teacher
    again when its source still holds the same weights. Sampling needs no teacher: a trained
    student loads and samples without one.
    """

    teacher_required: bool
    """Whether the model cannot train without a teacher (``False``: a teacher is optional)."""

    teacher: Teacher | None
    """The teacher :meth:`set_teacher` was given, or ``None``."""

    def set_teacher(self, teacher: Teacher) -> None:
        """Take ``teacher`` (frozen, on the CPU until ``fit`` moves it) and keep it as
        :attr:`teacher`.

        Called once, by :func:`genzoo.build` after the model is made (under the same seed),
        or by the runner before the optimizers are made when a resume loads the run's recorded
        teacher. It may initialise the student's weights from the teacher's, in place (a
        resume then restores the checkpoint's weights over them); it must not add parameters.
        """
        ...


# -- likelihood ---------------------------------------------------------------------------------


class LogLikelihood(NamedTuple):
    """Per-image log-densities, as a :class:`DensityModel` returns them, and whether they are exact.

    Attributes:
        values: ``N`` log-densities in nats, one per image, of the images as points of the
            continuous cube ``[0, 1]^D`` (``D = C·H·W``), with respect to Lebesgue measure on it.
        exact: ``True`` when ``values`` are the model's exact log-density (a normalizing flow),
            ``False`` when they are a lower bound on it (a VAE's ELBO or importance-weighted
            bound, a diffusion model's variational bound).
    """

    values: torch.Tensor
    exact: bool


@runtime_checkable
class DensityModel(Protocol):
    """Something that scores images by their log-likelihood, exactly or as a lower bound.

    The density is over continuous images in ``[0, 1]^D``. :mod:`genzoo.metrics.likelihood`
    turns it into bits per dimension of 8-bit data by uniform dequantization: an 8-bit image
    ``k`` becomes ``(k + u) / 256`` with ``u ~ U[0, 1)^D``, and
    ``bits/dim = (-log p(x) / D + log 256) / log 2``, an upper bound on the discrete model's
    code length. A model with a discrete likelihood (e.g. a discretized logistic over 256
    levels) returns its log-probability plus ``D · log 256``: the density of the matching
    piecewise-constant model, which gives the same bits/dim.
    """

    def log_likelihood(self, images: torch.Tensor, *, samples: int = 1,
                       generator: torch.Generator | None = None) -> LogLikelihood:
        """Return the log-density of ``N×C×H×W`` continuous images in ``[0, 1]``.

        Args:
            images: The images, on the model's device (already dequantized by the caller).
            samples: How many samples a stochastic estimate averages over (the importance
                samples of a VAE's bound); exact models ignore it.
            generator: A CPU :class:`torch.Generator` to draw any noise from (then moved to
                the images' device), so estimates repeat on any device without touching the
                global random state; ``None`` draws from the global generator.

        Returns:
            ``N`` log-densities in nats, and whether they are exact or a lower bound.
        """
        ...
