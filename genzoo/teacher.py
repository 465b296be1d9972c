"""Frozen teachers: the model a student (a :class:`~genzoo.Student`) trains against.

A :class:`Teacher` wraps a trained model: frozen (eval mode, no parameter takes gradients),
named by where it came from (:attr:`Teacher.source`) and by a hash of its weights
(:attr:`Teacher.sha256`, :func:`weights_sha256`). It is not a :class:`torch.nn.Module`, so a
student that keeps it as an attribute does not make it part of its own parameters,
``state_dict``, optimizers, weight EMA or checkpoint; the runner moves it to the training
device and checkpoints record only its source and hash.

:func:`as_teacher` turns what a user passes (``genzoo.build(NAME, teacher=...)``,
``genzoo train NAME --teacher ...``) into a :class:`Teacher`: a model object, or a checkpoint
file, a run folder, a model folder, a Hugging Face Hub repository id or a shipped
``pretrained:NAME``, loaded through
:func:`genzoo.hub.load_model`. That loader sits in a layer above this module and above the
runner, which also loads a run's recorded teacher on resume; :mod:`genzoo.hub` hands it down
with :func:`set_teacher_loader` when it is imported (``import genzoo`` imports it, so it is
always in place).
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable
from typing import Any

import torch

from .errors import ConfigError, GenzooError

__all__ = ["Teacher", "as_teacher", "load_teacher", "weights_sha256", "set_teacher_loader",
           "short_hash"]

#: Loads a teacher from a source string: returns the model and the source to record (an
#: absolute path, or the Hub id as given). Set by :mod:`genzoo.hub`.
TeacherLoader = Callable[[str], tuple[Any, str]]
_loader: TeacherLoader | None = None


def set_teacher_loader(loader: TeacherLoader) -> None:
    """Install the function that loads a teacher from a path or Hub id (done by
    :mod:`genzoo.hub`, which owns loading; the layers below it cannot import it)."""
    global _loader
    _loader = loader


def weights_sha256(model: Any) -> str:
    """The SHA-256 of a model's weights: its ``state_dict`` tensors in sorted name order, each
    as its name, dtype, shape and raw bytes (on the CPU, contiguous).

    The same weights give the same hash on any device and in any process; any changed value,
    name, shape or dtype changes it.
    """
    digest = hashlib.sha256()
    state = model.state_dict()
    for name in sorted(state):
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor):
            continue
        data = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}|{data.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def short_hash(sha256: str | None) -> str:
    """The first 12 hex digits of a hash, as messages show it."""
    return (sha256 or "?")[:12]


class Teacher:
    """A frozen model that a student trains against.

    Making one freezes ``model`` in place: eval mode, and ``requires_grad`` off on every
    parameter, so no gradient ever reaches it. A method called through the teacher
    (``teacher.velocity(x, t)``, ``teacher.sample(n)``), or the teacher itself (its
    ``forward``), runs under :func:`torch.no_grad`; :attr:`model` is the frozen model itself.
    During ``fit`` the runner puts it on the training device, and the student's
    ``training_step``, which calls it, runs in the training precision.

    Args:
        model: The trained model (any :class:`torch.nn.Module`; usually a genzoo model).
        source: Where it was loaded from (an absolute path, or a Hub id), recorded in
            checkpoints so a resume can load it again; ``None`` for a model made in memory.

    Attributes:
        model: The frozen model.
        source: Where it came from, or ``None``.
        sha256: The hash of its weights (:func:`weights_sha256`), computed once here.
        name: Its registered model name (or its class name).
    """

    def __init__(self, model: Any, *, source: str | None = None) -> None:
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(f"a teacher must be a trained model (a torch.nn.Module), got "
                              f"{type(model).__name__}")
        model.eval()
        model.requires_grad_(False)
        self.model = model
        self.source = source
        self.sha256 = weights_sha256(model)
        self.name: str = getattr(model, "registry_name", "") or type(model).__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The model's ``forward``, without gradients."""
        with torch.no_grad():
            return self.model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # only what Teacher itself lacks arrives here; a method of the model runs without gradients
        if name.startswith("__") or "model" not in self.__dict__:
            raise AttributeError(name)
        value = getattr(self.__dict__["model"], name)
        if inspect.ismethod(value):
            method = value

            def without_gradients(*args: Any, **kwargs: Any) -> Any:
                with torch.no_grad():
                    return method(*args, **kwargs)

            without_gradients.__name__ = name
            without_gradients.__doc__ = method.__doc__
            return without_gradients
        return value

    def to(self, device: torch.device | str) -> Teacher:
        """Move the model to ``device`` (in place) and return the teacher."""
        self.model.to(device)
        return self

    def record(self) -> dict[str, Any]:
        """What a checkpoint keeps of the teacher: its source, weight hash and model name."""
        return {"source": self.source, "sha256": self.sha256, "model": self.name}

    def describe(self) -> str:
        """The teacher in words: ``'flow-matching' from runs/fm/checkpoints/last.pt (sha256 ...)'``."""
        where = f" from {self.source}" if self.source else " (made in memory)"
        return f"{self.name!r}{where} (sha256 {short_hash(self.sha256)})"

    def __repr__(self) -> str:
        return f"Teacher({self.describe()})"


def load_teacher(source: str | os.PathLike[str]) -> Teacher:
    """Load a teacher from a checkpoint file, a run folder (its last checkpoint), a model
    folder or a Hub repository id.

    Raises:
        CheckpointError, HubError, UnknownModelError: as :func:`genzoo.hub.load_model`.
        ConfigError: ``source`` is empty.
    """
    text = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    if text is None or not text.strip():
        raise ConfigError(f"teacher must name a checkpoint, run folder, model folder or Hub "
                          f"repository, got {source!r}")
    if _loader is None:  # genzoo.hub is imported with genzoo: only a broken install gets here
        raise GenzooError("cannot load a teacher: genzoo.hub is not imported")
    model, where = _loader(text)
    return Teacher(model, source=where)


def as_teacher(teacher: Any) -> Teacher:
    """``teacher`` as a :class:`Teacher`: a teacher as it is, a model frozen in place, a path or
    Hub id loaded with :func:`load_teacher`.

    Raises:
        ConfigError: it is none of these.
        CheckpointError, HubError, UnknownModelError: as :func:`load_teacher`.
    """
    if isinstance(teacher, Teacher):
        return teacher
    if isinstance(teacher, (str, os.PathLike)):
        return load_teacher(teacher)
    if isinstance(teacher, torch.nn.Module):
        return Teacher(teacher)
    raise ConfigError(f"teacher must be a trained model, a checkpoint, a run or model folder, or "
                      f"a Hub repository id, got {type(teacher).__name__}")
