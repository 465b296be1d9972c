"""The report as one self-contained HTML page: every image is a data URI, nothing is fetched."""

from __future__ import annotations

import base64
import datetime
import html
import json
from collections.abc import Sequence
from typing import Any

from .collect import EVAL_METRICS, Grid, RunRecord, finite_number, grid_image
from .plots import COLORS, Plot

__all__ = ["render"]

#: At most this many grids of one kind per run are shown (evenly spread; the last always).
MAX_GRIDS = 12

_CSS = """
:root { --fg: #1d1d1f; --muted: #6e6e73; --line: #e3e3e8; --bg: #fff; --panel: #f6f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 64px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 20px 0 8px; }
p.lead { color: var(--muted); margin: 0 0 8px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav a { color: #0a5bd3; text-decoration: none; font-size: .92rem; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px;
          margin-right: .35em; vertical-align: -0.05em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .92rem; }
th, td { text-align: left; padding: 5px 12px 5px 0; border-bottom: 1px solid var(--line);
         vertical-align: top; }
td:first-child { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { font-weight: 600; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(380px, 100%), 1fr));
         gap: 12px; }
.plots img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
.grids { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
.grids.wide { grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); }
figure { margin: 0; }
figure img.grid { width: 100%; height: auto; image-rendering: pixelated; background: #000;
                  border-radius: 4px; display: block; }
figcaption { font-size: .85rem; color: var(--muted); margin-top: 3px; }
details { margin: 8px 0; background: var(--panel); border-radius: 6px; padding: 6px 12px; }
summary { cursor: pointer; font-weight: 600; }
pre { margin: 8px 0; overflow-x: auto; font-size: .82rem; line-height: 1.45; }
.muted { color: var(--muted); font-size: .88rem; }
.notes { color: #8a5300; font-size: .88rem; }
@media (max-width: 600px) {
  main { padding: 16px 12px 48px; }
  .plots { grid-template-columns: 1fr; }
  .grids { grid-template-columns: repeat(2, 1fr); }
  .grids.wide { grid-template-columns: 1fr; }
}
"""


def render(runs: Sequence[RunRecord], plots: Sequence[Plot], title: str | None = None) -> str:
    """The report page of ``runs`` with their ``plots``, as HTML text."""
    from .._version import __version__

    names = ", ".join(run.name for run in runs)
    title = title or f"genzoo report: {names}"
    written = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        ("summary", "Summary", _summary(runs)),
        ("curves", "Training curves", _plots(plots)),
        ("samples", "Samples over training", _grid_section(runs, "samples")),
        ("reconstructions", "Reconstructions", _grid_section(runs, "reconstructions")),
        ("evaluation", "Evaluation", _evaluations(runs)),
        ("settings", "Settings", _settings(runs)),
        ("versions", "Versions", _versions(runs)),
    ]
    sections = [s for s in sections if s[2]]
    nav = "".join(f'<a href="#{key}">{_e(label)}</a>' for key, label, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{_e(label)}</h2>{content}</section>'
                   for key, label, content in sections)
    legend = " &nbsp; ".join(f"{_swatch(i)}<b>{_e(run.name)}</b> <span class=muted>"
                             f"{_e(run.model)} · {_e(str(run.folder))}</span>"
                             for i, run in enumerate(runs))
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"generator\" content=\"genzoo report\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<link rel=\"icon\" href=\"data:,\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body><main>"
        f"<h1>{_e(title)}</h1><p class=lead>{legend}</p>"
        f"<p class=muted>Written {written} by genzoo {_e(__version__)}.</p>"
        f"<nav>{nav}</nav>{body}</main></body></html>\n"
    )


# -- sections ---------------------------------------------------------------------------------

