"""Where a run reports: losses averaged per logging interval, the metrics logs (JSON Lines), the
progress shown while training (a bar on a terminal, plain lines elsewhere) and TensorBoard."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import torch

from ..extras import require
from ..errors import GenzooError

__all__ = ["LossMeans", "MetricsLog", "Progress", "TensorBoardLog"]

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

    def truncate_after(self, value: int, key: str = "epoch", drop_partial: bool = False) -> None:
        """Drop lines whose ``key`` is past ``value`` (written before a stop that a resume
        repeats), and with ``drop_partial`` the lines of partial epochs too (the resumed epoch
        writes its own line when it completes, or a new partial one)."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get(key, 0) <= value and not (drop_partial and record.get("partial")):
                kept.append(line)
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
