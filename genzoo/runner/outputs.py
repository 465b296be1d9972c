"""Everything a run writes and shows: the run folder's files (``run.json``, sample grids, the
metrics logs, TensorBoard, the report page), the experiment trackers that get copies of them
(:mod:`.trackers`), the losses averaged per logging interval, and the progress shown while
training (a bar on a terminal, plain lines elsewhere).

The logs are JSON Lines: ``metrics.jsonl`` holds a line per epoch, ``steps.jsonl`` one per
logging interval. Only rank 0 writes; on other ranks (and without ``out=``) every method of
:class:`RunOutputs` is a no-op. Checkpoints are the run state's (:mod:`genzoo.runner.state`);
claiming the folder is :mod:`genzoo.runner.runfolder`'s.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import torch

from ..checkpoint import versions
from ..errors import GenzooError
from ..extras import require
from ..protocols import Encoder
from ..sampling import NonFiniteSamplesError, eval_mode
from .options import RunOptions
from .trackers import Status, Trackers, make_trackers, recorded_trackers, run_record

#: Writes a run's model folder: called as ``model_folder(run_folder, target)``.
ModelFolderWriter = Callable[[Path, Path], object]

__all__ = ["RunOutputs", "ModelFolderWriter", "save_sample_grid", "save_reconstruction_grid",
           "reconstruction_rows", "reconstruction_row_length", "LossMeans", "MetricsLog", "Progress",
           "TensorBoardLog"]


#: While a run goes, ``report.html`` is rewritten at most this often (and always at the end).
REPORT_SECONDS = 60.0


class RunOutputs:
    """Everything a run writes into its folder ``out`` (``None``: nothing).

    With ``collective=True`` (a sharded model, whose forward pass gathers its weights from every
    rank), ranks that write nothing still draw the grids' samples alongside rank 0.
    ``model_folder`` writes the run's model folder for the trackers when the run finishes
    (:func:`genzoo.hub.export`, which :meth:`genzoo.GenerativeModel.fit` passes).
    """

    def __init__(self, out: Path | None, opts: RunOptions, collective: bool = False,
                 model_folder: ModelFolderWriter | None = None) -> None:
        self.out = out
        self.opts = opts
        self.collective = collective
        self.model_folder = model_folder
        self.metrics_log = MetricsLog(out / "metrics.jsonl") if out is not None else None
        self.steps_log = MetricsLog(out / "steps.jsonl") if out is not None else None
        self.tensorboard: TensorBoardLog | None = None
        self.trackers = Trackers([])
        # on a resume into a folder with TensorBoard events: the last step they hold
        self._tensorboard_through = 0
        self._report_written = 0.0

    def start(self, model: Any, epochs: int, resumed_epoch: int, resumed_step: int = 0) -> None:
        """Start the trackers (a resumed run continues their runs), write ``run.json``, open
        TensorBoard, and drop log lines a resume repeats (those past the checkpoint, and the
        partial line of the epoch it resumes). TensorBoard and the continued tracker runs keep
        what they hold of the steps the resume repeats, and are not sent them again.

        Raises:
            TrackerError: a tracker could not start.
        """
        if self.out is None or self.metrics_log is None or self.steps_log is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        name = getattr(model, "registry_name", "") or type(model).__name__
        record: dict[str, Any] = {
            "model": name, "config": model.config_dict() if hasattr(model, "config_dict") else {},
            "epochs": epochs, "run": dataclasses.asdict(self.opts), "versions": versions(name)}
        resumed = resumed_epoch > 0 or resumed_step > 0
        logged_through = 0
        if resumed:  # how far the interrupted runs logged, before the lines past that go
            before = run_record(self.out).get("logged_through")  # kept across several stops
            logged_through = max(self.metrics_log.last_step(), self.steps_log.last_step(),
                                 before if isinstance(before, int) else 0)
            record["logged_through"] = logged_through
        if self.opts.mlflow is not None or self.opts.wandb is not None:
            previous = recorded_trackers(self.out) if resumed else {}
            self.trackers = make_trackers(self.opts.mlflow, self.opts.wandb, self.out)
            self.trackers.logged_through = logged_through
            record["trackers"] = self.trackers.start(_params(record), previous)
        (self.out / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        if self.opts.tensorboard:
            folder = self.out / "tensorboard"
            if folder.is_dir() and any(folder.iterdir()):  # the interrupted run's events
                self._tensorboard_through = logged_through
            self.tensorboard = TensorBoardLog(folder)
        self.metrics_log.truncate_after(resumed_epoch, drop_partial=True)
        self.steps_log.truncate_after(resumed_step, key="step")

    def log_epoch(self, metrics: dict[str, Any], step: int, partial: bool) -> None:
        """Append an epoch's metrics to ``metrics.jsonl`` (and TensorBoard)."""
        if self.metrics_log is not None:
            self.metrics_log.write({**metrics, "partial": True} if partial else metrics)
        self.log_scalars({k: v for k, v in metrics.items()
                          if isinstance(v, float) and k != "seconds"}, step, "epoch")

    def log_stop(self, reason: str, **details: Any) -> None:
        """Append a line saying why the run ended early to ``metrics.jsonl``."""
        if self.metrics_log is not None:
            self.metrics_log.write({"event": "stopped", "reason": reason, **details})
    def log_step(self, record: dict[str, Any]) -> None:
        """Append a logging interval's means to ``steps.jsonl`` (and TensorBoard's ``step/*``)."""
        if self.steps_log is not None:
            self.steps_log.write(record)
        self.log_scalars({k: v for k, v in record.items() if isinstance(v, float)},
                         record["step"], "step")

    def log_scalars(self, values: dict[str, float], step: int, prefix: str) -> None:
        """Scalars to TensorBoard and the trackers, when they are on (on a resume, not to
        those that hold ``step`` from the interrupted run)."""
        if self.tensorboard is not None and step > self._tensorboard_through:
            self.tensorboard.write(values, step, prefix)
        if self.trackers:
            self.trackers.log_metrics({f"{prefix}/{k}": v for k, v in values.items()}, step)

    def refresh_report(self, final: bool = False) -> None:
        """Rewrite ``report.html`` when ``report=True``: at most every :data:`REPORT_SECONDS`
        while the run goes, always when ``final``."""
        if self.out is None or not self.opts.report:
            return
        if not final and time.monotonic() - self._report_written < REPORT_SECONDS:
            return
        from ..report import write_report

        write_report([self.out], self.out / "report.html")
        self._report_written = time.monotonic()

    def grids(self, model: Any, tag: str, real: torch.Tensor | None) -> list[Path]:
        """Save a sample grid (and reconstructions of ``real`` for an encoder); return the files."""
        if self.out is None:
            if self.collective:
                with torch.no_grad():
                    model.sample(self.opts.grid_size, seed=self.opts.grid_seed)
                    if isinstance(model, Encoder) and real is not None:
                        with eval_mode(model):
                            model.reconstruct(real)
            return []
        folder = self.out / "grids"
        folder.mkdir(parents=True, exist_ok=True)
        saves = [(folder / f"samples_{tag}.png",
                  lambda path: save_sample_grid(model, path, self.opts.grid_size, self.opts.grid_seed))]
        if isinstance(model, Encoder) and real is not None:
            saves.append((folder / f"reconstructions_{tag}.png",
                          lambda path: save_reconstruction_grid(model, real, path)))
        written = []
        for path, save in saves:
            try:
                written.append(save(path))
            except NonFiniteSamplesError as err:  # the run goes on; a black grid would hide it
                warnings.warn(f"{path.name} was not written: {err}", RuntimeWarning, stacklevel=2)
                continue
            if self.trackers:
                self.trackers.log_image(path)
        return written

    def close(self, status: Status = "FINISHED", exit_code: int = 0) -> None:
        """Close TensorBoard's writer; end the trackers' runs with ``status`` (how the run
        ended), after logging the run's files and, for a finished run, its model folder."""
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None
        if not self.trackers or self.out is None:
            return
        for name in ("run.json", "train.toml"):
            self.trackers.log_file(self.out / name, "run")
        self.trackers.log_file(self.out / "checkpoints" / "eval.json", "eval")
        if status == "FINISHED" and self.model_folder is not None:
            self._log_model_folder(self.model_folder)
        self.trackers.finish(status, exit_code)

    def _log_model_folder(self, write: ModelFolderWriter) -> None:
        """Export the run's model folder into a temporary folder and log it to the trackers."""
        assert self.out is not None
        with tempfile.TemporaryDirectory(prefix="genzoo-model-") as staging:
            try:
                folder = Path(staging) / "model"
                write(self.out, folder)
            except Exception as err:  # e.g. a model built without a registered name
                warnings.warn(f"the model folder was not logged to the trackers: {err}",
                              RuntimeWarning, stacklevel=3)
                return
            self.trackers.log_model(folder)