def _summary(runs: Sequence[RunRecord]) -> str:
    rows: list[tuple[str, list[str]]] = [
        ("model", [_e(r.model) for r in runs]),
        ("data", [_e(str(_setting(r, "data") or "")) for r in runs]),
        ("epochs", [_epochs(r) for r in runs]),
        ("steps", [_num(r.epochs[-1].get("step")) if r.epochs else "" for r in runs]),
        ("training time", [_duration(sum(float(e.get("seconds", 0)) for e in r.epochs))
                           if r.epochs else "" for r in runs]),
        ("batch size", [_e(str(_setting(r, "batch_size") or "")) for r in runs]),
        ("device, precision", [_e(", ".join(str(v) for v in (
            (r.run.get("run") or {}).get("device"), (r.run.get("run") or {}).get("precision"))
            if v is not None)) for r in runs]),
    ]
    keys: list[str] = []
    for run in runs:
        last = run.epochs[-1] if run.epochs else {}
        keys += [k for k, v in last.items() if k not in keys and finite_number(v)
                 and k not in ("epoch", "step", "seconds")]
    for key in keys:
        rows.append((f"last epoch: {_label(key)}",
                     [_num(r.epochs[-1].get(key)) if r.epochs else "" for r in runs]))
    for metric, label in EVAL_METRICS.items():
        cells = []
        for run in runs:
            found = next((e.values[metric] for e in reversed(run.evaluations)
                          if metric in e.values), None)
            cells.append(_with_interval(*found[:3]) if found else "")
        if any(cells):
            rows.append((f"evaluation: {label}", cells))
    head = "<tr><th></th>" + "".join(f"<th>{_swatch(i)}{_e(r.name)}</th>"
                                     for i, r in enumerate(runs)) + "</tr>"
    body = "".join(f"<tr><th>{_e(label)}</th>" + "".join(f"<td class=num>{c}</td>" for c in cells)
                   + "</tr>" for label, cells in rows if any(cells))
    notes = "".join(f"<p class=notes>{_e(run.name)}: {_e(note)}</p>"
                    for run in runs for note in run.notes)
    return f"<div class=table-wrap><table>{head}{body}</table></div>{notes}"


def _plots(plots: Sequence[Plot]) -> str:
    if not plots:
        return ""
    figures = "".join(f'<figure><img src="{_uri(p.png)}" alt="{_e(p.title)} against the step">'
                      "</figure>" for p in plots)
    return ("<p class=muted>Thin lines: means over each logging interval (steps.jsonl); dots: "
            f"means over each epoch (metrics.jsonl).</p><div class=plots>{figures}</div>")


def _grid_section(runs: Sequence[RunRecord], kind: str) -> str:
    if not any(run.grids_of(kind) for run in runs):
        return ""
    parts = []
    finals = [(i, run, run.grids_of(kind)[-1]) for i, run in enumerate(runs) if run.grids_of(kind)]
    if len(finals) > 1:
        parts.append("<h3>Last of each run, side by side</h3><div class='grids wide'>" + "".join(
            _figure(grid, f"{_swatch(i)}{_e(run.name)} · {_e(grid.label)}") for i, run, grid in finals)
            + "</div>")
    for index, run in enumerate(runs):
        grids = run.grids_of(kind)
        if not grids:
            continue
        shown = _spread(grids, MAX_GRIDS)
        more = (f" <span class=muted>({len(shown)} of {len(grids)} grids)</span>"
                if len(shown) < len(grids) else "")
        parts.append(f"<h3>{_swatch(index)}{_e(run.name)}{more}</h3><div class=grids>"
                     + "".join(_figure(g, _e(g.label)) for g in shown) + "</div>")
    if kind == "reconstructions":
        parts.insert(0, "<p class=muted>Odd rows: real training images; the row under each: "
                        "their reconstructions.</p>")
    return "".join(parts)


def _evaluations(runs: Sequence[RunRecord]) -> str:
    rows = []
    for index, run in enumerate(runs):
        for evaluation in run.evaluations:
            for metric, (value, low, high, floor) in evaluation.values.items():
                rows.append(
                    f"<tr><td>{_swatch(index)}{_e(run.name)}</td>"
                    f"<td>{_e(EVAL_METRICS.get(metric, metric.replace('_', ' ')))}</td>"
                    f"<td class=num>{_num(value)}</td>"
                    f"<td class=num>{_interval_text(low, high)}</td>"
                    f"<td class=num>{_num(floor) if floor is not None else ''}</td>"
                    f"<td class=muted>{_e(evaluation.source.name)}</td></tr>")
    if not rows:
        return ""
    details = "".join(
        f"<details><summary>{_e(run.name)}: {_e(ev.source.name)}</summary><div class=table-wrap>"
        f"<table>{''.join(f'<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in ev.details.items())}"
        "</table></div></details>"
        for run in runs for ev in run.evaluations if ev.details)
    return ("<div class=table-wrap><table><tr><th>run</th><th>metric</th><th>value</th>"
            "<th>interval</th><th>real-data floor</th><th>file</th></tr>" + "".join(rows)
            + f"</table></div>{details}")


