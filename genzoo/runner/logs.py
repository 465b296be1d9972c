"""Where a run reports: a progress bar, the metrics log (JSON Lines) and TensorBoard."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["MetricsLog", "ProgressBar", "TensorBoardLog"]


class MetricsLog:
    """Appends one JSON object per line to ``path`` (``metrics.jsonl`` in the run folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` and flush it, so a crash loses at most the current line."""
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=False) + "\n")

    def truncate_after(self, epoch: int) -> None:
        """Drop lines of epochs after ``epoch`` (written before a crash that a resume repeats)."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("epoch", 0) <= epoch:
                    kept.append(line)
            except json.JSONDecodeError:
                continue
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class ProgressBar:
    """A tqdm bar per epoch showing the running losses and samples/s; silent when disabled.

    Args:
        enabled: ``None`` shows the bar only when stderr is a terminal.
    """

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None

    def start_epoch(self, epoch: int, epochs: int, total: int | None, done: int = 0) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, initial=done, desc=f"epoch {epoch}/{epochs}", unit="step",
                         dynamic_ncols=True, leave=True, file=sys.stderr)

    def update(self, steps: int, values: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.update(steps)
            self._bar.set_postfix({k: _short(v) for k, v in values.items()}, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class TensorBoardLog:
    """Scalars to ``folder`` through :class:`torch.utils.tensorboard.SummaryWriter`.

    Raises:
        ConfigError: the tensorboard package is not installed.
    """

    def __init__(self, folder: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ConfigError(
                "tensorboard=True needs the tensorboard package: pip install 'genzoo[tensorboard]'"
            ) from err
        self.writer = SummaryWriter(log_dir=str(folder))

    def write(self, values: dict[str, float], step: int, prefix: str) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _short(value: float) -> str:
    return f"{value:.4g}"
