"""Run reports: one self-contained HTML page of one or several runs.

The page shows each run's loss and metric curves, its sample and reconstruction grids over
training, its evaluations (``genzoo eval``'s JSON, with intervals when it has them), its
settings and the versions it ran with; several runs are shown side by side to compare them.
Every image is embedded as a data URI, so the file can be mailed or archived alone::

    from genzoo.report import write_report

    write_report(["runs/gan", "runs/vae"], "runs/report.html")

``genzoo report RUN [RUN ...]`` does the same from the command line, and ``fit(...,
report=True)`` (``genzoo train --report``) keeps ``out/report.html`` up to date as a run goes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import GenzooError
from ..files import atomic_output
from .collect import Evaluation, Grid, RunRecord, read_evaluation, read_run
from .page import render
from .plots import Plot, curves

__all__ = ["write_report", "read_run", "read_evaluation", "RunRecord", "Grid", "Evaluation",
           "Plot", "curves", "render"]


def write_report(runs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                 title: str | None = None) -> Path:
    """Write the report of the run folders ``runs`` to the HTML file ``out``.

    The file is replaced atomically (written beside it, then renamed), so a browser reloading
    it while a run refreshes it never sees half a page.

    Args:
        runs: One or more run folders (``out=`` of :meth:`~genzoo.GenerativeModel.fit`).
        out: The HTML file to write.
        title: The page's title (default: "genzoo report: " and the runs' names).

    Returns:
        The path written.

    Raises:
        GenzooError: no runs, or a folder that is not a run folder.
    """
    if not runs:
        raise GenzooError("name at least one run folder to report on")
    records = [read_run(run) for run in runs]
    names = [r.name for r in records]
    for record in records:  # two runs called "vae" in different folders: use their paths
        if names.count(record.name) > 1:
            record.name = str(record.folder)
    page = render(records, curves(records), title=title)
    out = Path(out)
    if out.is_dir():
        raise GenzooError(f"{out} is a folder; give the report's file name, e.g. {out / 'report.html'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as file:
        file.write(page.encode("utf-8"))
    return out

