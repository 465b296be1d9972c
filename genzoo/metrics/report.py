"""Metrics as text: a table of each number beside its real-data floor, and markdown rows."""

from __future__ import annotations

from collections.abc import Sequence

from .evaluate import METRIC_NAMES, Metrics

__all__ = ["LABELS", "format_metrics", "markdown_table"]

#: Display names, with the direction that is better.
LABELS = {"fid": "FID ↓", "classifier_score": "classifier score ↑", "precision": "precision ↑",
          "recall": "recall ↑"}


def format_metrics(metrics: Metrics) -> str:
    """A small plain-text table: each metric beside the real-data floor for the same ``n``."""
    width = max(len(label) for label in LABELS.values())
    lines = [f"{'metric':<{width}}  {'model':>10}  {'real-data floor':>15}"]
    floor = metrics.floor.as_dict()
    for name in METRIC_NAMES:
        lines.append(f"{LABELS[name]:<{width}}  {getattr(metrics, name):>10.4f}  {floor[name]:>15.4f}")
    return "\n".join(lines)


def markdown_table(rows: Sequence[tuple[str, Metrics]]) -> str:
    """A markdown table with one row per ``(name, metrics)`` and, per distinct ``n``, a row for
    the real-data floor (real training images against the test set)."""
    header = "| run | n | " + " | ".join(LABELS[name] for name in METRIC_NAMES) + " |"
    lines = [header, "|" + "---|" * (2 + len(METRIC_NAMES))]
    for name, metrics in rows:
        lines.append(f"| {name} | {metrics.n} | "
                     + " | ".join(_cell(getattr(metrics, m)) for m in METRIC_NAMES) + " |")
    floors = {(m.dataset, m.n): m.floor for _, m in rows}
    for (dataset, n), floor in floors.items():
        lines.append(f"| *real data: {dataset} train vs test* | {n} | "
                     + " | ".join(_cell(getattr(floor, m)) for m in METRIC_NAMES) + " |")
    return "\n".join(lines)


def _cell(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