def _params(record: Mapping[str, Any]) -> dict[str, Any]:
    """A run's settings as tracker parameters: ``model``, ``epochs``, the model's config as
    ``config.NAME`` and the run options by name (``None`` left out), as plain JSON values."""
    params: dict[str, Any] = {"model": record["model"], "epochs": record["epochs"]}
    params.update({f"config.{k}": v for k, v in record["config"].items()})
    params.update({k: v for k, v in record["run"].items() if v is not None})
    return json.loads(json.dumps(params, default=str))


def save_sample_grid(model: Any, path: Path, n: int, seed: int) -> Path:
    """Save ``n`` samples drawn with ``seed`` (the same latents every call) as a square grid."""
    from torchvision.utils import save_image

    from ..sampling import finite_images

    images = finite_images(model.sample(n, seed=seed).float().cpu(), "grid samples")
    save_image(images, path, nrow=max(1, round(math.sqrt(n))), padding=2)
    return path


def save_reconstruction_grid(model: Any, images: torch.Tensor, path: Path) -> Path:
    """Save real ``images`` in odd rows and their reconstructions in the rows below them."""
    from torchvision.utils import make_grid, save_image

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            recon = model.reconstruct(images).float()
    finally:
        model.train(was_training)
    from ..sampling import finite_images

    finite_images(recon, "reconstructions")
    grid = make_grid(reconstruction_rows(images.float(), recon).cpu(),
                     nrow=reconstruction_row_length(images.shape[0]), padding=2)
    save_image(grid, path)
    return path


