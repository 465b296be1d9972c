"""Read a run folder into one :class:`RunRecord`: settings, logs, grids, evaluations, versions.

Every file is optional except that a run folder must hold ``run.json`` or ``metrics.jsonl``; a
line or file that cannot be read is skipped with a note in :attr:`RunRecord.notes`, so a report
of a run still being written (or of an older genzoo's run) shows what there is.

Only regular files inside the run folder are read, each of bounded size
(:func:`genzoo.files.read_regular_file`): a link out of the folder, a device or a FIFO is
skipped with a note. A grid is embedded only if it is a PNG image (:func:`grid_image`); a
``run.json`` that is not an object, and log lines whose ``epoch``, ``step`` or ``seconds`` is not
a number, are skipped the same way.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GenzooError, UnsafeFileError
from ..files import read_regular_file

__all__ = ["Evaluation", "Grid", "RunRecord", "read_run", "read_evaluation", "grid_image"]

#: The most bytes read of one JSON or TOML file, of one log, and of one grid image.
JSON_LIMIT = 64 << 20
LOG_LIMIT = 512 << 20
GRID_LIMIT = 64 << 20
#: The most pixels of a grid image embedded (its header is checked before anything else).
GRID_PIXELS = 64 << 20
#: Entries of a log line that must be numbers when present.
_NUMBERS = ("epoch", "step", "seconds")
#: Entries of ``run.json`` that must be objects when present.
_TABLES = ("config", "run", "versions")

_GRID = re.compile(r"^(samples|reconstructions)_(?:(epoch|step)_(\d+)|(final))\.png$")

#: The evaluation numbers a report shows first, in order, with the direction that is better.
EVAL_METRICS = {"fid": "FID ↓", "kid": "KID ↓", "classifier_score": "classifier score ↑",
                "precision": "precision ↑", "recall": "recall ↑", "density": "density",
                "coverage": "coverage ↑", "nll": "NLL ↓", "bits_per_dim": "bits/dim ↓"}
#: Entries of an evaluation's JSON that describe how it was made rather than what it measured.
_PROTOCOL = ("card", "protocol")


@dataclass(frozen=True)
class Grid:
    """One grid image of a run.

    Attributes:
        path: The PNG file.
        kind: ``"samples"`` or ``"reconstructions"``.
        label: When it was drawn, for a caption (``"epoch 5"``, ``"step 500"``, ``"final"``).
        step: The training step it was drawn at, when known (the final grid: ``None``).
        folder: The run folder it must lie in (``None``: anywhere).
    """

    path: Path
    kind: str
    label: str
    step: int | None
    folder: Path | None = None


@dataclass
class Evaluation:
    """One evaluation of a run (``genzoo eval``'s JSON).

    Attributes:
        source: The JSON file.
        values: Metric name → ``(value, low, high, floor)``; the interval and the real-data
            floor are ``None`` when the file has none.
        details: Other plain entries (data set, sample count, seed, protocol ...), as text.
    """

    source: Path
    values: dict[str, tuple[float, float | None, float | None, float | None]]
    details: dict[str, str]


@dataclass
class RunRecord:
    """Everything a report shows of one run.

    Attributes:
        folder: The run folder.
        name: A short name for the run (its folder's name).
        model: The registered model name.
        run: ``run.json`` (model, config, epochs, run options, versions).
        settings: ``train.toml``'s text, when the run was made by ``genzoo train``.
        epochs: ``metrics.jsonl``, one dict per epoch line.
        steps: ``steps.jsonl``, one dict per logging interval.
        grids: Sample and reconstruction grids in training order.
        evaluations: Evaluations found beside the run's checkpoints.
        versions: genzoo's, torch's and the plugin's versions.
        notes: Files or lines that could not be read.
    """

    folder: Path
    name: str
    model: str
    run: dict[str, Any] = field(default_factory=dict)
    settings: str | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    versions: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def grids_of(self, kind: str) -> list[Grid]:
        """The grids of one kind (``"samples"`` or ``"reconstructions"``), in training order."""
        return [g for g in self.grids if g.kind == kind]


def read_run(folder: str | Path) -> RunRecord:
    """Read the run folder ``folder``.

    Raises:
        GenzooError: ``folder`` is not a folder, or holds neither ``run.json`` nor
            ``metrics.jsonl``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GenzooError(f"{folder} is not a run folder (no such folder); give the --out folder "
                          "of a training run")
    if not (folder / "run.json").is_file() and not (folder / "metrics.jsonl").is_file():
        raise GenzooError(f"{folder} is not a run folder: it has no run.json or metrics.jsonl; "
                          "give the --out folder of a training run")
    notes: list[str] = []
    run = _run_json(folder, notes)
    record = RunRecord(folder=folder, name=folder.resolve().name, model=str(run.get("model", "?")),
                       run=run, notes=notes)
    toml = _read_text(folder / "train.toml", folder, JSON_LIMIT, notes)
    if toml is not None:
        record.settings = toml
    lines = _read_lines(folder / "metrics.jsonl", notes, folder)
    record.epochs = [line for line in lines if "event" not in line]
    for event in (line for line in lines if "event" in line):  # a run stopped early says why
        details = ", ".join(f"{k} {v}" for k, v in event.items() if k not in ("event", "reason"))
        notes.append(f"{event['event']}: {event.get('reason', '')}"
                     + (f" ({details})" if details else ""))
    record.steps = _read_lines(folder / "steps.jsonl", notes, folder)
    epoch_steps = {int(e["epoch"]): int(e["step"]) for e in record.epochs
                   if finite_number(e.get("epoch")) and finite_number(e.get("step"))
                   and not e.get("partial")}
    record.grids = _grids(folder / "grids", epoch_steps, folder, notes)
    record.versions = dict(run.get("versions") or {}) or _checkpoint_versions(folder, notes)
    for path in sorted({*folder.glob("eval*.json"), *(folder / "checkpoints").glob("*.json")}):
        evaluation = read_evaluation(path, notes, inside=folder)
        if evaluation is not None:
            record.evaluations.append(evaluation)
    return record


def read_evaluation(path: Path, notes: list[str] | None = None, *,
                    inside: Path | None = None) -> Evaluation | None:
    """Read ``genzoo eval``'s JSON at ``path``; ``None`` (with a note) when it is not one (or
    is not a regular file inside the folder ``inside``, when given).

    The metrics sit at the top level or in a ``scores`` table. Each may be a number or a dict
    with its value and interval (``value``/``mean``/``estimate``, ``low``/``lower``/``ci_low``,
    ``high``/``upper``/``ci_high``, or ``ci``/``interval`` as a pair); intervals may also sit in
    ``intervals``/``ci`` tables or in ``<metric>_ci`` entries. A ``card`` or ``protocol`` table
    (how the evaluation was made) becomes details, flattened to ``key.subkey`` entries.
    """
    notes = notes if notes is not None else []
    data = _read_json(path, notes, inside)
    if not isinstance(data, dict):
        return None
    scores = data["scores"] if isinstance(data.get("scores"), dict) else data
    floors = data.get("floor") if isinstance(data.get("floor"), dict) else {}
    tables = [t for key in ("intervals", "ci", "confidence_intervals")
              if isinstance(t := data.get(key), dict)]
    values: dict[str, tuple[float, float | None, float | None, float | None]] = {}
    for name in [*EVAL_METRICS, *sorted(k for k in scores if k not in EVAL_METRICS)]:
        raw = scores.get(name)
        value, low, high = _value_and_interval(raw)
        if value is None or name in ("n", "seed", "format_version"):
            continue
        if low is None:
            for source in [data.get(f"{name}_ci"), data.get(f"{name}_interval"),
                           *(t.get(name) for t in tables)]:
                low, high = _interval(source)
                if low is not None:
                    break
        floor, _, _ = _value_and_interval(floors.get(name))
        values[name] = (value, low, high, floor)
    if not values:
        notes.append(f"{path.name}: no metrics in it")
        return None
    if "inception_fid" in data and isinstance(data["inception_fid"], dict):
        fid = data["inception_fid"]
        value, low, high = _value_and_interval(fid.get("fid"))
        if value is not None:
            floor, _, _ = _value_and_interval(fid.get("floor"))
            values["inception_fid"] = (value, low, high, floor)
    details = {k: _text(v) for k, v in data.items()
               if k not in values and k not in ("scores", "floor", "intervals", "ci", "inception_fid",
                                                *_PROTOCOL)
               and not k.endswith(("_ci", "_interval")) and _text(v)}
    for key in _PROTOCOL:
        if isinstance(data.get(key), dict):
            details.update(_flatten(data[key], f"{key}."))
    return Evaluation(path, values, details)


def _flatten(record: dict[str, Any], prefix: str) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif _text(value):
            flat[f"{prefix}{key}"] = _text(value)
    return flat


def _value_and_interval(raw: Any) -> tuple[float | None, float | None, float | None]:
    if finite_number(raw):
        return float(raw), None, None
    if isinstance(raw, dict):
        value = next((float(raw[k]) for k in ("value", "mean", "estimate", "point")
                      if finite_number(raw.get(k))), None)
        if value is None:
            return None, None, None
        low, high = _interval(raw)
        return value, low, high
    return None, None, None


def _interval(raw: Any) -> tuple[float | None, float | None]:
    if isinstance(raw, (list, tuple)) and len(raw) == 2 and all(finite_number(v) for v in raw):
        return float(raw[0]), float(raw[1])
    if isinstance(raw, dict):
        low = next((raw[k] for k in ("low", "lower", "ci_low", "lo")
                    if finite_number(raw.get(k))), None)
        high = next((raw[k] for k in ("high", "upper", "ci_high", "hi")
                     if finite_number(raw.get(k))), None)
        if low is not None and high is not None:
            return float(low), float(high)
        for key in ("ci", "interval"):
            if key in raw:
                return _interval(raw[key])
    return None, None


def finite_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool, NaN or infinity)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _text(value: Any) -> str:
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items() if _text(v))
    return ""


