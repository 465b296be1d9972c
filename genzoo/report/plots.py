"""The report's curves: one PNG per quantity, one line per run, drawn with matplotlib."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..extras import require
from .collect import RunRecord, finite_number

__all__ = ["Plot", "curves"]

#: Entries of the logs that are counters or bookkeeping, not curves.
_NOT_CURVES = {"epoch", "step", "steps", "seconds", "partial", "batch"}
#: Curves drawn after the losses, in this order.
_LAST = ("lr", "samples_per_s")
_TITLES = {"samples_per_s": "samples/s", "lr": "learning rate"}  # lr_<optimizer>: "lr generator"
#: Colours of runs 1, 2, ... (matplotlib's default cycle, by name so every plot agrees).
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")


@dataclass(frozen=True)
class Plot:
    """One rendered curve plot.

    Attributes:
        key: The logged quantity (``"loss"``, ``"fid"``, ``"lr"`` ...).
        title: Its title.
        png: The image.
    """

    key: str
    title: str
    png: bytes


def curves(runs: Sequence[RunRecord], dpi: int = 110) -> list[Plot]:
    """A plot per logged quantity of ``runs`` against the training step.

    Each run's per-interval means (``steps.jsonl``) are a thin line and its per-epoch means
    (``metrics.jsonl``) dots on it; numbers logged per epoch only (an evaluation's FID) are a
    line through their dots.
    """
    keys: list[str] = []
    for run in runs:
        for record in [*run.steps, *run.epochs]:
            for key, value in record.items():
                if key not in keys and key not in _NOT_CURVES and finite_number(value):
                    keys.append(key)
    ordered = [k for k in keys if not k.startswith(_LAST)] + [
        k for prefix in _LAST for k in keys if k.startswith(prefix)]
    # a learning rate that never changes is a setting, not a curve
    ordered = [k for k in ordered if not k.startswith("lr") or _varies(runs, k)]
    return [_plot(runs, key, dpi) for key in ordered]


def _varies(runs: Sequence[RunRecord], key: str) -> bool:
    return any(len({v for _, v in _points(run.steps, key) + _points(run.epochs, key)}) > 1
               for run in runs)


def _plot(runs: Sequence[RunRecord], key: str, dpi: int) -> Plot:
    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "report",
                              "The report's plots").FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6, 3.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    values: list[float] = []
    for index, run in enumerate(runs):
        color = COLORS[index % len(COLORS)]
        label = run.name if len(runs) > 1 else None
        steps = _points(run.steps, key)
        epochs = _points(run.epochs, key)
        if steps:
            axes.plot(*zip(*steps), color=color, linewidth=1.0, alpha=0.8, label=label)
            label = None
        if epochs:
            axes.plot(*zip(*epochs), color=color, marker="o", markersize=3.5,
                      linestyle="none" if steps else "-", linewidth=1.2, label=label)
        values += [v for _, v in steps + epochs]
    title = _TITLES.get(key, key.replace("_", " "))
    axes.set_title(title, fontsize=10, loc="left")
    axes.set_xlabel("step", fontsize=9)
    axes.tick_params(labelsize=8)
    axes.grid(True, color="#e5e5e5", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    positive = [v for v in values if v > 0]
    if values and len(positive) == len(values) and max(positive) / min(positive) > 100:
        axes.set_yscale("log")
    if len(runs) > 1 and values:
        axes.legend(fontsize=8, frameon=False)
    if not values:
        axes.text(0.5, 0.5, "no values", ha="center", va="center", transform=axes.transAxes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return Plot(key, title, buffer.getvalue())


def _points(records: Sequence[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    return [(float(r["step"]), float(r[key])) for r in records
            if finite_number(r.get(key)) and finite_number(r.get("step"))]

