"""``genzoo report``: one self-contained HTML page of one run, or of several side by side."""

from __future__ import annotations

import os
from pathlib import Path

import click

_EPILOG = """\b
Examples:
  genzoo report runs/vae                          # writes runs/vae/report.html
  genzoo report runs/gan runs/vae                 # side by side: writes runs/report.html
  genzoo report runs/gan runs/dcgan -o compare.html --title "GAN against DCGAN"

\b
The page embeds every image, so it opens offline and can be sent as one file. It reads the
run folders' metrics.jsonl, steps.jsonl, grids/, train.toml, run.json and the evaluations
that 'genzoo eval' wrote beside their checkpoints (checkpoints/eval.json). During training,
'genzoo train --report' keeps RUN/report.html up to date instead.
"""


@click.command(epilog=_EPILOG)
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output_value", type=click.Path(dir_okay=False),
              help="The HTML file to write.  [default: RUN/report.html for one run, else "
                   "report.html in the runs' common folder]")
@click.option("--title", help="The page's title.  [default: genzoo report: and the runs' names]")
@click.option("--force", is_flag=True,
              help="Replace the output file even if it is not a page genzoo report wrote.")
def report(runs: tuple[Path, ...], output_value: str | None, title: str | None,
           force: bool) -> None:
    """Write an HTML report of the run folders RUNS: curves, grids, evaluations, settings.

    An existing output file is replaced only if genzoo report wrote it (or with --force).
    """
    from ..extras import require
    from ..files import REPORT_PAGE, check_output_file, output_path
    from ..report import write_report

    require("matplotlib", "report", "genzoo report")
    output = output_path(output_value, "-o/--output") if output_value is not None else None
    if output is None:
        output = runs[0] / "report.html" if len(runs) == 1 else _common_folder(runs) / "report.html"
    check_output_file(output, REPORT_PAGE, force=force)
    written = write_report(runs, output, title=title)
    click.echo(f"wrote {written}")


def _common_folder(runs: tuple[Path, ...]) -> Path:
    absolute = [str(run.resolve()) for run in runs]
    common = Path(os.path.commonpath(absolute))
    try:
        return common.relative_to(Path.cwd())
    except ValueError:
        return common
