"""``genzoo new-plugin``: write a new model plugin package that installs, trains and tests."""

from __future__ import annotations

from pathlib import Path

import click

_EPILOG = """\b
Examples:
  genzoo new-plugin my-model                 # writes ./genzoo-my-model/
  genzoo new-plugin my-model plugins/mine    # writes plugins/mine/
  genzoo new-plugin my-model --force         # write into a folder that has files

\b
Then:
  pip install -e genzoo-my-model
  genzoo list
  pytest genzoo-my-model
"""


@click.command("new-plugin", epilog=_EPILOG)
@click.argument("name")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write even if NAME's package, distribution or model "
              "is already installed, and into DIRECTORY even if it has files, overwriting those of "
              "the same names.")
def new_plugin(name: str, directory: Path | None, force: bool) -> None:
    """Create a plugin package for a new model NAME in DIRECTORY.

    NAME is lowercase letters and digits in words joined by '-' or '_' (my-model); it becomes
    the model's name, the distribution genzoo-NAME and the package genzoo_NAME, none of which
    may be installed already (vae is refused: its package is the built-in VAE's).
    DIRECTORY defaults to ./genzoo-NAME. The package has the entry point, a small working
    model, its losses and a test that builds, fits, samples, saves and loads it.
    """
    from ..scaffold import name_clashes, plugin_names, write_plugin

    names = plugin_names(name)
    target = directory if directory is not None else Path(names.distribution)
    clashes = name_clashes(names) if force else []
    write_plugin(name, target, force=force)
    click.echo(f"created {names.distribution} (model {names.model!r}, package {names.package}) "
               f"in {target}")
    if clashes:
        click.echo(f"warning: --force: {'; '.join(clashes)}; installing this package shadows "
                   "or conflicts with them until one is renamed", err=True)
    click.echo("next steps:")
    click.echo(f"  pip install -e {target}")
    click.echo(f"  genzoo list {names.model}")
    click.echo(f"  pytest {target}")
