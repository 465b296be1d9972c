"""The base class the built-in models share: config handling, sampling, ``fit`` and ``save``."""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ._words import model_label
from .config import config_to_dict, resolve_config
from .errors import ConfigError
from .labels import class_count, class_labels
from .memory import check_images_fit
from .protocols import IterativeGenerator
from .sampling import (check_sampling_options, check_sampling_steps, eval_mode, sample_generator,
                       sampling_fields)

if TYPE_CHECKING:
    from .runner.loop import FitResult

__all__ = ["GenerativeModel"]


class GenerativeModel(nn.Module):
    """Base class for genzoo models: an :class:`torch.nn.Module` with a typed config.

    A subclass sets :attr:`Config` to a dataclass with an ``image_shape`` field, builds its layers
    in ``__init__`` (after calling ``super().__init__(config, **overrides)``), and implements
    ``sample_latent(n, *, generator)`` and ``generate(z, labels=None, **options)``, and, to be
    trainable, the :class:`~genzoo.Trainer` methods ``configure_optimizers`` and
    ``training_step``. It then satisfies :class:`~genzoo.Generator` (and
    :class:`~genzoo.Trainer`), and gets :meth:`fit`, :meth:`sample` and :meth:`save`. The base
    class has no stubs: a model without a training step is not a :class:`~genzoo.Trainer`.

    :meth:`sample` seeds, checks its arguments, resolves the class labels and decodes in eval
    mode; the keyword arguments of ``generate`` after ``labels`` are the model's own sampling
    options, which ``sample`` takes and hands on (``sample(16, guidance=3.0)``), refusing any
    other. A model that samples in steps (diffusion, flow matching) also has a
    ``sampling_steps`` attribute and takes ``steps=`` in ``generate``; it then satisfies
    :class:`~genzoo.IterativeGenerator`. Config fields made with
    :func:`genzoo.sampling.sampling_option` may be changed after training
    (:meth:`set_sampling_options`, ``genzoo.load(path, **overrides)``).

    Args:
        config: A complete config; when omitted, the defaults of :attr:`Config`.
        **overrides: Config fields to change, checked against their types.

    Raises:
        ConfigError: an override names no field or has the wrong type.
    """

    Config: ClassVar[type]
    #: The name the model is registered under; :func:`genzoo.build` sets it on the instance.
    registry_name: str = ""

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__()
        owner = f"model {self.registry_name or type(self).__name__!r}"
        if config is None:
            config = resolve_config(self.Config, overrides, owner=owner)
        elif overrides:
            config = resolve_config(self.Config, {**config_to_dict(config), **overrides}, owner=owner)
        elif not isinstance(config, self.Config):
            raise TypeError(f"config must be a {self.Config.__name__}, got {type(config).__name__}")
        self.config = config

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of the images the model makes and trains on."""
        c, h, w = self.config.image_shape
        return (c, h, w)

    @property
    def device(self) -> torch.device:
        """The device the model's parameters are on."""
        return next(self.parameters()).device

    def config_dict(self) -> dict[str, Any]:
        """The model's config as a plain dict, the way checkpoints store it."""
        return config_to_dict(self.config)

    def set_sampling_options(self, **values: Any) -> None:
        """Change config fields that affect only sampling (see :func:`genzoo.sampling.sampling_option`).

        Raises:
            ConfigError: a field is not a sampling option (it would change what the trained
                weights mean), or a value does not fit it: the wrong type, not a finite number,
                or outside the option's bounds (see :func:`genzoo.sampling.check_sampling_options`).
        """
        if not values:
            return
        allowed = sampling_fields(self.config)
        owner = f"model {self.registry_name or type(self).__name__!r}"
        for key in values:
            if key not in allowed:
                choices = ", ".join(sorted(allowed)) if allowed else "none"
                kind = "a training setting" if hasattr(self.config, key) else "not one of its options"
                raise ConfigError(
                    f"{owner}: {key!r} is {kind}, which a trained model cannot change; only "
                    f"sampling options can (this model's: {choices})"
                )
        config = resolve_config(self.Config, {**config_to_dict(self.config), **values}, owner=owner)
        check_sampling_options(config, owner)
        self.config = config

    # -- sampling -----------------------------------------------------------------------------
    #
    # A subclass implements ``sample_latent(n, *, generator)`` (codes drawn on the CPU) and
    # ``generate(z, labels=None, **options)`` (codes to images); the keyword arguments of its
    # ``generate`` are its sampling options, which :meth:`sample` takes and hands on.

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, generator: torch.Generator | None = None,
               labels: torch.Tensor | int | None = None, **options: Any) -> torch.Tensor:
        """Return ``n`` new images, ``n×C×H×W`` floats in ``[0, 1]`` on the model's device.

        The latents are drawn with ``sample_latent`` (from ``generator``, or one seeded with
        ``seed``) and decoded, in eval mode, by ``generate(z, labels=..., **options)``. A
        ``generate`` that has a ``generator`` argument gets the same generator, to draw any
        further noise from (a seed then repeats that too).

        Args:
            n: How many images.
            seed: Makes the images repeatable without touching torch's global random state.
            generator: A CPU :class:`torch.Generator` to draw the latents from instead.
            labels: For class-conditional models: one class for all images, or ``n`` classes;
                ``None``: every class in turn (:func:`genzoo.labels.class_labels`).
            **options: The model's own sampling options: the keyword arguments of its
                ``generate``, such as ``steps=`` for a model that samples in steps
                (:class:`~genzoo.IterativeGenerator`; default: ``sampling_steps``, and checked
                by :func:`genzoo.sampling.check_sampling_steps`), or ``guidance=``.

        Raises:
            ConfigError: (a ValueError) ``n`` or ``steps`` is not a positive whole number,
                ``n`` images would not fit in memory (on the CPU),
                ``seed`` not a 64-bit whole number, ``labels`` is given to a model
                without classes, ``steps`` to a model that samples in one step, or an option
                that the model's ``generate`` does not take.
        """
        generator = sample_generator(n, seed, generator)
        for method in ("sample_latent", "generate"):
            if not callable(getattr(self, method, None)):
                raise NotImplementedError(
                    f"{type(self).__name__} has no {method}(); implement sample_latent and "
                    "generate, or override sample")
        weight = next(self.parameters(), None)
        if weight is None or weight.device.type == "cpu":  # not a crash in the allocator
            check_images_fit(tuple(self.image_shape), n)
        generate = self.generate  # type: ignore[attr-defined]
        takes, takes_any = _keyword_arguments(generate)
        options = self._sampling_options(options, takes - {"labels", "generator"}, takes_any)
        if "generator" in takes:
            options["generator"] = generator
        labels = class_labels(labels, n, class_count(self), self.device, owner=model_label(self))
        if labels is not None:
            options["labels"] = labels
        with eval_mode(self):
            z = self.sample_latent(n, generator=generator).to(self.device)  # type: ignore[attr-defined]
            return generate(z, **options).float().clamp_(0, 1)

    def _sampling_options(self, options: dict[str, Any], takes: frozenset[str],
                          takes_any: bool) -> dict[str, Any]:
        """``options`` checked against the sampling options ``takes`` of ``generate`` (any,
        with ``takes_any``), with ``steps`` checked and, for a model that samples in steps,
        filled in."""
        owner = model_label(self)
        steps = options.pop("steps", None)  # None: the model's default, whatever the model
        takes_steps = "steps" in takes or takes_any
        if steps is not None and not takes_steps:
            raise ConfigError(f"{owner} samples in one step; steps= is for models that sample "
                              "in steps (genzoo.IterativeGenerator)")
        unknown = sorted(set(options) - takes) if not takes_any else []
        if unknown:
            choices = (f"its options: {', '.join(sorted(takes))}" if takes
                       else "it takes none besides seed, generator and labels")
            raise ConfigError(f"{owner} has no sampling option {unknown[0]!r}; {choices}")
        if steps is not None:
            options["steps"] = check_sampling_steps(self, steps)
        elif takes_steps and isinstance(self, IterativeGenerator):
            options["steps"] = self.sampling_steps
        return options

    # -- training -----------------------------------------------------------------------------
    #
    # A trainable subclass implements the Trainer protocol's ``configure_optimizers`` and
    # ``training_step``; the base class defines neither, so ``isinstance(model, genzoo.Trainer)``
    # is True exactly for models that can be trained.

    def fit(self, data: Iterable[Any], epochs: int = 1, **options: Any) -> FitResult:
        """Train on ``data`` through the shared runner.

        Args:
            data: Any iterable of batches, re-iterable once per epoch: image tensors or
                ``(images, labels)`` tuples, ``N×C×H×W`` floats in ``[0, 1]`` or ``uint8``.
            epochs: The epoch to train up to (counting those of a resumed checkpoint).
            **options: Runner options, see :class:`genzoo.runner.RunOptions`.

        Returns:
            What the run did: epochs, steps, last metrics and the files written.
        """
        from .hub import export
        from .runner import fit

        # the trackers (mlflow=, wandb=) log the model folder of a run that finishes
        return fit(self, data, epochs=epochs, model_folder=export, **options)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model's weights and config to ``path`` atomically.

        :func:`genzoo.load` rebuilds the model from it, through the plugin that made it.

        Raises:
            CheckpointError: ``path`` is not a file path (empty, a folder, not a string) or
                cannot be written (the reason from the system: no permission, disk full, ...).
        """
        from .checkpoint import checkpoint_path, model_payload, write_checkpoint
        from .errors import CheckpointError

        target = checkpoint_path(path, "save()")
        if target.is_dir():
            raise CheckpointError(f"cannot save to {target}: it is a folder; name a file in it, "
                                  f"such as {target / 'model.pt'}")
        try:
            write_checkpoint(model_payload(self), target)
        except OSError as err:
            raise CheckpointError(f"cannot save to {target}: {err.strerror or err}") from err

    def save_pretrained(self, folder: str | os.PathLike[str], *, force: bool = False,
                        license: str | None = None, repo_id: str | None = None,
                        grid: int = 64) -> Path:
        """Write the model as a folder the Hugging Face Hub understands: ``config.json``,
        ``model.safetensors``, a model card, ``README.md``, and a grid of samples,
        ``samples.png`` (see :func:`genzoo.hub.save_pretrained`).

        :func:`genzoo.from_pretrained` loads it in any process; ``genzoo push`` uploads it.

        Args:
            folder: A new or empty folder, or one a previous export wrote.
            force: Also write into a folder that holds other files.
            license: The weights' licence for the card, as a Hub licence id.
            repo_id: The id it will be loaded by (``user/name``), for the card's examples.
            grid: How many samples the grid shows (seed 0); 0 for no grid.

        Returns:
            The folder.

        Raises:
            OutputExistsError: ``folder`` is a file, or holds other files and ``force`` is not set.
        """
        from .hub import save_pretrained

        return save_pretrained(self, folder, force=force, license=license, repo_id=repo_id,
                               grid=grid)

    def extra_repr(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self.config, f.name)!r}"
                           for f in dataclasses.fields(self.config))
        return f"config=({fields})"


def _keyword_arguments(function: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """The arguments ``function`` takes by keyword after its first, and whether it takes any
    keyword at all (``**kwargs``)."""
    parameters = list(inspect.signature(function).parameters.values())[1:]
    names = frozenset(p.name for p in parameters
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)
