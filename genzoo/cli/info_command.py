"""``genzoo info``: what a checkpoint holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .._words import plural

@click.command(epilog="\b\nExamples:\n  genzoo info runs/gan/checkpoints/last.pt\n  genzoo info model.pt --json")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(checkpoint: Path, as_json: bool) -> None:
    """Show a checkpoint's model, config, training progress and versions."""
    from ..checkpoint import read_checkpoint

    payload = read_checkpoint(checkpoint)
    summary = {
        "file": str(checkpoint),
        "model": payload["model"],
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in payload["config"].items()},
        "epochs": payload.get("epoch"),
        "steps": payload.get("step"),
        "mid_epoch_batch": payload.get("batch_in_epoch") or None,
        "metrics": payload.get("metrics") or {},
        "versions": payload.get("versions", {}),
        "resumable": "optimizers" in payload,
        "format_version": payload["format_version"],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"model:    {summary['model']}")
    trained = "weights only (saved with save())" if summary["epochs"] is None else (
        f"{plural(summary['epochs'], 'epoch')}, {plural(summary['steps'], 'step')}"
        + (f", stopped in epoch {summary['epochs'] + 1} after batch {summary['mid_epoch_batch']}"
           if summary["mid_epoch_batch"] else ""))
    click.echo(f"trained:  {trained}")
    click.echo(f"resume:   {'yes' if summary['resumable'] else 'no (no optimizer state)'}")
    versions = summary["versions"]
    click.echo(f"versions: genzoo {versions.get('genzoo')}, torch {versions.get('torch')}, "
               f"plugin {versions.get('plugin')} {versions.get('plugin_version') or ''}".rstrip())
    click.echo("config:")
    for key, value in summary["config"].items():
        click.echo(f"  {key} = {value!r}")
    if summary["metrics"]:
        click.echo("last epoch:")
        for key, value in summary["metrics"].items():
            click.echo(f"  {key} = {value}")
