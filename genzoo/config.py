"""Typed model configurations: dataclasses filled from keyword overrides, checked field by field.

A config saved before a field existed (in a checkpoint or a model folder's ``config.json``)
lacks that field. When the field changes the model's weights (an option that adds a network),
its default would build a model the saved weights do not fit: such a field is declared with
:func:`added_option`, which names the value a saved config without it stands for, and
:func:`saved_config` fills it in where a saved config is read back.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = ["resolve_config", "config_to_dict", "added_option", "added_values", "saved_config",
           "coerce", "check_names", "check_seed", "check_count"]

#: The seeds torch's generators take (``torch.manual_seed``): any 64-bit number.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1

C = TypeVar("C")

_ABSENT_KEY = "genzoo.config.absent"


def resolve_config(cls: type[C], overrides: Mapping[str, Any], *, owner: str = "model") -> C:
    """Build the dataclass ``cls`` from its defaults and ``overrides``, checking every value.

    Values may have the field's type or be strings (as from a command line), which are parsed.

    Args:
        cls: A dataclass type whose fields have type annotations.
        overrides: Field values to change.
        owner: What the config belongs to, for error messages (``"model 'vae'"``).

    Raises:
        ConfigError: a key is not a field (the message lists the valid ones and the closest
            match), or a value does not fit the field's type.
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        check_names((key,), fields, owner)
        try:
            values[key] = coerce(value, hints[key])
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"{owner} option {key!r} must be {_describe(hints[key])}, got {value!r} ({err})"
            ) from None
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{owner}: {err}") from None


def check_names(keys: Iterable[str], valid: Collection[str], owner: str = "model") -> None:
    """Refuse the first of ``keys`` that is not in ``valid``.

    Args:
        keys: The option names given.
        valid: The option names there are.
        owner: What the options belong to, for the message (``"model 'vae'"``).

    Raises:
        ConfigError: naming the key, the closest valid one and all the valid ones.
    """
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{owner} has no option {key!r}.{hint} Valid options: {', '.join(sorted(valid))}"
            )


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``seed`` as an int when torch's generators can take it (``None`` stays ``None``).

    Raises:
        ConfigError: ``seed`` is not a whole number (a float, a string, a bool) or does not fit
            in 64 bits, which torch cannot seed from.
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not hasattr(type(seed), "__index__"):
        raise ConfigError(f"{name} must be a whole number, got {seed!r}")
    seed = int(seed)
    if not SEED_MIN <= seed <= SEED_MAX:
        raise ConfigError(f"{name} {seed} does not fit in 64 bits, which torch seeds from; "
                          f"use a number from {SEED_MIN} to {SEED_MAX}")
    return seed


def check_count(n: Any, name: str = "n", what: str = "images") -> int:
    """``n`` as a positive int, or a :class:`ConfigError` naming ``name`` and what it got."""
    if isinstance(n, bool) or not hasattr(type(n), "__index__") or int(n) < 1:
        raise ConfigError(f"{name} must be a positive whole number of {what}, got {n!r}")
    return int(n)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a plain dict (tuples kept), safe for ``torch.save(weights_only)``."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def added_option(default: Any, *, absent: Any, **field_options: Any) -> Any:
    """A dataclass field for a model config option added after models were saved without it.

    Use it in place of a plain default when the option changes the model's weights, so that a
    config saved before it existed still builds the model its weights were trained as::

        @dataclass(frozen=True)
        class MyConfig:
            image_shape: tuple[int, int, int] = (1, 28, 28)
            adversarial: float = added_option(2.0, absent=0.0)  # 0.0: no critic, as before

    A checkpoint, model folder or run folder whose saved config lacks the field loads (and
    resumes) with ``absent``, the option's value before it existed, typically "off"; a model
    built now (:func:`genzoo.build`, ``--set``) gets ``default``. genzoo finds the field on the
    ``Config`` of the class the plugin registers. A field that is also a sampling option wraps
    :func:`genzoo.sampling.sampling_option`'s field:
    ``guidance: float = added_option(sampling_option(2.0, minimum=0.0), absent=1.0)``.

    It also serves a training option whose default changes, ``absent`` being the old default:
    ``genzoo train --resume`` takes each declared option that the run's ``train.toml`` does not
    name (it records only the options a user set) from the run's checkpoint, so a run begun
    before the change resumes with the value it began with.

    Args:
        default: The field's default value, or a field made by :func:`dataclasses.field` or
            :func:`genzoo.sampling.sampling_option` (then ``field_options`` must be empty).
        absent: What a saved config without the field means.
        **field_options: Further arguments of :func:`dataclasses.field`.

    Returns:
        The field (a copy of ``default`` when it is one), for the class body.

    Raises:
        TypeError: ``field_options`` given with a field.
    """
    if isinstance(default, dataclasses.Field):
        if field_options:
            raise TypeError("added_option() takes no field options with a field; give them to the field")
        field = copy.copy(default)  # the one given may serve elsewhere
        field.metadata = types.MappingProxyType({**default.metadata, _ABSENT_KEY: absent})
        return field
    metadata = {**field_options.pop("metadata", {}), _ABSENT_KEY: absent}
    return dataclasses.field(default=default, metadata=metadata, **field_options)