def reconstruction_row_length(n: int) -> int:
    """How many images a row of a reconstruction grid of ``n`` real images holds."""
    return max(1, round(math.sqrt(2 * n)))


def reconstruction_rows(real: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Real images and their reconstructions in alternate rows, each reconstruction below its
    original: a short last row is filled with blank images so that the pairs stay aligned."""
    n = real.shape[0]
    per_row = reconstruction_row_length(n)
    rows = []
    for start in range(0, n, per_row):
        for part in (real, recon):
            row = part[start:start + per_row]
            blank = row.new_zeros((per_row - row.shape[0], *row.shape[1:]))
            rows.append(torch.cat([row, blank]))
    return torch.cat(rows)


#: Plain progress lines (output that is not a terminal) come at most this often within an epoch.
LINE_SECONDS = 30.0


class LossMeans:
    """Sums a step's losses on the device and reads them back once per logging interval.

    :meth:`read_interval` returns the means over the steps since the last read (what the
    step log and the progress show) and adds them to the epoch's totals on the host, so that
    :meth:`epoch_means` costs no further device read when the epoch ends on an interval.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._sums: dict[str, torch.Tensor] = {}
        self._steps = 0
        self._epoch_sums: dict[str, float] = {}
        self._epoch_steps = 0

    @property
    def pending(self) -> int:
        """Steps added since the last read."""
        return self._steps

    def add(self, losses: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
        """Add one step's losses, and ``extra`` numbers of the same step (gradient norms), to
        be averaged alike; tensors stay on the device (no synchronisation).

        Raises:
            GenzooError: ``losses`` is not a mapping of names to numbers or tensors.
        """
        if not isinstance(losses, Mapping):
            raise GenzooError(
                f"training_step must return a dict of losses by name, got {type(losses).__name__}")
        for key, value in {**losses, **(extra or {})}.items():
            value = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(
                float(value), device=self.device)
            if key in self._sums:
                self._sums[key] += value
            else:
                self._sums[key] = value.clone()
        self._steps += 1

    def read_interval(self) -> dict[str, float]:
        """The means since the last read (one host synchronisation); starts a new interval."""
        if not self._sums or not self._steps:
            self._steps = 0
            return {}
        values = torch.stack(list(self._sums.values())).tolist()
        means = {k: v / self._steps for k, v in zip(self._sums, values)}
        for key, total in zip(self._sums, values):
            self._epoch_sums[key] = self._epoch_sums.get(key, 0.0) + total
        self._epoch_steps += self._steps
        self._sums, self._steps = {}, 0
        return means

    def epoch_means(self) -> dict[str, float]:
        """The means over the whole epoch so far (reads the open interval first, if any)."""
        if self._steps:
            self.read_interval()
        if not self._epoch_steps:
            return {}
        return {k: v / self._epoch_steps for k, v in self._epoch_sums.items()}


class MetricsLog:
    """Appends one JSON object per line to ``path`` (``metrics.jsonl``, ``steps.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` and flush it, so a crash loses at most the current line."""
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=False) + "\n")

    def _records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each line that holds a JSON object, with the object (a torn or foreign line is
        skipped)."""
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield line, record

    def last_step(self) -> int:
        """The largest ``"step"`` of its lines (0 when none): how far the run logged."""
        steps = (record.get("step") for _, record in self._records())
        return max((step for step in steps if isinstance(step, int)), default=0)

    def truncate_after(self, value: int, key: str = "epoch", drop_partial: bool = False) -> None:
        """Drop lines whose ``key`` is past ``value`` (written before a stop that a resume
        repeats), and with ``drop_partial`` the lines of partial epochs too (the resumed epoch
        writes its own line when it completes, or a new partial one)."""
        if not self.path.exists():
            return
        kept = [line for line, record in self._records()
                if record.get(key, 0) <= value and not (drop_partial and record.get("partial"))]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class Progress:
    """What a person watching the run sees on stderr.

    On a terminal, a tqdm bar per epoch with the latest interval's losses and samples/s. When
    stderr is not a terminal (a log file, a pipe, a CI job), plain lines instead: one per
    epoch, and within a long epoch one per logging interval at most every
    :data:`LINE_SECONDS` seconds.

    Args:
        enabled: ``True`` for the bar, ``False`` for nothing, ``None`` for the bar on a
            terminal and plain lines elsewhere.
        stream: Where to write (default: ``sys.stderr`` at the time of each write).
    """

    def __init__(self, enabled: bool | None, stream: TextIO | None = None) -> None:
        self._stream = stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            self.mode = "bar" if callable(isatty) and isatty() else "lines"
        else:
            self.mode = "bar" if enabled else "off"
        self._bar: Any = None
        self._epoch = (0, 0)
        self._total: int | None = None
        self._last_line = 0.0

    @property
    def stream(self) -> TextIO:
        """The stream written to."""
        return self._stream if self._stream is not None else sys.stderr

    @property
    def enabled(self) -> bool:
        """Whether anything is shown."""
        return self.mode != "off"

    def start_epoch(self, epoch: int, epochs: int, total: int | None, done: int = 0) -> None:
        """Begin epoch ``epoch`` of ``epochs`` (``total`` steps if known, ``done`` already)."""
        self._epoch, self._total = (epoch, epochs), total
        self._last_line = time.monotonic()
        if self.mode != "bar":
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, initial=done, desc=f"epoch {epoch}/{epochs}", unit="step",
                         dynamic_ncols=True, leave=True, file=self.stream)

    def update(self, steps: int, values: dict[str, float], step: int | None = None,
               position: int | None = None) -> None:
        """``steps`` more steps done; ``values`` are the latest interval's means.

        Args:
            steps: Steps since the last update.
            values: Losses and rates to show.
            step: The run's step count (for plain lines).
            position: Steps done in this epoch (for plain lines).
        """
        if self._bar is not None:
            self._bar.update(steps)
            self._bar.set_postfix({_label(k): _short(v) for k, v in values.items()}, refresh=False)
        elif self.mode == "lines" and values and time.monotonic() - self._last_line >= LINE_SECONDS:
            where = f"{position}/{self._total}" if position is not None and self._total else position
            self._line(f"step {step}" + (f" ({where} of the epoch)" if where is not None else ""),
                       values)

    def end_epoch(self, metrics: Mapping[str, Any], partial: bool = False) -> None:
        """The epoch's line (plain mode): its mean losses, speed and time."""
        self.close()
        if self.mode != "lines":
            return
        values = {k: v for k, v in metrics.items()
                  if isinstance(v, (int, float)) and k not in ("epoch", "step", "seconds")}
        head = f"step {metrics.get('step')}" + (" (stopped mid-epoch)" if partial else "")
        self._line(head, values, seconds=metrics.get("seconds"))

    def close(self) -> None:
        """Close the bar, if one is open."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, head: str, values: Mapping[str, float], seconds: float | None = None) -> None:
        epoch, epochs = self._epoch
        parts = [f"epoch {epoch}/{epochs}", head]
        parts += [f"{_label(k)} {_short(v)}" for k, v in values.items()]
        if seconds is not None:
            parts.append(f"{seconds:.1f} s")
        print("  ".join(parts), file=self.stream, flush=True)
        self._last_line = time.monotonic()


class TensorBoardLog:
    """Scalars to ``folder`` through :class:`torch.utils.tensorboard.SummaryWriter`.

    Raises:
        MissingExtraError: the tensorboard package is not installed.
    """

    def __init__(self, folder: Path) -> None:
        writer = require("torch.utils.tensorboard", "tensorboard", "tensorboard=True (--tensorboard)")
        self.writer = writer.SummaryWriter(log_dir=str(folder))

    def write(self, values: dict[str, float], step: int, prefix: str) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _short(value: float) -> str:
    return f"{value:.4g}"


def _label(key: str) -> str:
    return key.replace("_per_s", "/s")
