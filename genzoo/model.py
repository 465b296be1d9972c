"""The base class the built-in models share: config handling, sampling, ``fit`` and ``save``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ._words import model_label
from .config import config_to_dict, resolve_config
from .errors import ConfigError
from .labels import class_count, class_labels
from .sampling import eval_mode

if TYPE_CHECKING:
    from .runner.loop import FitResult

__all__ = ["GenerativeModel"]


class GenerativeModel(nn.Module):
    """Base class for genzoo models: an :class:`torch.nn.Module` with a typed config.

    A subclass sets :attr:`Config` to a dataclass with an ``image_shape`` field, builds its layers
    in ``__init__`` (after calling ``super().__init__(config, **overrides)``), and implements
    ``sample_latent(n, *, generator)`` and ``generate(z, labels=None)`` (or overrides
    :meth:`sample`), and, to be trainable, the :class:`~genzoo.Trainer` methods
    ``configure_optimizers`` and ``training_step``. It then satisfies
    :class:`~genzoo.Generator` (and :class:`~genzoo.Trainer`), and gets :meth:`fit`,
    :meth:`sample` and :meth:`save`. The base class has no stubs: a model without a training
    step is not a :class:`~genzoo.Trainer`.

    A model that samples in steps (diffusion, flow matching) also has a ``sampling_steps``
    attribute and takes ``steps=`` in ``generate``; it then satisfies
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
        from .errors import ConfigError
        from .sampling import check_sampling_options, sampling_fields

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
    # A latent-variable subclass implements ``sample_latent(n, *, generator)`` (codes drawn on
    # the CPU) and ``generate(z, labels=None)`` (codes to images); an iterative one (diffusion,
    # flow matching) also has ``sampling_steps`` and takes ``steps=`` in ``generate``. Others
    # override :meth:`sample` itself.

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, generator: torch.Generator | None = None,
               labels: torch.Tensor | int | None = None, steps: int | None = None) -> torch.Tensor:
        """Return ``n`` new images, ``n×C×H×W`` floats in ``[0, 1]`` on the model's device.

        Args:
            n: How many images.
            seed: Makes the images repeatable without touching torch's global random state.
            generator: A CPU :class:`torch.Generator` to draw the latents from instead.
            labels: For class-conditional models: one class for all images, or ``n`` classes.
            steps: For models that sample in steps (:class:`~genzoo.IterativeGenerator`): how
                many (default: ``sampling_steps``).

        Raises:
            ConfigError: (a ValueError) ``n`` or ``steps`` is not a positive whole number,
                ``seed`` not a 64-bit whole number, ``labels`` is given to a model
                without classes, or ``steps`` to a model that samples in one step.
        """
        from .protocols import IterativeGenerator

        from .sampling import sample_generator

        generator = sample_generator(n, seed, generator)
        for method in ("sample_latent", "generate"):
            if not callable(getattr(self, method, None)):
                raise NotImplementedError(
                    f"{type(self).__name__} has no {method}(); implement sample_latent and "
                    "generate, or override sample")
        extra: dict[str, Any] = {}
        if isinstance(self, IterativeGenerator):
            if steps is not None:
                from .sampling import check_sampling_steps

                check_sampling_steps(self, steps)
            extra["steps"] = steps or self.sampling_steps
        elif steps is not None:
            raise ConfigError(f"{type(self).__name__} samples in one step; steps= is for models "
                              "that sample in steps (genzoo.IterativeGenerator)")
        with eval_mode(self):
            z = self.sample_latent(n, generator=generator).to(self.device)  # type: ignore[attr-defined]
            if labels is not None:
                extra["labels"] = class_labels(labels, n, class_count(self), self.device,
                                               owner=model_label(self))
            return self.generate(z, **extra).float().clamp_(0, 1)  # type: ignore[attr-defined]

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
        from .runner import fit

        return fit(self, data, epochs=epochs, **options)

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

    def extra_repr(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self.config, f.name)!r}"
                           for f in dataclasses.fields(self.config))
        return f"config=({fields})"

