"""Unit tests of genzoo.config: typed config dataclasses filled from keyword overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from genzoo.config import coerce, config_to_dict, resolve_config
from genzoo.errors import ConfigError, GenzooError


@dataclass(frozen=True)
class Sample:
    steps: int = 10
    lr: float = 1e-3
    shuffle: bool = True
    name: str = "run"
    shape: tuple[int, ...] = (1, 28, 28)
    betas: tuple[float, float] = (0.5, 0.999)
    mode: Literal["fast", "slow"] = "fast"
    seed: int | None = None
    tag: Optional[str] = None
    hidden: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must not be negative, got {self.steps}")


# -- resolve_config -------------------------------------------------------------------------


def test_defaults_when_no_overrides() -> None:
    assert resolve_config(Sample, {}) == Sample()


def test_typed_overrides_kept() -> None:
    cfg = resolve_config(Sample, {"steps": 3, "lr": 0.5, "shuffle": False, "name": "x",
                                  "shape": (3, 8, 8), "betas": (0.9, 0.99), "mode": "slow",
                                  "seed": 7, "tag": "t"})
    assert cfg == Sample(3, 0.5, False, "x", (3, 8, 8), (0.9, 0.99), "slow", 7, "t")


def test_string_overrides_coerced_as_from_a_cli() -> None:
    cfg = resolve_config(Sample, {"steps": "12", "lr": "1e-3", "shuffle": "false",
                                  "shape": "1,28,28", "betas": "0.9, 0.99", "mode": "slow",
                                  "seed": "none", "tag": "None"})
    assert cfg.steps == 12 and type(cfg.steps) is int
    assert cfg.lr == pytest.approx(1e-3) and type(cfg.lr) is float
    assert cfg.shuffle is False
    assert cfg.shape == (1, 28, 28) and all(type(v) is int for v in cfg.shape)
    assert cfg.betas == (0.9, 0.99)
    assert cfg.mode == "slow"
    assert cfg.seed is None and cfg.tag is None


def test_int_given_for_float_becomes_float() -> None:
    cfg = resolve_config(Sample, {"lr": 1})
    assert cfg.lr == 1.0 and type(cfg.lr) is float


def test_unknown_key_names_key_valid_options_and_closest() -> None:
    with pytest.raises(ConfigError, match=r"model 'demo' has no option 'stesp'\. "
                                          r"Did you mean 'steps'\? Valid options: ") as info:
        resolve_config(Sample, {"stesp": 3}, owner="model 'demo'")
    message = str(info.value)
    listed = message.split("Valid options: ")[1]
    assert listed == "betas, lr, mode, name, seed, shape, shuffle, steps, tag"


def test_unknown_key_without_close_match_has_no_hint() -> None:
    with pytest.raises(ConfigError, match=r"has no option 'zzzzzz'\. Valid options") as info:
        resolve_config(Sample, {"zzzzzz": 1})
    assert "Did you mean" not in str(info.value)


def test_init_false_field_is_not_an_option() -> None:
    with pytest.raises(ConfigError, match=r"has no option 'hidden'"):
        resolve_config(Sample, {"hidden": 1})


def test_config_error_is_a_genzoo_error_and_a_value_error() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(Sample, {"nope": 1})
    assert isinstance(info.value, GenzooError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("steps", "abc", r"option 'steps' must be an integer, got 'abc'"),
        ("steps", True, r"option 'steps' must be an integer, got True \(expected an integer, not a bool\)"),
        ("steps", 1.5, r"option 'steps' must be an integer, got 1\.5"),
        ("steps", "1e3", r"option 'steps' must be an integer"),
        ("steps", None, r"option 'steps' must be an integer, got None"),
        ("lr", "fast", r"option 'lr' must be a number, got 'fast'"),
        ("lr", False, r"option 'lr' must be a number, got False \(expected a number, not a bool\)"),
        ("shuffle", 1, r"option 'shuffle' must be true or false, got 1"),
        ("shuffle", "maybe", r"option 'shuffle' must be true or false, got 'maybe'"),
        ("name", 5, r"option 'name' must be a string, got 5"),
        ("shape", (1, "x"), r"option 'shape' must be a tuple of an integer"),
        ("shape", 28, r"option 'shape' must be a tuple of an integer, got 28 \(expected a sequence\)"),
        ("shape", (1, True), r"option 'shape' must be a tuple of an integer"),
        ("betas", (0.5,), r"option 'betas' must be a tuple \(a number, a number\), got \(0\.5,\) "
                          r"\(expected 2 items, got 1\)"),
        ("betas", "0.1,0.2,0.3", r"option 'betas' must be a tuple \(a number, a number\)"),
        ("mode", "medium", r"option 'mode' must be one of 'fast', 'slow', got 'medium'"),
        ("seed", "abc", r"option 'seed' must be an integer or None, got 'abc'"),
        ("seed", True, r"option 'seed' must be an integer or None"),
        ("tag", 3, r"option 'tag' must be a string or None, got 3"),
    ],
)
def test_ill_typed_value_is_a_config_error(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        resolve_config(Sample, {key: value})


def test_post_init_error_becomes_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^model: steps must not be negative, got -1$"):
        resolve_config(Sample, {"steps": -1})


def test_config_to_dict_round_trips_and_keeps_tuples() -> None:
    cfg = resolve_config(Sample, {"shape": "3x4x5"})
    as_dict = config_to_dict(cfg)
    assert as_dict["shape"] == (3, 4, 5) and isinstance(as_dict["shape"], tuple)
    assert set(as_dict) == {f.name for f in dataclasses.fields(Sample)}
    as_dict.pop("hidden")
    assert resolve_config(Sample, as_dict) == cfg


# -- coerce ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        ("1e-3", float, 1e-3),
        ("-2.5", float, -2.5),
        (3, float, 3.0),
        ("42", int, 42),
        (" 7 ", int, 7),
        (7, int, 7),
        ("true", bool, True),
        ("True", bool, True),
        ("yes", bool, True),
        ("on", bool, True),
        ("1", bool, True),
        ("false", bool, False),
        ("no", bool, False),
        ("off", bool, False),
        ("0", bool, False),
        (False, bool, False),
        ("hello", str, "hello"),
        ("1,28,28", tuple[int, ...], (1, 28, 28)),
        ("(1, 28, 28)", tuple[int, ...], (1, 28, 28)),
        ("[3, 4]", tuple[int, ...], (3, 4)),
        ("1x28x28", tuple[int, ...], (1, 28, 28)),
        ([1, "2"], tuple[int, ...], (1, 2)),
        ("0.5,0.999", tuple[float, float], (0.5, 0.999)),
        ((1, 2), tuple[float, float], (1.0, 2.0)),
        ("slow", Literal["fast", "slow"], "slow"),
        ("2", Literal[1, 2], 2),
        ("none", int | None, None),
        ("NONE", Optional[int], None),
        (None, int | None, None),
        ("5", int | None, 5),
        ("anything", object, "anything"),
    ],
)
def test_coerce_accepts(value: object, tp: object, expected: object) -> None:
    got = coerce(value, tp)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, tuple):
        assert [type(v) for v in got] == [type(v) for v in expected]


@pytest.mark.parametrize(
    ("value", "tp", "error"),
    [
        (True, int, TypeError),
        (False, int, TypeError),
        (True, float, TypeError),
        ("1.5", int, ValueError),
        (1.5, int, TypeError),
        ("x", float, ValueError),
        (1, bool, TypeError),
        ("maybe", bool, TypeError),
        (None, int, TypeError),
        ("none", int, ValueError),
        (b"1", str, TypeError),
        ((1, True), tuple[int, ...], TypeError),
        ("1,2", tuple[int, int, int], ValueError),
        ({1: 2}, tuple[int, ...], TypeError),
        ("medium", Literal["fast", "slow"], ValueError),
        (True, int | None, ValueError),
        ("abc", int | None, ValueError),
        (3, str | None, ValueError),
    ],
)
def test_coerce_rejects(value: object, tp: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        coerce(value, tp)


@pytest.mark.parametrize("tp", [int, float, int | None, Optional[float]])
def test_bool_not_accepted_as_a_number(tp: object) -> None:
    with pytest.raises((TypeError, ValueError), match="not a bool"):
        coerce(True, tp)


@pytest.mark.parametrize("tp", [tuple[int, ...], tuple[int, int], tuple[float, float]])
def test_bool_not_accepted_as_a_tuple_item(tp: object) -> None:
    with pytest.raises(TypeError, match="not a bool"):
        coerce((1, True), tp)


def test_bool_not_accepted_for_int_literal() -> None:
    with pytest.raises(ValueError):
        coerce(True, Literal[1, 2])


def test_string_tuple_keeps_letter_x() -> None:
    assert coerce("max,xavier", tuple[str, ...]) == ("max", "xavier")