def added_values(cls: type | None, saved: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``cls``'s :func:`added_option` fields in the saved config ``saved``: its
    own where it has the field, else the field's ``absent``.

    Args:
        cls: The config dataclass (anything else: none).
        saved: The config as a checkpoint or a model folder's ``config.json`` holds it.

    Returns:
        Field name to value, for the declared fields only.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return {}
    return {f.name: saved.get(f.name, f.metadata[_ABSENT_KEY]) for f in dataclasses.fields(cls)
            if _ABSENT_KEY in f.metadata}


def saved_config(cls: type | None, saved: Mapping[str, Any]) -> dict[str, Any]:
    """``saved`` with each field of ``cls`` that it lacks and :func:`added_option` declared set
    to its ``absent`` value (the other fields it lacks stay out, to take their defaults).

    Args:
        cls: The config dataclass the values are for (anything else: ``saved`` as it is).
        saved: The config as a checkpoint or a model folder's ``config.json`` holds it.

    Returns:
        The config to build the model with.
    """
    return {**saved, **added_values(cls, saved)}


def coerce(value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp``, parsing strings; raise ``TypeError``/``ValueError``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg)
            except (TypeError, ValueError) as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if origin is typing.Literal:
        for choice in args:
            if type(value) is type(choice) and value == choice:
                return choice
            if isinstance(value, str) and str(choice) == value:
                return choice
            if isinstance(choice, str) and type(value) is int and str(value) == choice:
                return choice  # precision = 32 in a TOML file means "32"
        raise ValueError(f"not one of {', '.join(map(repr, args))}")
    if origin is tuple:
        items = _split(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0]) for v in items)
        if len(items) != len(args):
            raise ValueError(f"expected {len(args)} items, got {len(items)}")
        return tuple(coerce(v, a) for v, a in zip(items, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "yes", "1", "on", "false", "no", "0", "off"}:
            return value.lower() in {"true", "yes", "1", "on"}
        raise TypeError("expected true or false")
    if tp is int:
        if isinstance(value, bool):
            raise TypeError("expected an integer, not a bool")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return int(value)
        raise TypeError("expected an integer")
    if tp is float:
        if isinstance(value, bool):
            raise TypeError("expected a number, not a bool")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return float(value)
        raise TypeError("expected a number")
    if tp is str:
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value)
        raise TypeError("expected a string")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise TypeError(f"expected {_describe(tp)}")


_SIZE = re.compile(r"\s*\d+(\s*x\s*\d+)+\s*")


def _split(value: Any) -> list[Any]:
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        if _SIZE.fullmatch(text):  # "1x28x28"
            text = text.replace("x", ",")
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError("expected a sequence")


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_describe(args[0])}"
        return f"a tuple ({', '.join(_describe(a) for a in args)})"
    if tp is type(None):
        return "None"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp)))