def _read_text(path: Path, inside: Path | None, limit: int, notes: list[str]) -> str | None:
    """The text of ``path`` (``None`` when there is none, or with a note when it is not a
    regular file inside ``inside`` of at most ``limit`` bytes)."""
    if not os.path.lexists(path):
        return None
    try:
        return read_regular_file(path, limit=limit, inside=inside).decode("utf-8", "replace")
    except (UnsafeFileError, OSError) as err:
        notes.append(f"{path.name} skipped: {_reason(err)}")
        return None


def _reason(err: Exception) -> str:
    if isinstance(err, OSError):
        return err.strerror or str(err)
    return str(err)


def _read_json(path: Path, notes: list[str], inside: Path | None = None) -> Any:
    text = _read_text(path, inside, JSON_LIMIT, notes)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as err:  # invalid JSON, or a number too long to convert
        notes.append(f"{path.name} could not be read: {err}")
        return None


def _run_json(folder: Path, notes: list[str]) -> dict[str, Any]:
    """``run.json`` with entries of the wrong type dropped (each with a note)."""
    run = _read_json(folder / "run.json", notes, folder)
    if run is None:
        return {}
    if not isinstance(run, dict):
        notes.append(f"run.json skipped: it holds a {type(run).__name__}, not an object")
        return {}
    for key in _TABLES:
        if key in run and run[key] is not None and not isinstance(run[key], dict):
            notes.append(f"run.json: {key!r} skipped: a {type(run[key]).__name__}, not an object")
            del run[key]
    if "model" in run and not isinstance(run["model"], str):
        notes.append(f"run.json: 'model' skipped: a {type(run['model']).__name__}, not a name")
        del run["model"]
    return run


