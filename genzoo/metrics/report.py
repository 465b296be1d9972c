"""Metrics as text: each number with its interval beside the real-data floor, the protocol card,
comparisons of two results, and markdown rows."""

from __future__ import annotations

from collections.abc import Sequence

from .card import card_differences
from .results import METRIC_NAMES, Metrics, Scores

__all__ = ["LABELS", "format_metrics", "format_card", "format_comparison", "markdown_table"]

#: Display names, with the direction that is better.
LABELS = {"fid": "FID ↓", "kid": "KID ↓", "precision": "precision ↑", "recall": "recall ↑",
          "density": "density (1 = data)", "coverage": "coverage ↑",
          "classifier_score": "classifier score ↑"}


def format_metrics(metrics: Metrics) -> str:
    """A plain-text table: each number with its interval, beside the real-data floor's."""
    names = metrics.scores.names()
    width = max(len(LABELS[name]) for name in names)
    level = metrics.card.bootstrap.get("level", 0.95)
    lines = [f"{'metric':<{width}}  {'model':>10}  {f'{level:.0%} interval':>21}  "
             f"{'real-data floor':>15}  {'its interval':>21}"]
    for name in names:
        lines.append(f"{LABELS[name]:<{width}}  {_number(metrics.scores, name)}  "
                     f"{_number(metrics.floor, name, 15)}")
    return "\n".join(lines)


def format_card(metrics: Metrics) -> str:
    """The protocol card, one setting per line."""
    return "\n".join(["protocol card:"] + [f"  {line}" for line in metrics.card.lines()])


def format_comparison(a: Metrics, b: Metrics, names: tuple[str, str] = ("A", "B")) -> tuple[bool, str]:
    """Two results side by side when their cards are equal; else the settings that differ.

    Returns:
        Whether they are comparable, and the text to show.
    """
    differences = card_differences(a.card, b.card)
    if differences:
        lines = [f"NOT COMPARABLE: the protocol cards differ in {len(differences)} setting(s):"]
        for path, left, right in differences:
            lines.append(f"  {path}: {names[0]} {left!r}  vs  {names[1]} {right!r}")
        return False, "\n".join(lines)
    shown = [name for name in METRIC_NAMES if name in a.scores.names() and name in b.scores.names()]
    width = max(len(LABELS[name]) for name in shown)
    lines = [f"comparable: the same protocol card ({a.n} images against {a.dataset}).",
             f"{'metric':<{width}}  {names[0]:>32}  {names[1]:>32}  {'real-data floor':>32}"]
    for name in shown:
        lines.append(f"{LABELS[name]:<{width}}  {_number(a.scores, name, 10):>32}  "
                     f"{_number(b.scores, name, 10):>32}  {_number(a.floor, name, 10):>32}")
    return True, "\n".join(lines)


def markdown_table(rows: Sequence[tuple[str, Metrics]]) -> str:
    """A markdown table with one row per ``(name, metrics)``, each number with its interval,
    and per distinct card's data and ``n`` a row for the real-data floor."""
    names = [name for name in METRIC_NAMES if all(name in m.scores.names() for _, m in rows)]
    header = "| run | n | " + " | ".join(LABELS[name] for name in names) + " |"
    lines = [header, "|" + "---|" * (2 + len(names))]
    for name, metrics in rows:
        lines.append(f"| {name} | {metrics.n} | "
                     + " | ".join(_cell(metrics.scores, m) for m in names) + " |")
    floors = {(m.dataset, m.n): m for _, m in rows}
    for (dataset, n), metrics in floors.items():
        lines.append(f"| *real data: {dataset}, {metrics.card.floor_n} images* | {n} | "
                     + " | ".join(_cell(metrics.floor, m) for m in names) + " |")
    return "\n".join(lines)


def _number(scores: Scores, name: str, width: int = 10) -> str:
    value = getattr(scores, name)
    low, high = scores.intervals.get(name, (float("nan"), float("nan")))
    return f"{_fmt(value):>{width}}  [{_fmt(low):>8}, {_fmt(high):>8}]"


def _fmt(value: float) -> str:
    if value != value:  # nan
        return "n/a"
    if value != 0 and abs(value) < 0.01:
        return f"{value:.2e}"
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def _cell(scores: Scores, name: str) -> str:
    low, high = scores.intervals.get(name, (float("nan"), float("nan")))
    return f"{_fmt(getattr(scores, name))} [{_fmt(low)}, {_fmt(high)}]"
