"""Hostile inputs, security: no file a user hands genzoo may run code or leak another file.

* a pretrained network's weights (``--weights``, ``$GENZOO_INCEPTION_WEIGHTS``) are checked
  before torch-fidelity, which unpickles with ``weights_only=False``, sees them: a pickle that
  runs code is refused in one line and the code never runs;
* ``genzoo report`` reads only regular files inside the run folder, of bounded size, and embeds
  only intact PNGs: a grid linked to another file, to ``/dev/zero`` or a FIFO is not read.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.cli import tiny_root  # noqa: F401 - a fixture

from . import Case, copy_run, run_case
from .casework import hostile_run  # noqa: F401 - a fixture

SECRET = b"genzoo-secret: this file is outside the run folder\n"


class _RunsCode:
    """Unpickling it runs ``touch MARKER``: what a crafted weights file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch '{self.marker}'",))


def _evil_weights(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
    torch.save({"conv.weight": _RunsCode(tmp / "PWNED")}, tmp / "weights.pth")
    return {"checkpoint": copy_run(fixtures["run"], tmp / "run") / "checkpoints" / "last.pt",
            "weights": tmp / "weights.pth"}


def _nothing_ran(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert not (tmp / "PWNED").exists(), "the weights file ran code"


def _junk_clip(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
    (tmp / "clip.pt").write_bytes(b"PK\x03\x04 not OpenAI's TorchScript archive")
    return {"checkpoint": copy_run(fixtures["run"], tmp / "run") / "checkpoints" / "last.pt",
            "weights": tmp / "clip.pt"}


def _grid_link(target: str):
    """A run whose grids/samples_epoch_0001.png links to ``target`` (``{tmp}`` filled)."""

    def setup(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
        run = copy_run(fixtures["run"], tmp / "run")
        (tmp / "secret.txt").write_bytes(SECRET)
        (run / "grids" / "samples_epoch_0001.png").symlink_to(target.format(tmp=tmp))
        return {"run": run}

    return setup


def _grid_fifo(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
    run = copy_run(fixtures["run"], tmp / "run")
    os.mkfifo(run / "grids" / "samples_epoch_0001.png")  # reading it would wait for ever
    return {"run": run}


def _grid_not_png(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
    run = copy_run(fixtures["run"], tmp / "run")
    (run / "grids" / "samples_epoch_0001.png").write_bytes(SECRET)  # a copied file, not a PNG
    return {"run": run}


def _metrics_link(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
    run = copy_run(fixtures["run"], tmp / "run")
    (tmp / "elsewhere.jsonl").write_text('{"epoch": 1, "step": 4, "secret_loss": 123.5}\n')
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(tmp / "elsewhere.jsonl")
    return {"run": run}


def _secret_not_embedded(tmp: Path, values: dict[str, Any], result: Any) -> None:
    page = (values["run"] / "report.html").read_text(encoding="utf-8")
    assert base64.b64encode(SECRET).decode()[:40] not in page, "another file was embedded"
    assert "secret_loss" not in page, "a log outside the run folder was read"
    assert page.count('<img class=grid src="data:image/png;base64,') >= 1  # the real grids stay


def _skipped(note: str):
    def after(tmp: Path, values: dict[str, Any], result: Any) -> None:
        _secret_not_embedded(tmp, values, result)
        assert note in (values["run"] / "report.html").read_text(encoding="utf-8")
    return after


_EVAL = ("eval", "{checkpoint}", "--data-root", "{data_root}", "-n", "8", "--json", "{tmp}/e.json")

CASES = [
    Case("eval-inception-weights-that-run-code",
         (*_EVAL, "--features", "inception", "--weights", "{weights}"),
         says=("weights.pth", "weights_only=True", "posix.system"),
         setup=_evil_weights, after=_nothing_ran),
    Case("eval-vgg16-weights-that-run-code",
         (*_EVAL, "--features", "vgg16", "--weights", "{weights}"),
         says=("weights.pth", "weights_only=True"), setup=_evil_weights, after=_nothing_ran),
    Case("eval-inception-weights-from-the-environment-that-run-code",
         (*_EVAL, "--features", "inception"), says=("weights.pth", "weights_only=True"),
         setup=_evil_weights, after=_nothing_ran,
         env={"GENZOO_INCEPTION_WEIGHTS": "weights.pth"}),
    Case("eval-clip-weights-not-the-published-file",
         (*_EVAL, "--features", "clip-vit-b-32", "--weights", "{weights}"),
         says=("clip.pt is not the published clip-vit-b-32 weights", "SHA-256"),
         setup=_junk_clip),
    Case("report-grid-linked-to-a-file-outside-the-run", ("report", "{run}"), expect="ok",
         setup=_grid_link("{tmp}/secret.txt"), after=_skipped("leads out of the run folder")),
    Case("report-grid-linked-to-dev-zero", ("report", "{run}"), expect="ok",
         setup=_grid_link("/dev/zero"), after=_skipped("samples_epoch_0001.png skipped")),
    Case("report-grid-that-is-a-fifo", ("report", "{run}"), expect="ok",
         setup=_grid_fifo, after=_skipped("is not a regular file")),
    Case("report-grid-that-is-not-a-png", ("report", "{run}"), expect="ok",
         setup=_grid_not_png, after=_skipped("is not an intact PNG image")),
    Case("report-metrics-linked-out-of-the-run", ("report", "{run}"), expect="ok",
         setup=_metrics_link, after=_skipped("metrics.jsonl skipped")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_security(case: Case, tmp_path: Path, hostile_run: dict[str, Any],  # noqa: F811
                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch_fidelity")
    run_case(case, tmp_path, hostile_run, monkeypatch)
