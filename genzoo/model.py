"""The base class the built-in models share: config handling, sampling, ``fit`` and ``save``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from .config import config_to_dict, resolve_config

if TYPE_CHECKING:
    from .protocols import Batch, StepContext
    from .runner.result import FitResult

__all__ = ["GenerativeModel", "eval_mode"]


class GenerativeModel(nn.Module):
    """Base class for genzoo models: an :class:`torch.nn.Module` with a typed config.

    A subclass sets :attr:`Config` to a dataclass with an ``image_shape`` field, builds its layers
    in ``__init__`` (after calling ``super().__init__(config, **overrides)``), and implements
    :meth:`sample_latent`, :meth:`generate`, and the :class:`~genzoo.Trainer` methods
    ``configure_optimizers`` and ``training_step``. It then satisfies
    :class:`~genzoo.Generator` and :class:`~genzoo.Trainer`, and gets :meth:`fit`,
    :meth:`sample` and :meth:`save`.

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

    # -- sampling -----------------------------------------------------------------------------

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent codes on the CPU (so a seed gives the same codes on any device)."""
        raise NotImplementedError

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode latent codes ``z`` (on the model's device) to images in ``[0, 1]``.

        Class-conditional models also take ``labels`` (``None``: random classes).
        """
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, generator: torch.Generator | None = None,
               labels: torch.Tensor | int | None = None) -> torch.Tensor:
        """Return ``n`` new images, ``n×C×H×W`` floats in ``[0, 1]`` on the model's device.

        Args:
            n: How many images.
            seed: Makes the images repeatable without touching torch's global random state.
            generator: A CPU :class:`torch.Generator` to draw the latents from instead.
            labels: For class-conditional models: one class for all images, or ``n`` classes.

        Raises:
            ValueError: ``n`` is not positive, or ``labels`` is given to a model without classes.
        """
        if n < 1:
            raise ValueError(f"n must be a positive number of images, got {n}")
        if seed is not None:
            generator = torch.Generator().manual_seed(seed)
        with eval_mode(self):
            z = self.sample_latent(n, generator=generator).to(self.device)
            if labels is None:
                return self.generate(z).float().clamp_(0, 1)
            return self.generate(z, labels=self._labels(labels, n)).float().clamp_(0, 1)

    def _labels(self, labels: torch.Tensor | int, n: int) -> torch.Tensor:
        classes = getattr(self.config, "num_classes", 0)
        if not classes:
            raise ValueError(f"{type(self).__name__} is not class-conditional; sample without labels")
        labels = torch.as_tensor(labels, dtype=torch.long)
        labels = labels.expand(n) if labels.dim() == 0 else labels
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= classes:
            raise ValueError(f"labels must be one class or {n} classes in [0, {classes})")
        return labels.to(self.device)

    # -- training -----------------------------------------------------------------------------

    def configure_optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        """Return this model's optimizers by name (see :class:`~genzoo.Trainer`)."""
        raise NotImplementedError

    def training_step(self, batch: Batch, step: StepContext) -> Mapping[str, torch.Tensor]:
        """Take one training step (see :class:`~genzoo.Trainer`)."""
        raise NotImplementedError

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
        """
        from .checkpoint import model_payload, write_checkpoint

        write_checkpoint(model_payload(self), path)

    def extra_repr(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self.config, f.name)!r}"
                           for f in dataclasses.fields(self.config))
        return f"config=({fields})"


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode for the block, then restore the mode it had."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)
