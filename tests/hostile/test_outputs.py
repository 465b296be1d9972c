"""Hostile inputs, outputs: an output never replaces an input.

``genzoo eval --json``, ``genzoo report -o`` and ``genzoo sample -o`` replace an existing file
only when it is their own kind of output (a result, a report page, an image genzoo sample
wrote), unless ``--force``; never silently a checkpoint, a run's files or anything else.
``--out``/``-o`` may not be empty (an unset shell variable would mean the current folder), and
a run or samples may not be written into a data set.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.cli import TINY_VAE, FAST, invoke, ok, tiny_root, write_pngs  # noqa: F401 - a fixture

from . import Case, copy_run, run_case
from .casework import hostile_run  # noqa: F401 - a fixture


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _with_run(extra: Any = None):
    """Setup: a copy of the tiny run (and ``extra(tmp, run)``'s values); remembers every file."""

    def setup(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
        run = copy_run(fixtures["run"], tmp / "run")
        values = {"run": run, "checkpoint": run / "checkpoints" / "last.pt"}
        if extra is not None:
            values.update(extra(tmp, run) or {})
        values["before"] = _digests(tmp)
        return values

    return setup


def _unchanged(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert _digests(tmp) == values["before"], "a file was replaced or added"


def _foreign(name: str, content: bytes):
    def extra(tmp: Path, run: Path) -> dict[str, Any]:
        (tmp / name).write_bytes(content)
        return {"file": tmp / name}
    return extra


def _data_image(tmp: Path, run: Path) -> dict[str, Any]:
    write_pngs(tmp / "faces", 4, size=8)
    return {"file": tmp / "faces" / "img_000.png", "faces": tmp / "faces"}


def _link_to_checkpoint(tmp: Path, run: Path) -> dict[str, Any]:
    (tmp / "grid.png").symlink_to(run / "checkpoints" / "last.pt")
    return {"file": tmp / "grid.png"}


def _own_sample(tmp: Path, run: Path) -> dict[str, Any]:
    ok(invoke("sample", run / "checkpoints" / "last.pt", "-n", "4", "-o", tmp / "grid.png",
              "--seed", "1"))
    ok(invoke("sample", run / "checkpoints" / "last.pt", "-n", "2", "-o", tmp / "samples"))
    return {"file": tmp / "grid.png"}


def _own_report(tmp: Path, run: Path) -> dict[str, Any]:
    ok(invoke("report", run, "-o", tmp / "page.html", "--title", "first"))
    return {"file": tmp / "page.html"}


def _replaced(check):
    def after(tmp: Path, values: dict[str, Any], result: Any) -> None:
        assert check(values["file"].read_bytes()), "the output was not written"
    return after


def _no_run_in(folder: str):
    def after(tmp: Path, values: dict[str, Any], result: Any) -> None:
        where = tmp / folder
        assert not (where / "checkpoints").exists() and not (where / "grids").exists()
        assert not (where / "run.json").exists() and not (where / "metrics.jsonl").exists()
        _unchanged(tmp, values, result)
    return after


_TRAIN = ("train", "vae", "--data-root", "{data_root}", "--epochs", "1", *TINY_VAE, *FAST)
_SAMPLE = ("sample", "{checkpoint}", "-n", "4")
_EVAL = ("eval", "{checkpoint}", "-n", "8")
_REPLACE = ("writing would replace it", "--force")

CASES = [
    # genzoo eval --json
    Case("eval-json-over-its-own-checkpoint", (*_EVAL, "--json", "{checkpoint}"),
         says=("is the checkpoint of the run", *_REPLACE), setup=_with_run(), after=_unchanged),
    Case("eval-json-over-train-toml", (*_EVAL, "--json", "{run}/train.toml"),
         says=("train.toml of the run", *_REPLACE), setup=_with_run(), after=_unchanged),
    Case("eval-json-over-run-json", (*_EVAL, "--json", "{run}/run.json"),
         says=("run.json of the run",), setup=_with_run(), after=_unchanged),
    Case("eval-json-over-a-file-of-another-kind", (*_EVAL, "--json", "{file}"),
         says=("exists and is not a genzoo eval result", *_REPLACE),
         setup=_with_run(_foreign("notes.json", b'{"my": "notes"}\n')), after=_unchanged),
    Case("eval-json-empty", (*_EVAL, "--json", ""), says=("--json is empty",),
         setup=_with_run(), after=_unchanged),
    # genzoo report -o
    Case("report-over-the-checkpoint", ("report", "{run}", "-o", "{checkpoint}"),
         says=("is the checkpoint of the run", *_REPLACE), setup=_with_run(), after=_unchanged),
    Case("report-over-metrics-jsonl", ("report", "{run}", "-o", "{run}/metrics.jsonl"),
         says=("metrics.jsonl of the run",), setup=_with_run(), after=_unchanged),
    Case("report-over-a-page-genzoo-did-not-write", ("report", "{run}", "-o", "{file}"),
         says=("is not a genzoo report page", *_REPLACE),
         setup=_with_run(_foreign("index.html", b"<!doctype html><p>my home page</p>\n")),
         after=_unchanged),
    Case("report-over-its-own-page", ("report", "{run}", "-o", "{file}", "--title", "second"),
         expect="ok", setup=_with_run(_own_report), after=_replaced(lambda b: b"second" in b)),
    Case("report-over-another-page-with-force",
         ("report", "{run}", "-o", "{file}", "--force"), expect="ok",
         setup=_with_run(_foreign("index.html", b"<p>old</p>")),
         after=_replaced(lambda b: b"genzoo report" in b)),
    Case("report-empty-output", ("report", "{run}", "-o", ""), says=("-o/--output is empty",),
         setup=_with_run(), after=_unchanged),
    # genzoo sample -o
    Case("sample-over-a-data-image", (*_SAMPLE, "-o", "{file}"),
         says=("img_000.png exists and is not an image genzoo sample wrote", *_REPLACE),
         setup=_with_run(_data_image), after=_unchanged),
    Case("sample-over-a-runs-grid", (*_SAMPLE, "-o", "{run}/grids/samples_final.png"),
         says=("grids/samples_final.png of the run", *_REPLACE),
         setup=_with_run(), after=_unchanged),
    Case("sample-over-a-link-to-the-checkpoint", (*_SAMPLE, "-o", "{file}"),
         says=("a link to", "is the checkpoint of the run"),
         setup=_with_run(_link_to_checkpoint), after=_unchanged),
    Case("sample-over-a-jpeg-of-someone-else", (*_SAMPLE, "-o", "{file}"),
         says=("photo.jpg exists and is not an image genzoo sample wrote",),
         setup=_with_run(_foreign("photo.jpg", b"\xff\xd8\xff\xe0 a holiday photo")),
         after=_unchanged),
    Case("sample-over-its-own-grid-and-folder", (*_SAMPLE, "-o", "{file}"), expect="ok",
         setup=_with_run(_own_sample), after=_replaced(lambda b: b.startswith(b"\x89PNG"))),
    Case("sample-over-a-data-image-with-force", (*_SAMPLE, "-o", "{file}", "--force"),
         expect="ok", setup=_with_run(_data_image),
         after=_replaced(lambda b: b"genzoo sample" in b)),
    Case("sample-folder-into-a-data-set", (*_SAMPLE, "-o", "{faces}"),
         says=("holds images", "looks like a data set", "--force"),
         setup=_with_run(_data_image), after=_unchanged),
    Case("sample-empty-output", (*_SAMPLE, "-o", ""), says=("-o/--output is empty",),
         setup=_with_run(), after=_unchanged),
    # genzoo train --out
    Case("train-out-empty", (*_TRAIN, "--out", ""), says=("--out is empty",),
         setup=_with_run(), after=_no_run_in(".")),
    Case("train-out-the-data-folder", (*_TRAIN, "--data", "{faces}", "--out", "{faces}"),
         says=("is the data folder", "would become part of the data"),
         setup=_with_run(_data_image), after=_no_run_in("faces")),
    Case("train-out-inside-the-data-folder",
         (*_TRAIN, "--data", "{faces}", "--out", "{faces}/run"),
         says=("inside the data folder",), setup=_with_run(_data_image),
         after=_no_run_in("faces/run")),
    Case("train-out-another-data-set", (*_TRAIN, "--out", "{faces}"),
         says=("holds images", "looks like a data set"), setup=_with_run(_data_image),
         after=_no_run_in("faces")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_outputs(case: Case, tmp_path: Path, hostile_run: dict[str, Any],  # noqa: F811
                 monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, tmp_path, hostile_run, monkeypatch)
