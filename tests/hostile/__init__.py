"""The hostile-input suite: tables of careless and malicious inputs, each with its expected outcome.

Every module here holds one table, ``CASES``, of :class:`Case` rows for one area (security,
outputs, runs, sampling, evaluation, ...) and one parametrized test that runs each row. A row
names the input, how to set it up, and what must happen: a one-line user error containing given
words, or success; and after it, what must still be true (no file replaced, nothing run, no
traceback). The suite grows with every command: a new command adds its rows here.

``python -m pytest tests/hostile -q`` prints one line per case; the number of cases is the
number of collected tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    """One hostile or careless input and what genzoo must do with it.

    Attributes:
        id: A short name for the case, shown by pytest.
        argv: The ``genzoo`` command line, as strings; ``{tmp}`` and other ``{name}`` fields are
            filled from the dict that ``setup`` returns (``tmp`` is always there).
        expect: ``"error"`` (exit status 2, exactly one ``Error:`` line, no traceback) or
            ``"ok"`` (exit status 0, no traceback).
        says: Fragments the error message (or, for ``"ok"``, the output) must contain.
        setup: Builds what the case needs under a temporary folder; returns named paths and
            values to fill into ``argv`` (it receives the folder and the session's fixtures).
        after: Checks that run after the command: nothing replaced, nothing run, ...
        env: Environment variables for the call.
    """

    id: str
    argv: tuple[str, ...]
    expect: str = "error"
    says: tuple[str, ...] = ()
    setup: Callable[..., dict[str, Any]] | None = None
    after: Callable[..., None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def fill(argv: tuple[str, ...], values: dict[str, Any]) -> list[str]:
    """``argv`` with every ``{name}`` replaced by ``values[name]`` (paths as strings)."""
    return [arg.format(**{k: str(v) if isinstance(v, Path) else v for k, v in values.items()})
            for arg in argv]
