"""``--checkpoint-every`` and ``--grid-every`` values: a count of epochs or of steps."""

from __future__ import annotations

import re
from typing import Any

import click

_FORM = re.compile(r"^\s*(\d+)\s*(epochs?|steps?)?\s*$", re.IGNORECASE)


class Interval(click.ParamType):
    """``K`` or ``Kepochs`` (every K epochs) or ``Ksteps`` (every K steps); ``0`` turns it off.

    Converts to ``(K, "epochs")`` or ``(K, "steps")``.
    """

    name = "K[steps]"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[int, str]:
        if isinstance(value, tuple):
            return value
        match = _FORM.match(str(value))
        if match is None:
            self.fail(f"{value!r} is not an interval: write a number of epochs (5, 5epochs) or "
                      "of steps (500steps)", param, ctx)
        count, unit = int(match.group(1)), (match.group(2) or "epochs").lower()
        return count, "steps" if unit.startswith("step") else "epochs"


#: The one instance the options use.
INTERVAL = Interval()


def split_intervals(options: dict[str, Any], *names: str) -> None:
    """Turn each ``options[name] = (K, unit)`` into ``name`` (epochs) and ``name_steps`` (steps):
    K in the unit given, 0 (off) in the other."""
    for name in names:
        value = options.get(name)
        if isinstance(value, tuple):
            count, unit = value  # one unit replaces the other: 500steps means no epoch grids
            options[name] = count if unit == "epochs" else 0
            options[f"{name}_steps"] = count if unit == "steps" else 0