def _valid_line(record: Any) -> bool:
    """Whether a log line is an object whose epoch, step and seconds are numbers (when there)
    and whose event, if any, is a name."""
    if not isinstance(record, dict):
        return False
    if "event" in record:
        return isinstance(record["event"], str)
    return all(finite_number(record[key]) for key in _NUMBERS if key in record)


def _read_lines(path: Path, notes: list[str], inside: Path | None = None) -> list[dict[str, Any]]:
    text = _read_text(path, inside, LOG_LIMIT, notes)
    if text is None:
        return []
    records, bad = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if _valid_line(record):
            records.append(record)
        else:
            bad += 1
    if bad:
        notes.append(f"{path.name}: {bad} unreadable line(s) skipped")
    return records


def _grids(folder: Path, epoch_steps: dict[int, int], run: Path | None = None,
           notes: list[str] | None = None) -> list[Grid]:
    """The grids in ``folder`` in training order; ``epoch_steps`` maps epochs to their last step.

    With ``run``, a grid that is not a regular file inside that run folder (a link out of it,
    a device) is left out with a note.
    """
    per_epoch = max((s / e for e, s in epoch_steps.items() if e), default=0.0)
    grids = []
    root = run.resolve() if run is not None else None
    for path in folder.glob("*.png") if folder.is_dir() else []:
        match = _GRID.match(path.name)
        if match is None:
            continue
        if root is not None:
            real = path.resolve()
            if not real.is_relative_to(root) or not real.is_file():
                if notes is not None:
                    where = "leads out of the run folder" if not real.is_relative_to(root) else \
                        "is not a regular file"
                    notes.append(f"grids/{path.name} skipped: it {where}")
                continue
        kind, unit, number, final = match.groups()
        if final:
            grids.append(Grid(path, kind, "final", None, run))
        elif unit == "step":
            grids.append(Grid(path, kind, f"step {int(number):,}", int(number), run))
        else:
            epoch = int(number)
            step = epoch_steps.get(epoch, round(epoch * per_epoch))
            grids.append(Grid(path, kind, f"epoch {epoch}", step, run))
    return sorted(grids, key=lambda g: (g.step is None, g.step or 0, g.label))


def grid_image(grid: Grid) -> bytes | None:
    """The PNG bytes of ``grid``, or ``None`` unless it is a regular file (inside its run
    folder) of at most :data:`GRID_LIMIT` bytes that is an intact PNG image of at most
    :data:`GRID_PIXELS` pixels. The bytes checked are the bytes returned."""
    import io
    import warnings

    from PIL import Image

    try:
        data = read_regular_file(grid.path, limit=GRID_LIMIT, inside=grid.folder)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > GRID_PIXELS:
                    return None
                image.verify()  # every chunk's checksum, without decoding the pixels
    except Exception:  # noqa: BLE001 - anything a damaged or hostile file raises: not shown
        return None
    return data


def _checkpoint_versions(folder: Path, notes: list[str]) -> dict[str, Any]:
    path = folder / "checkpoints" / "last.pt"
    if not path.is_file():
        return {}
    if not path.resolve().is_relative_to(folder.resolve()):
        notes.append(f"versions: {path} leads out of the run folder, so it was not read")
        return {}
    try:
        import torch

        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001 - a report shows what it can
        notes.append(f"versions: {path} could not be read ({type(err).__name__})")
        return {}
    return dict(payload.get("versions") or {}) if isinstance(payload, dict) else {}
