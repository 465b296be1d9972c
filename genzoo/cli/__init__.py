"""The ``genzoo`` command line: list, train, sample, evaluate, inspect and share without writing
Python.

Each command lives in its own module and is imported only when it runs (or when help lists it).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from ..errors import GenzooError

__all__ = ["main", "COMMANDS"]

#: Command name → ``"module:attribute"`` of its click command, relative to this package.
COMMANDS: dict[str, str] = {
    "list": "list_command:list_command",
    "train": "train_command:train",
    "sample": "sample_command:sample",
    "info": "info_command:info",
    "eval": "eval_command:evaluate",
    "report": "report_command:report",
    "export": "export_command:export",
    "push": "push_command:push",
    "new-plugin": "new_plugin_command:new_plugin",
}


def model_name(model: Any) -> str:
    """A loaded model's registered name for messages, else its class name."""
    return getattr(model, "registry_name", "") or type(model).__name__


#: The exit status of a command whose output pipe closed early: a shell's status for a process
#: that SIGPIPE ended (128 + 13), as Unix tools end.
_SIGPIPE_STATUS = 141


def _quiet_stdout() -> None:
    """Point standard output (and error) at the null device, so that nothing is written to the
    closed pipe again, not even Python's flush at exit."""
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
            continue
    os.close(devnull)


class _Group(click.Group):
    """Loads commands lazily, and turns genzoo's own errors and files that cannot be read or
    written (disk full, read-only) into a one-line message with exit status 2 instead of a
    traceback; Ctrl-C exits with status 130; output into a pipe whose reader has gone (``genzoo
    list | head -1``) stops quietly with status 141, as Unix tools do."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self.get_command(ctx, name) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{module_name}":
                return None  # a command not shipped in this version
            raise
        return getattr(module, attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GenzooError as err:
            click.echo(f"Error: {err}", err=True)
            ctx.exit(2)
        except BrokenPipeError:  # the reader went away (genzoo list | head -1): stop quietly
            _quiet_stdout()
            ctx.exit(_SIGPIPE_STATUS)
        except OSError as err:  # a file that cannot be read or written: disk full, read-only...
            where = f"{err.filename}: " if err.filename else ""
            click.echo(f"Error: {where}{err.strerror or err}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as err:  # Ctrl-C: the runner has said where to resume from
            if str(err):
                click.echo(f"genzoo: {err}", err=True)
            ctx.exit(130)


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
      genzoo eval runs/vae/checkpoints/last.pt --data mnist -n 10000
      genzoo report runs/gan runs/vae
      genzoo export runs/vae vae-mnist && genzoo push vae-mnist user/vae-mnist
    """
    from ..plugins import reload_plugins

    if only_plugins is not None:
        os.environ["GENZOO_PLUGINS"] = only_plugins
    if block_plugins is not None:
        os.environ["GENZOO_BLOCK_PLUGINS"] = block_plugins
    if only_plugins is not None or block_plugins is not None:
        reload_plugins()
