"""The run folder: checkpoints, sample grids, ``run.json``, the metrics logs (``metrics.jsonl``
per epoch, ``steps.jsonl`` per logging interval), TensorBoard and the report page.

Only rank 0 writes; on other ranks (and without ``out=``) every method is a no-op.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import model_payload, versions, write_checkpoint
from ..model import eval_mode
from ..protocols import Encoder
from ..sampling import NonFiniteSamplesError
from .grids import save_reconstruction_grid, save_sample_grid
from .logs import MetricsLog, TensorBoardLog
from .options import RunOptions
from .resume import LAST_CHECKPOINT

__all__ = ["RunOutputs"]

#: While a run goes, ``report.html`` is rewritten at most this often (and always at the end).
REPORT_SECONDS = 60.0


class RunOutputs:
    """Everything a run writes into its folder ``out`` (``None``: nothing).

    With ``collective=True`` (a sharded model, whose forward pass gathers its weights from every
    rank), ranks that write nothing still draw the grids' samples alongside rank 0.
    """

    def __init__(self, out: Path | None, opts: RunOptions, collective: bool = False) -> None:
        self.out = out
        self.opts = opts
        self.collective = collective
        self.metrics_log = MetricsLog(out / "metrics.jsonl") if out is not None else None
        self.steps_log = MetricsLog(out / "steps.jsonl") if out is not None else None
        self.tensorboard: TensorBoardLog | None = None
        self._report_written = 0.0

    def start(self, model: Any, epochs: int, resumed_epoch: int, resumed_step: int = 0) -> None:
        """Write ``run.json``, open TensorBoard, and drop log lines a resume repeats (those past
        the checkpoint, and the partial line of the epoch it resumes)."""
        if self.out is None or self.metrics_log is None or self.steps_log is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        name = getattr(model, "registry_name", "") or type(model).__name__
        record = {"model": name,
                  "config": model.config_dict() if hasattr(model, "config_dict") else {},
                  "epochs": epochs, "run": dataclasses.asdict(self.opts),
                  "versions": versions(name)}
        (self.out / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        if self.opts.tensorboard:
            self.tensorboard = TensorBoardLog(self.out / "tensorboard")
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
        """Scalars to TensorBoard, when it is on."""
        if self.tensorboard is not None:
            self.tensorboard.write(values, step, prefix)

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
        return written

    def checkpoint(self, model: Any, state: dict[str, Any],
                   state_dict: dict[str, torch.Tensor] | None = None) -> Path | None:
        """Write ``checkpoints/last.pt``: the model's payload plus the runner's ``state``.

        ``state_dict``: the whole weights, when the model's own are sharded.
        """
        if self.out is None:
            return None
        payload = model_payload(model, state_dict)
        payload.update(state)
        payload["run"] = dataclasses.asdict(self.opts)
        return write_checkpoint(payload, self.out / LAST_CHECKPOINT)

    def close(self) -> None:
        """Close TensorBoard's writer."""
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None
