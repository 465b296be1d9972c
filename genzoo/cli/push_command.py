"""``genzoo push``: a model folder to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path

import click

_EPILOG = """\b
Examples:
  genzoo push gan-mnist user/gan-mnist
  genzoo push vae-mnist my-org/vae-mnist --private

\b
The token is the one huggingface_hub keeps (hf auth login) or HF_TOKEN.
"""


@click.command(epilog=_EPILOG)
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.argument("repo_id", metavar="USER/NAME")
@click.option("--private", is_flag=True,
              help="Create the repository private (an existing one keeps its visibility).")
@click.option("-m", "--message", metavar="TEXT",
              help="The commit message.  [default: says what was exported]")
def push(folder: Path, repo_id: str, private: bool, message: str | None) -> None:
    """Upload the model folder DIR (from genzoo export) to the Hugging Face Hub as the model
    repository USER/NAME, creating it if needed.

    Needs huggingface_hub (pip install "genzoo[hub]") and a token with write access.
    """
    from ..hub import push_to_hub

    url = push_to_hub(folder, repo_id, private=private, commit_message=message)
    click.echo(f"pushed {folder} to {repo_id}: {url}")
