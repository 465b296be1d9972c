"""``genzoo info``: what a checkpoint, a model folder or a Hub repository holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .._words import plural

@click.command(epilog="\b\nExamples:\n  genzoo info runs/gan/checkpoints/last.pt\n  genzoo info model.pt --json"
                     "\n  genzoo info gan-mnist\n  genzoo info user/gan-mnist --revision main")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--revision", metavar="REV",
              help="For a Hub repository: a branch, tag or commit hash.  [default: main]")
def info(checkpoint: Path, as_json: bool, revision: str | None) -> None:
    """Show a checkpoint's model, config, training progress and versions.

    CHECKPOINT may also be a run folder (its last checkpoint), a model folder genzoo export
    wrote, or a Hugging Face Hub repository USER/NAME: its config.json is shown (nothing else
    is downloaded).
    """
    from ..checkpoint import read_checkpoint
    from ..hub import locate_model

    found = locate_model(checkpoint, revision=revision)
    if not isinstance(found, Path):
        _folder_info(found, as_json)
        return
    payload = read_checkpoint(found)  # a run folder: its last checkpoint
    summary = {
        "file": str(found),
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
    _versions_line(summary["versions"])
    click.echo("config:")
    for key, value in summary["config"].items():
        click.echo(f"  {key} = {value!r}")
    if summary["metrics"]:
        click.echo("last epoch:")
        for key, value in summary["metrics"].items():
            click.echo(f"  {key} = {value}")


def _folder_info(folder: Any, as_json: bool) -> None:
    """Show a model folder's ``config.json``."""
    config = folder.config
    summary = {
        "folder": str(folder.path),
        "repo": folder.repo_id,
        "commit": folder.commit,
        "model": config["model"],
        "weights": config["weights"],
        "trained": config.get("trained"),
        "data": config.get("data"),
        "config": config["config"],
        "sampling_options": config.get("sampling_options", {}),
        "versions": config["versions"],
        "format_version": config["format_version"],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    if folder.repo_id:
        click.echo(f"repo:     {folder.repo_id} at commit {folder.commit}")
    click.echo(f"folder:   {folder.path}")
    click.echo(f"model:    {summary['model']}")
    click.echo(f"weights:  {'the weight EMA of its run' if summary['weights'] == 'ema' else 'the trained weights'}")
    trained = summary["trained"] or {}
    if trained.get("epochs") is not None and trained.get("steps") is not None:
        click.echo(f"trained:  {plural(trained['epochs'], 'epoch')}, {plural(trained['steps'], 'step')}"
                   + (f" on {summary['data']}" if summary["data"] else ""))
    _versions_line(summary["versions"])
    click.echo("config:")
    for key, value in summary["config"].items():
        click.echo(f"  {key} = {value!r}")


def _versions_line(versions: dict[str, Any]) -> None:
    click.echo(f"versions: genzoo {versions.get('genzoo')}, torch {versions.get('torch')}, "
               f"plugin {versions.get('plugin')} {versions.get('plugin_version') or ''}".rstrip())