def _settings(runs: Sequence[RunRecord]) -> str:
    parts = []
    for index, run in enumerate(runs):
        config = run.run.get("config") or {}
        table = "".join(f"<tr><th>{_e(str(k))}</th><td>{_e(json.dumps(v))}</td></tr>"
                        for k, v in config.items())
        parts.append(f"<h3>{_swatch(index)}{_e(run.name)}</h3>")
        if table:
            parts.append(f"<div class=table-wrap><table>{table}</table></div>")
        if run.settings:
            parts.append(f"<details><summary>train.toml</summary><pre>{_e(run.settings)}</pre></details>")
        if run.run:
            shown = {k: v for k, v in run.run.items() if k != "versions"}
            parts.append("<details><summary>run.json</summary>"
                         f"<pre>{_e(json.dumps(shown, indent=2, default=str))}</pre></details>")
    return "".join(parts)


def _versions(runs: Sequence[RunRecord]) -> str:
    keys: list[str] = []
    for run in runs:
        keys += [k for k in run.versions if k not in keys]
    if not keys:
        return ""
    head = "<tr><th></th>" + "".join(f"<th>{_e(r.name)}</th>" for r in runs) + "</tr>"
    body = "".join(f"<tr><th>{_e(k)}</th>" + "".join(
        f"<td>{_e(str(r.versions.get(k) or ''))}</td>" for r in runs) + "</tr>" for k in keys)
    return f"<div class=table-wrap><table>{head}{body}</table></div>"


# -- pieces -----------------------------------------------------------------------------------

def _figure(grid: Grid, caption: str) -> str:
    png = grid_image(grid)
    if png is None:  # not a PNG image genzoo can embed safely: say so instead
        return (f"<figure><figcaption>{caption} <span class=notes>({_e(grid.path.name)} is not "
                "an intact PNG image of a reasonable size, so it is not shown)</span></figcaption>"
                "</figure>")
    return (f'<figure><img class=grid src="{_uri(png)}" '
            f'alt="{_e(grid.kind)}, {_e(grid.label)}"><figcaption>{caption}</figcaption></figure>')


def _spread(items: list[Grid], most: int) -> list[Grid]:
    if len(items) <= most:
        return items
    picks = sorted({round(i * (len(items) - 1) / (most - 1)) for i in range(most)})
    return [items[i] for i in picks]


def _epochs(run: RunRecord) -> str:
    done = run.epochs[-1].get("epoch") if run.epochs else 0
    target = run.run.get("epochs")
    partial = " (stopped mid-epoch)" if run.epochs and run.epochs[-1].get("partial") else ""
    return _e(f"{done} of {target}{partial}" if target else f"{done}{partial}")


def _setting(run: RunRecord, name: str) -> Any:
    if run.settings:
        import tomllib

        try:
            value = tomllib.loads(run.settings).get(name)
        except tomllib.TOMLDecodeError:
            value = None
        if value is not None:
            return value
    return None


def _with_interval(value: float, low: float | None, high: float | None) -> str:
    text = _num(value)
    return f"{text} <span class=muted>[{_num(low)}, {_num(high)}]</span>" if low is not None else text


def _interval_text(low: float | None, high: float | None) -> str:
    return f"[{_num(low)}, {_num(high)}]" if low is not None and high is not None else ""


def _num(value: Any) -> str:
    if not finite_number(value):
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _label(key: str) -> str:
    """A logged key as a row label: ``lr_generator`` → ``lr generator``, ``samples/s``."""
    return key.replace("_per_s", "/s").replace("_", " ")


def _swatch(index: int) -> str:
    return f'<span class=swatch style="background:{COLORS[index % len(COLORS)]}"></span>'


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _e(text: str) -> str:
    return html.escape(text, quote=True)
