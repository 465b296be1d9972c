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

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.cli import invoke, ok, user_error


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
            values to fill into ``argv`` and ``says`` (it receives the folder and the table's
            fixtures, ``monkeypatch`` among them).
        after: Checks that run after the command, ``after(tmp, values, result)``: nothing
            replaced, nothing run, ...
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


def run_case(case: Case, tmp: Path, fixtures: dict[str, Any], monkeypatch: pytest.MonkeyPatch
             ) -> None:
    """Set ``case`` up in ``tmp`` (also the working folder), run its command in this process and
    check what must happen: a one-line user error with the words it must say, or success."""
    monkeypatch.chdir(tmp)
    values: dict[str, Any] = {"tmp": tmp, **fixtures}
    if case.setup is not None:
        values.update(case.setup(tmp, {**fixtures, "monkeypatch": monkeypatch}) or {})
    for name, value in case.env.items():
        monkeypatch.setenv(name, fill((value,), values)[0])
    result = invoke(*fill(case.argv, values))
    says = fill(case.says, values)
    if case.expect == "error":
        user_error(result, *says)
    else:
        ok(result)
        for fragment in says:
            assert fragment in result.output, f"{fragment!r} not in {result.output!r}"
    if case.after is not None:
        case.after(tmp, values, result)


def copy_run(run: Path, to: Path) -> Path:
    """A copy of the run folder ``run`` at ``to`` (without its lock folder), for a case that
    changes or damages it."""
    shutil.copytree(run, to, ignore=shutil.ignore_patterns(".genzoo"))
    return to


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes), to check that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".genzoo" not in p.parts}
