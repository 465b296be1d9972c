"""Hostile inputs, errors: one line instead of a traceback.

A CelebA image whose header claims 20000×20000 pixels (in the streaming loader), an absurd
``--image-size``, a malformed ``run.json`` or metrics line in ``genzoo report``, a weights file
that is not the network's; and output into a pipe whose reader has gone (``genzoo list
--datasets | head -1``) ends quietly, as Unix tools do (a real process and a closed pipe).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.cli import FAST, TINY_VAE, tiny_root  # noqa: F401 - a fixture
from tests.data.writers import write_celeba

from . import Case, copy_run, run_case
from .casework import hostile_run  # noqa: F401 - a fixture


def _celeba_bomb(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
    write_celeba(tmp / "data", [0, 0, 0, 0])
    bad = tmp / "data" / "celeba" / "img_align_celeba" / "000003.jpg"
    data = bytearray(bad.read_bytes())
    frame = data.find(b"\xff\xc0")  # the JPEG frame header: height and width at +5
    data[frame + 5:frame + 9] = struct.pack(">HH", 20000, 20000)
    bad.write_bytes(bytes(data))
    return {"root": tmp / "data"}


def _run_with(name: str, text: str, append: bool = False):
    def setup(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
        run = copy_run(fixtures["run"], tmp / "run")
        with open(run / name, "a" if append else "w", encoding="utf-8") as file:
            file.write(text + "\n")
        return {"run": run}
    return setup


def _weights(content: Any):
    def setup(tmp: Path, fixtures: dict[str, Any]) -> dict[str, Any]:
        if isinstance(content, bytes):
            (tmp / "weights.pth").write_bytes(content)
        else:
            torch.save(content, tmp / "weights.pth")
        return {"checkpoint": copy_run(fixtures["run"], tmp / "run") / "checkpoints" / "last.pt"}
    return setup


def _noted(note: str):
    def after(tmp: Path, values: dict[str, Any], result: Any) -> None:
        assert note in (values["run"] / "report.html").read_text(encoding="utf-8")
    return after


_TRAIN = ("train", "vae", "--epochs", "1", "--out", "{tmp}/out", *TINY_VAE, *FAST)
_EVAL = ("eval", "{checkpoint}", "--data-root", "{data_root}", "-n", "8", "--json", "{tmp}/e.json")

CASES = [
    Case("celeba-image-claiming-20000x20000-pixels",
         (*_TRAIN, "--data", "celeba", "--data-root", "{root}", "--no-download",
          "--image-size", "8"),
         says=("000003.jpg is too large to decode safely", "decompression bomb",
               "img_align_celeba.zip"), setup=_celeba_bomb),
    Case("image-size-20000", (*_TRAIN, "--data-root", "{data_root}", "--image-size", "20000"),
         says=("20000x20000", "400,000,000 pixels", "smaller size (--image-size)")),
    Case("report-run-json-a-list", ("report", "{run}"), expect="ok", setup=_run_with("run.json", "[1, 2]"),
         after=_noted("run.json skipped: it holds a list, not an object")),
    Case("report-run-json-a-string", ("report", "{run}"), expect="ok",
         setup=_run_with("run.json", '"a run"'), after=_noted("not an object")),
    Case("report-run-json-tables-of-the-wrong-type", ("report", "{run}"), expect="ok",
         setup=_run_with("run.json", '{"model": ["vae"], "config": [1], "run": "x", "versions": [1]}'),
         after=_noted("&#x27;config&#x27; skipped")),
    Case("report-metrics-line-a-list", ("report", "{run}"), expect="ok",
         setup=_run_with("metrics.jsonl", "[1, 2]", append=True),
         after=_noted("metrics.jsonl: 1 unreadable line(s) skipped")),
    Case("report-metrics-line-string-numbers", ("report", "{run}"), expect="ok",
         setup=_run_with("metrics.jsonl", '{"epoch": "one", "step": "x", "seconds": "s"}', append=True),
         after=_noted("metrics.jsonl: 1 unreadable line(s) skipped")),
    Case("report-metrics-line-null-seconds", ("report", "{run}"), expect="ok",
         setup=_run_with("metrics.jsonl", '{"epoch": 2, "step": 8, "seconds": null}', append=True),
         after=_noted("unreadable line(s) skipped")),
    Case("report-steps-line-string-step", ("report", "{run}"), expect="ok",
         setup=_run_with("steps.jsonl", '{"step": "x", "loss": 1.0}', append=True),
         after=_noted("steps.jsonl: 1 unreadable line(s) skipped")),
    Case("eval-weights-of-another-network", (*_EVAL, "--features", "vgg16", "--weights", "{tmp}/weights.pth"),
         says=("weights.pth does not hold the vgg16 weights torch-fidelity expects",),
         setup=_weights({"conv.weight": torch.ones(2)})),
    Case("eval-weights-that-are-not-a-torch-file",
         (*_EVAL, "--features", "inception", "--weights", "{tmp}/weights.pth"),
         says=("weights.pth is not a plain inception weights file", "damaged"),
         setup=_weights(b"these are not weights\n")),
    Case("eval-weights-that-are-not-a-table-of-tensors",
         (*_EVAL, "--features", "inception", "--weights", "{tmp}/weights.pth"),
         says=("holds a list, not a table of tensors",), setup=_weights([1, 2, 3])),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_errors(case: Case, tmp_path: Path, hostile_run: dict[str, Any],  # noqa: F811
                monkeypatch: pytest.MonkeyPatch) -> None:
    if "--features" in case.argv:
        pytest.importorskip("torch_fidelity")
    run_case(case, tmp_path, hostile_run, monkeypatch)


@pytest.mark.parametrize("argv", [("list", "--datasets"), ("list",)])
def test_output_into_a_closed_pipe_ends_quietly(argv: tuple[str, ...]) -> None:
    """``genzoo list --datasets | head -1``: the reader is gone before genzoo writes (its end
    of the pipe is closed at once), so every write fails: no "Error: Broken pipe", no
    traceback, status 141 as a Unix tool that SIGPIPE ends."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "genzoo", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    process.stdout.close()  # type: ignore[union-attr]
    errors = process.stderr.read().decode()  # type: ignore[union-attr]
    assert process.wait(timeout=120) == 141, errors
    assert errors == ""
