"""``genzoo list``: the models that can be built, and broken plugins."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

import click



@click.command("list", epilog="\b\nExamples:\n  genzoo list\n  genzoo list 'v*' --json\n"
                               "  genzoo list --datasets\n  genzoo list --pretrained")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--datasets", is_flag=True,
              help="List the named data sets (for --data) instead of the models.")
@click.option("--pretrained", is_flag=True,
              help="List the pretrained models the installed plugins ship (load one as "
                   "pretrained:NAME), with their scores, instead of the models.")
def list_command(pattern: str, as_json: bool, datasets: bool, pretrained: bool) -> None:
    """List the models that can be built, with their plugin, version and summary
    (or, with --datasets, the named data sets; with --pretrained, the shipped models)."""
    if datasets and pretrained:
        raise click.UsageError("--datasets and --pretrained list different things; give one")
    if datasets:
        _list_datasets(pattern, as_json)
        return
    if pretrained:
        _list_pretrained(pattern, as_json)
        return
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


def _list_pretrained(pattern: str, as_json: bool) -> None:
    from ..build import list_pretrained
    from ..hub import folder_summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a broken plugin's warning is genzoo list's to show
        infos = list_pretrained(pattern)
    entries = [{"name": f"pretrained:{i.name}", "summary": i.summary, "plugin": i.plugin,
                "distribution": i.distribution, "version": i.version, "folder": str(i.folder),
                **folder_summary(i.folder)} for i in infos]
    if as_json:
        click.echo(json.dumps({"pretrained": entries}, indent=2))
        return

    def number(value: Any, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = [(e["name"], e["model"] or "?",
             "-" if e["fid"] is None else f"{e['fid']:.2f} ({e['fid'] / e['floor_fid']:.1f}×)"
             if e["floor_fid"] else f"{e['fid']:.2f}",
             number(e["precision"]), number(e["recall"]), number(e["bits_per_dim"]),
             f"{e['megabytes']:.1f}", e["summary"]) for e in entries]
    _table(("NAME", "MODEL", "FID (× FLOOR)", "PRECISION", "RECALL", "BITS/DIM", "MB", "SUMMARY"),
           rows)
    if not infos:
        click.echo(f"no pretrained model matches {pattern!r}")
        return
    click.echo("Scores: each folder's genzoo eval result (eval.json), FID beside its real-data "
               "floor; its card (README.md in the folder) says how they were made.")
    click.echo('Use: genzoo sample pretrained:NAME -o samples.png, or '
               'genzoo.from_pretrained("pretrained:NAME")')


def _list_datasets(pattern: str, as_json: bool) -> None:
    from fnmatch import fnmatchcase

    from ..data import data_root, dataset_info, dataset_names

    infos = [dataset_info(n) for n in dataset_names() if fnmatchcase(n, pattern)]
    if as_json:
        click.echo(json.dumps({"root": str(data_root()), "datasets": [
            {"name": i.name, "title": i.title, "summary": i.summary, "image_shape": list(i.image_shape),
             "splits": dict(i.splits), "num_classes": i.num_classes, "streamed": sorted(i.streamed),
             "folder": i.folder} for i in infos]}, indent=2))
        return

    def splits(info: Any) -> str:
        return ", ".join(f"{s} {n:,}" + ("*" if s in info.streamed else "") for s, n in info.splits.items())

    rows = [(i.name, "×".join(map(str, i.image_shape)), str(i.num_classes or "-"), splits(i), i.folder)
            for i in infos]
    _table(("DATA SET", "IMAGES", "CLASSES", "SPLITS", "FOLDER"), rows)
    if not infos:
        click.echo(f"no data set matches {pattern!r}")
    if any(i.streamed for i in infos):
        click.echo("* streamed from disk batch by batch (too large for memory)")
    click.echo(f"data root: {data_root()} (--data-root or $GENZOO_DATA to change)")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
