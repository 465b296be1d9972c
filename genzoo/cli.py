"""The ``genzoo`` command line: list, train, sample and inspect models without writing Python."""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from .errors import ConfigError, GenzooError
from .training import TrainSpec

__all__ = ["main"]

_EPILOG_TRAIN = """\b
Examples:
  genzoo train gan --data mnist --epochs 20 --out runs/gan
  genzoo train vae --data fashion-mnist --set latent_dim=32 --set beta=0.5
  genzoo train gan --data ./my_faces --image-size 32 --channels 3 --out runs/faces
  genzoo train gan --out runs/gan --epochs 40 --resume     # continue runs/gan
  genzoo train --config run.toml --seed 3                 # options override the file
"""


class _Group(click.Group):
    """Turns genzoo's own errors into a one-line message and exit status 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GenzooError as err:
            click.echo(f"Error: {err}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Run 'genzoo COMMAND --help' for a command's options and examples.")
@click.version_option(package_name="genzoo", prog_name="genzoo")
@click.option("--plugins", "only_plugins", metavar="NAMES",
              help="Load only these plugins (comma-separated entry-point names).")
@click.option("--block-plugins", metavar="NAMES", help="Never load these plugins (comma-separated).")
def main(only_plugins: str | None, block_plugins: str | None) -> None:
    """genzoo: a plugin-based zoo of generative models on PyTorch.

    \b
    Examples:
      genzoo list
      genzoo train vae --data mnist --epochs 10 --out runs/vae
      genzoo sample runs/vae/checkpoints/last.pt -n 64 -o vae.png
      genzoo info runs/vae/checkpoints/last.pt
    """
    from .plugins import reload_plugins

    if only_plugins is not None:
        os.environ["GENZOO_PLUGINS"] = only_plugins
    if block_plugins is not None:
        os.environ["GENZOO_BLOCK_PLUGINS"] = block_plugins
    if only_plugins is not None or block_plugins is not None:
        reload_plugins()


@main.command("list", epilog="\b\nExamples:\n  genzoo list\n  genzoo list 'v*' --json")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(pattern: str, as_json: bool) -> None:
    """List the models that can be built, with their plugin, version and summary."""
    import warnings

    from .build import broken_plugins, model_infos

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


@main.command(epilog=_EPILOG_TRAIN)
@click.argument("model", required=False)
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A TOML file with these options (and a [config] table of model settings).")
@click.option("--data", help="mnist, fashion-mnist, or a folder of PNG/JPEG images.  [default: mnist]")
@click.option("--data-root", help="Where named data sets live.  [default: $GENZOO_DATA, else ~/.cache/genzoo/data]")
@click.option("--no-download", "download", flag_value=False, default=None,
              help="Fail instead of downloading a missing data set.")
@click.option("--channels", type=click.IntRange(1, 3), help="Folder data: convert to 1 or 3 channels.")
@click.option("--image-size", type=click.IntRange(1), help="Folder data: resize images to this size.")
@click.option("--epochs", type=click.IntRange(1), help="Train up to this epoch.  [default: 10]")
@click.option("--batch-size", type=click.IntRange(1), help="Images per step.  [default: 64]")
@click.option("--out", help="Run folder for checkpoints, grids and logs.  [default: runs/MODEL]")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.  [default: auto]")
@click.option("--precision", type=click.Choice(["32", "bf16", "16"]), help="[default: 32]")
@click.option("--seed", type=int, help="Seed for weights, data order and noise (repeatable on CPU).")
@click.option("--grid-every", type=click.IntRange(0), help="Save sample grids every K epochs.  [default: 1]")
@click.option("--checkpoint-every", type=click.IntRange(0), help="Checkpoint every K epochs.  [default: 1]")
@click.option("--resume", is_flag=False, flag_value="auto", metavar="[CKPT]",
              help="Continue from CKPT, or without a value from the run folder's last checkpoint.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change a model setting (repeatable), e.g. --set latent_dim=64.")
@click.option("--log-every", type=click.IntRange(1), help="Steps between loss read-backs.  [default: 50]")
@click.option("--max-steps", type=click.IntRange(1), help="Stop after this many steps in all.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar.  [default: on a terminal]")
@click.option("--tensorboard", is_flag=True, default=None, help="Also log to OUT/tensorboard.")
def train(model: str | None, config_file: Path | None, settings: Sequence[str], **options: Any) -> None:
    """Train MODEL on a data set or a folder of images.

    Options override the --config file, which overrides the defaults. The run folder gets
    the resolved settings (train.toml, run.json), checkpoints/last.pt, grids/ and metrics.jsonl.
    """
    spec = _train_spec(model, config_file, settings, options)
    from .training import run_training

    started = time.perf_counter()
    result, out = run_training(spec)
    seconds = time.perf_counter() - started
    click.echo(f"trained {spec.model} to epoch {result.epochs} ({result.steps} steps) in {seconds:.1f} s")
    if result.metrics:
        shown = {k: v for k, v in result.metrics.items() if k not in ("epoch", "step")}
        click.echo("last epoch: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
    click.echo(f"run folder: {out}")
    if result.checkpoint:
        click.echo(f"checkpoint: {result.checkpoint}")


@main.command(epilog="\b\nExamples:\n  genzoo sample runs/gan/checkpoints/last.pt -n 64 -o gan.png\n"
                     "  genzoo sample runs/vae/checkpoints/last.pt -n 100 -o samples/ --seed 1")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-n", "count", type=click.IntRange(1), default=64, show_default=True, help="How many images.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("samples.png"),
              show_default=True, help="A .png/.jpg file for a grid, or a folder for one PNG per image.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same images.")
@click.option("--device", default="cpu", show_default=True, help="Where to run the model.")
@click.option("--nrow", type=click.IntRange(1), help="Images per grid row.  [default: square]")
def sample(checkpoint: Path, count: int, output: Path, seed: int, device: str, nrow: int | None) -> None:
    """Draw images from a trained CHECKPOINT into a grid or a folder of PNGs."""
    import math

    from torchvision.utils import save_image

    from .checkpoint import load
    from .runner import resolve_device

    model = load(checkpoint, device=resolve_device(device))
    images = model.sample(count, seed=seed).cpu()
    if output.suffix.lower() in (".png", ".jpg", ".jpeg"):
        output.parent.mkdir(parents=True, exist_ok=True)
        save_image(images, output, nrow=nrow or max(1, round(math.sqrt(count))))
        click.echo(f"wrote a grid of {count} samples to {output}")
    else:
        output.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            save_image(image, output / f"sample_{index:05d}.png")
        click.echo(f"wrote {count} samples to {output}/")


@main.command(epilog="\b\nExamples:\n  genzoo info runs/gan/checkpoints/last.pt\n  genzoo info model.pt --json")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(checkpoint: Path, as_json: bool) -> None:
    """Show a checkpoint's model, config, training progress and versions."""
    from .checkpoint import read_checkpoint

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
        f"{summary['epochs']} epochs, {summary['steps']} steps"
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


def _train_spec(model: str | None, config_file: Path | None, settings: Sequence[str],
                options: dict[str, Any]) -> TrainSpec:
    from .config import resolve_config

    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            values = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise click.BadParameter(f"{config_file} is not valid TOML: {err}", param_hint="--config")
    values.update({k: v for k, v in options.items() if v is not None})
    if model:
        values["model"] = model
    model_config = dict(values.pop("config", {}) or {})
    if not isinstance(model_config, dict):
        raise click.BadParameter("the [config] entry must be a table of model settings", param_hint="--config")
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        model_config[key.strip()] = value.strip()
    try:
        spec = resolve_config(TrainSpec, values, owner="train")
    except ConfigError as err:
        raise click.UsageError(str(err)) from None
    if not spec.model:
        raise click.UsageError("name the model to train (genzoo train MODEL), or set model in --config")
    spec.config = model_config
    if spec.out is None:
        spec.out = str(Path("runs") / spec.model)
    return spec


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
