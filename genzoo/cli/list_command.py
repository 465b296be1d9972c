"""``genzoo list``: the models that can be built, and broken plugins."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence

import click



@click.command("list", epilog="\b\nExamples:\n  genzoo list\n  genzoo list 'v*' --json")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(pattern: str, as_json: bool) -> None:
    """List the models that can be built, with their plugin, version and summary."""
    from ..build import broken_plugins, model_infos

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # broken plugins are listed below instead
        infos = model_infos(pattern)
        broken = broken_plugins()
    if as_json:
        click.echo(json.dumps({
            "models": [{"name": i.name, "plugin": i.plugin, "distribution": i.distribution,
                        "version": i.version, "summary": i.summary} for i in infos],
            "broken": [{"plugin": b.name, "distribution": b.distribution, "version": b.version,
                        "reason": b.reason} for b in broken],
        }, indent=2))
        return
    rows = [(i.name, i.plugin, i.origin, i.summary) for i in infos]
    _table(("MODEL", "PLUGIN", "FROM", "SUMMARY"), rows)
    if not infos:
        click.echo(f"no model matches {pattern!r}")
    for b in broken:
        origin = f" ({b.distribution} {b.version})" if b.distribution else ""
        click.echo(f"broken plugin {b.name}{origin}: {b.reason}")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
