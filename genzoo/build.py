"""Building models by name, and listing what can be built."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from .config import check_seed
from .errors import ConfigError, GenzooError, PluginError
from .memory import format_bytes, memory_limit, training_memory
from .plugins import registry
from .protocols import Student
from .registry import BrokenPlugin, ModelInfo, PretrainedInfo
from .sampling import check_sampling_options
from .teacher import Teacher, as_teacher

__all__ = ["build", "list_models", "model_infos", "broken_plugins", "registry_name_of"]


def build(name: str, *, seed: int | None = None, teacher: Any = None, **config: Any) -> Any:
    """Build the model registered as ``name``, with config fields overridden by ``config``.

    Args:
        name: A registered model name; :func:`list_models` lists them.
        seed: Initialise the weights from this seed (torch's global random state is left as
            it was); otherwise from the global state.
        teacher: For a model that trains against a teacher (a :class:`~genzoo.Student`): the
            trained model it learns from, frozen in place, or a checkpoint file, run folder,
            model folder, Hub repository id or ``pretrained:NAME`` to load it from (see
            :class:`genzoo.teacher.Teacher`). It is handed to the model's ``set_teacher``
            under the same ``seed``.
        **config: Fields of the model's config to change from their defaults.

    Raises:
        UnknownModelError: no model has that name (the message lists them and the closest).
        ConfigError: a config key is unknown or a value has the wrong type.
        DuplicateModelError: two installed distributions register ``name``.
        ConfigError: the settings ask for a model too large for this machine's memory (the
            message gives the estimate), or a config value is not finite, or ``teacher`` is
            given to a model that takes none.
        CheckpointError: the teacher cannot be loaded from the path or repository named.
        PluginError: the plugin's factory cannot be imported, raises, or returns nothing; the
            message names the plugin.
    """
    seed = check_seed(seed)
    info = registry().get(name)
    factory = info.load_factory()
    check_model_size(name, factory, config)
    if teacher is not None and isinstance(factory, type) and not all(
            hasattr(factory, member) for member in ("teacher_required", "set_teacher")):
        raise _no_teacher(name)  # before a teacher is loaded for nothing
    frozen = as_teacher(teacher) if teacher is not None else None
    try:
        if seed is None:
            model = _make(name, factory, config, frozen)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = _make(name, factory, config, frozen)
    except _NoTeacher:
        raise _no_teacher(name) from None
    except ConfigError as err:
        raise ConfigError(f"cannot build {name!r}: {err}") from None
    except GenzooError:
        raise
    except (MemoryError, OverflowError) as err:
        raise ConfigError(f"cannot build {name!r} with these settings ({_settings(config)}): "
                          f"{type(err).__name__}: {err}; use smaller sizes") from err
    except Exception as err:  # the plugin's bug, reported against the plugin
        raise PluginError(f"model {name!r} from {info.origin} (plugin {info.plugin!r}) failed to "
                          f"build: {type(err).__name__}: {err}") from err
    if model is None:
        raise PluginError(f"the factory of model {name!r} from {info.origin} returned None")
    _refuse_non_finite(name, model)
    check_sampling_options(getattr(model, "config", None), f"cannot build {name!r}")
    _check_optimizers(name, model)
    try:
        model.registry_name = name
    except AttributeError:  # a frozen third-party object: save/load then cannot name it
        pass
    return model


def _make(name: str, factory: Callable[..., Any], config: dict[str, Any],
          teacher: Teacher | None) -> Any:
    """The model from ``factory``, given ``teacher`` when there is one."""
    model = factory(**config)
    if teacher is not None:
        if not isinstance(model, Student):
            raise _NoTeacher
        model.registry_name = name  # for the student's messages
        model.set_teacher(teacher)
    return model


class _NoTeacher(Exception):
    """A teacher was given to a model that is not a :class:`~genzoo.Student`."""


def _no_teacher(name: str) -> ConfigError:
    return ConfigError(f"cannot build {name!r} with a teacher: it takes none (it is not a "
                       "genzoo.Student); drop --teacher (teacher=), or train a model that learns "
                       "from one")


def _settings(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items() if k != "image_shape") or "defaults"


def _refuse_non_finite(name: str, model: Any) -> None:
    """A NaN or infinite number in a model's config (a loss weight, a learning rate) trains on
    garbage without an error; refuse it here."""
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        return
    for field in dataclasses.fields(config):
        values = getattr(config, field.name)
        for value in values if isinstance(values, (tuple, list)) else (values,):
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"cannot build {name!r}: {field.name} must be a finite "
                                  f"number, got {getattr(config, field.name)!r}")


def _check_optimizers(name: str, model: Any) -> None:
    """Make the model's optimizers once, so that settings torch refuses (a negative learning
    rate, betas outside [0, 1)) fail at build time rather than when training starts."""
    configure = getattr(model, "configure_optimizers", None)
    if not callable(configure):
        return
    try:
        configure()
    except (ValueError, TypeError) as err:
        raise ConfigError(f"cannot build {name!r}: its optimizer refuses these settings: {err}") from err
    except Exception:  # noqa: BLE001 - anything else is the runner's to report, at fit time
        return


def check_model_size(name: str, factory: Callable[..., Any], config: dict[str, Any]) -> None:
    """Refuse settings whose weights alone would not fit in the memory this process may use
    (:func:`genzoo.memory.memory_limit`: physical memory, cgroup and ``ulimit -v`` limits).
    Training needs several times more; the runner checks that before the first step.

    When a setting is a large number (over 2048), the model is first built on PyTorch's
    ``meta`` device, which allocates nothing, to count its parameters. A factory that cannot
    build on ``meta`` is not checked.

    Raises:
        ConfigError: with the estimate, before anything is allocated.
    """
    numbers = [v for value in config.values()
               for v in (value if isinstance(value, (tuple, list)) else (value,))]
    if not any(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > 2048
               for v in numbers + [_number(v) for v in numbers if isinstance(v, str)]):
        return
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            probe = factory(**config)
        tensors = [*probe.parameters(), *probe.buffers()]
    except Exception:
        return  # the real build reports whatever is wrong
    weights = sum(t.numel() * t.element_size() for t in tensors)
    limit = memory_limit()
    if limit is not None and weights > limit.available:
        params = sum(t.numel() for t in tensors)
        raise ConfigError(
            f"cannot build {name!r} with these settings ({_settings(config)}): it would have "
            f"{params:,} parameters, {format_bytes(weights)} of weights alone (about "
            f"{format_bytes(training_memory(weights))} to train), more than the "
            f"{limit.describe()}; use smaller sizes"
        )


def _number(text: str) -> float:
    try:
        return max((abs(float(part)) for part in text.replace("x", ",").split(",") if part.strip()),
                   default=0.0)
    except ValueError:
        return 0.0


def list_models(pattern: str = "*") -> list[str]:
    """The names :func:`build` accepts, sorted, filtered by a shell-style ``pattern``."""
    return registry().names(pattern)


def model_infos(pattern: str = "*") -> list[ModelInfo]:
    """Each registered model with its plugin, distribution, version and summary."""
    return registry().infos(pattern)


def list_pretrained(pattern: str = "*") -> list[PretrainedInfo]:
    """The model folders installed plugins ship, loadable as ``"pretrained:NAME"`` by
    :func:`genzoo.from_pretrained` and ``genzoo sample``/``eval``/``info``, filtered by a
    shell-style ``pattern``; ``genzoo list --pretrained`` shows them with their scores."""
    return registry().pretrained_infos(pattern)


def broken_plugins() -> list[BrokenPlugin]:
    """The plugins that failed to load, with the error each raised."""
    return list(registry().broken.values())


def registry_name_of(model: Any) -> str:
    """The name ``model`` was built under, looked up by its class if it was built directly."""
    name = getattr(model, "registry_name", "")
    if name:
        return name
    for info in registry().infos():
        if info.factory is type(model) or (
            isinstance(info.factory, str) and info.factory.endswith(":" + type(model).__qualname__)
            and info.factory.startswith(type(model).__module__ + ":")
        ):
            return info.name
    raise PluginError(
        f"cannot tell which registered model a {type(model).__name__} is; build it with "
        "genzoo.build(name) so that it can be saved and loaded"
    )

