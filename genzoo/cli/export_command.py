"""``genzoo export``: a run as a model folder the Hugging Face Hub understands."""

from __future__ import annotations

from pathlib import Path

import click

_EPILOG = """\b
Examples:
  genzoo export runs/gan gan-mnist
  genzoo export runs/vae/checkpoints/last.pt vae-mnist --weights raw --license mit
  genzoo push gan-mnist user/gan-mnist
"""


@click.command(epilog=_EPILOG)
@click.argument("source", metavar="RUN_OR_CHECKPOINT", type=click.Path(path_type=Path))
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--weights", type=click.Choice(["auto", "ema", "raw"]), default="auto",
              show_default=True,
              help="auto: the weight EMA where the run kept one, else the trained weights.")
@click.option("--license", "license_id", metavar="ID",
              help="The weights' licence for the model card, as a Hub licence id (mit, "
                   "apache-2.0, cc-by-4.0, ...).  [default: unknown]")
@click.option("--repo", "repo_id", metavar="ID",
              help="The id the folder will be loaded by (USER/NAME), for the card's examples.  "
                   "[default: a placeholder that genzoo push fills in]")
@click.option("--force", is_flag=True,
              help="Also write into a folder that holds other files (files of the same names "
                   "are replaced, the others kept).")
def export(source: Path, folder: Path, weights: str, license_id: str | None, repo_id: str | None,
           force: bool) -> None:
    """Export a run folder (its last checkpoint) or a checkpoint file as the model folder DIR:
    config.json, model.safetensors, a model card (README.md), the run's last sample grid and
    its latest genzoo eval result (eval.json).

    The card says what the run folder knows: its data and settings, training time, the
    genzoo eval results of the checkpoint and bits/dim where measured. DIR must be new, empty
    or an earlier export (or --force); genzoo.from_pretrained and genzoo sample/eval/info load
    it, genzoo push uploads it.
    """
    from ..hub import export as export_folder, read_folder_config

    written = export_folder(source, folder, weights=weights, force=force,  # type: ignore[arg-type]
                            license=license_id, repo_id=repo_id)
    config = read_folder_config(written)
    files = ", ".join(sorted(p.name for p in written.iterdir() if not p.name.startswith(".")))
    kind = "the weight EMA" if config["weights"] == "ema" else "the trained weights"
    click.echo(f"exported {config['model']} ({kind}) from {source} to {written}/: {files}")
    click.echo(f"load it with genzoo.from_pretrained({str(written)!r}); push it with: "
               f"genzoo push {written} USER/NAME")
