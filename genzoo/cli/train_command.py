"""``genzoo train``: a training run from options, a TOML file, or both."""

from __future__ import annotations

import dataclasses
import re
import time
import tomllib
import typing
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import click

from ..data import dataset_names
from .._words import plural
from ..errors import ConfigError
from .intervals import INTERVAL, split_intervals
from ..runner.options import OptionInfo, RunOptions
from ..training import TrainSpec

#: The value of a bare ``--resume``: the run folder's last checkpoint, which must exist.
LAST = "last"


_EPILOG_TRAIN = """\b
Examples:
  genzoo train gan --data mnist --epochs 20 --out runs/gan
  genzoo train vae --data fashion-mnist --set latent_dim=32 --set beta=0.5
  genzoo train dcgan --data cifar10 --epochs 50 --out runs/cifar
  genzoo train conv-vae --data celeba --batch-size 128      # 64x64 faces, streamed from disk
  genzoo train dcgan --data stl10:unlabeled --image-size 64
  genzoo train gan --data ./my_faces --image-size 32 --channels 3 --out runs/faces
  genzoo train --resume runs/gan --epochs 40             # continue runs/gan, its own settings
  genzoo train gan --out runs/gan --epochs 40 --resume     # the same
  genzoo train gan --out runs/gan --resume auto            # continue if it has a checkpoint
  genzoo train vae --checkpoint-every 500steps --report   # mid-epoch checkpoints, report.html
  genzoo train --config run.toml --seed 3                 # options override the file
  torchrun --nproc_per_node=2 -m genzoo train gan --strategy fsdp   # 2 processes, sharded
  genzoo train vae --lr-schedule cosine --warmup-steps 500 --max-norm 1 --ema 0.999
  genzoo train STUDENT --teacher runs/flow-matching --out runs/student   # learns from a teacher
"""


#: The flags of the RunOptions fields that are not made from the field: a form of their own
#: (``--resume`` without a value, ``K`` epochs or ``Ksteps``), or none at all (``None``).
_OWN_FLAGS: dict[str, Callable[[Any], Any] | None] = {
    "resume": click.option(
        "--resume", is_flag=False, flag_value=LAST, metavar="[RUN|CKPT|auto]",
        help="Continue a run with its own settings: the run folder RUN (without a value: --out), "
             "or the checkpoint CKPT; 'auto' continues --out if it has a checkpoint and starts a "
             "new run otherwise."),
    "checkpoint_every": click.option(
        "--checkpoint-every", type=INTERVAL, metavar="K[steps]",
        help="Checkpoint every K epochs, or every K steps with Ksteps (500steps; resumes exactly "
             "mid-epoch).  [default: 1]"),
    "checkpoint_every_steps": None,  # --checkpoint-every Ksteps
    "grid_every": click.option(
        "--grid-every", type=INTERVAL, metavar="K[steps]",
        help="Save sample grids every K epochs, or every K steps with Ksteps (500steps).  "
             "[default: 1]"),
    "grid_every_steps": None,  # --grid-every Ksteps
    "handle_signals": None,  # genzoo train always checkpoints, then stops, on Ctrl-C or SIGTERM
}

#: The defaults as the flags' help shows them, where the field's own default would not say it.
_SHOWN_DEFAULTS = {"out": "runs/MODEL", "progress": "on a terminal", "max_norm": "off",
                   "ema": "off"}


def _run_option_flags(command: Any) -> Any:
    """Give ``command`` a flag for each field of :class:`~genzoo.RunOptions`, in their order:
    ``--name`` from the field's name, its type, choices or range from the field's type and
    bounds, its help from the field's summary (``_OWN_FLAGS`` has the exceptions).
    Each flag defaults to ``None``, which leaves the setting to ``--config`` or the default."""
    hints = typing.get_type_hints(RunOptions)
    for f in reversed(dataclasses.fields(RunOptions)):
        flag = _OWN_FLAGS[f.name] if f.name in _OWN_FLAGS else _flag(f, hints[f.name])
        if flag is not None:
            command = flag(command)
    return command


def _flag(f: dataclasses.Field[Any], hint: Any) -> Callable[[Any], Any]:
    """The ``click.option`` decorator of the field ``f`` of type ``hint``."""
    info = OptionInfo.of(f)
    name = f.name.replace("_", "-")
    kind = _without_none(hint)
    shown = _SHOWN_DEFAULTS.get(f.name, "on" if f.default is True else f.default)
    text = _LITERAL.sub(r"\1", info.summary)
    if shown is not None and shown is not False:
        text += f"  [default: {shown}]"
    attrs: dict[str, Any] = {"default": None, "help": text}
    if info.metavar is not None:
        attrs["metavar"] = info.metavar
    if kind is bool:  # --name when it is off by default, else --name/--no-name
        if f.default is False:
            return click.option(f"--{name}", f.name, is_flag=True, **attrs)
        return click.option(f"--{name}/--no-{name}", f.name, **attrs)
    if info.spellings is not None:
        attrs["type"] = _Spelling(info.spellings)
    elif typing.get_origin(kind) is Literal:
        attrs["type"] = click.Choice(typing.get_args(kind))
    elif info.bounds is not None:
        bounds = info.bounds
        attrs["type"] = (click.IntRange if kind is int else click.FloatRange)(
            bounds.low, bounds.high, min_open=bounds.low_open, max_open=bounds.high_open)
    else:
        attrs["type"] = kind
    return click.option(f"--{name}", f.name, **attrs)


def _without_none(hint: Any) -> Any:
    """``X`` for ``X | None``, else ``hint``."""
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    return args[0] if type(None) in typing.get_args(hint) and len(args) == 1 else hint


#: reST literals (``"auto"``, ``steps.jsonl``), written plainly in a flag's help.
_LITERAL = re.compile(r'``"?(.*?)"?``')


class _Spelling(click.Choice):
    """A choice of names that also takes their other spellings (``fp16`` for ``16``)."""

    def __init__(self, spellings: dict[str, str]) -> None:
        super().__init__(list(dict.fromkeys(spellings.values())))
        self.spellings = spellings

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(self.spellings.get(value, value), param, ctx)


@click.command(epilog=_EPILOG_TRAIN)
@click.argument("model", required=False)
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A TOML file with these options (and a [config] table of model settings).")
@click.option("--data", help=f"A data set ({', '.join(dataset_names())}; NAME:SPLIT picks a split, "
                             "e.g. stl10:unlabeled) or a folder of PNG/JPEG images.  [default: mnist]")
@click.option("--data-root", help="Where named data sets live.  [default: $GENZOO_DATA, else ~/.cache/genzoo/data]")
@click.option("--no-download", "download", flag_value=False, default=None,
              help="Fail instead of downloading a missing data set.")
@click.option("--channels", type=click.Choice(["1", "3"]), help="Convert the images to 1 or 3 channels.")
@click.option("--image-size", type=click.IntRange(1), help="Resize the images to this size (square).")
@click.option("--epochs", type=click.IntRange(1), help="Train up to this epoch.  [default: 10]")
@click.option("--batch-size", type=click.IntRange(1), help="Images per step.  [default: 64]")
@click.option("--teacher", metavar="RUN|CKPT|FOLDER|USER/NAME",
              help="The trained model a student learns from: a run folder, a checkpoint, a model "
                   "folder, a Hub repository or pretrained:NAME (a resume without it uses the "
                   "run's own).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change a model setting (repeatable), e.g. --set latent_dim=64.")
@_run_option_flags
def train(model: str | None, config_file: Path | None, settings: Sequence[str], **options: Any) -> None:
    """Train MODEL on a data set or a folder of images.

    Options override the --config file, which overrides the defaults. The run folder gets
    the resolved settings (train.toml, run.json), checkpoints/last.pt, grids/ and metrics.jsonl.
    A folder that holds a run is never replaced: continue it with --resume, which takes the
    model, data, settings and seed from the run's train.toml; only options that leave the
    data order and the model alone (--epochs, --device, --precision, logging...) may change.
    """
    spec = _train_spec(model, config_file, settings, options)
    from ..training import run_training

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one "Warning: ..." line, not Python's file:line form
        result, out = run_training(spec)
    seconds = time.perf_counter() - started
    max_steps = spec.options.max_steps
    if max_steps and result.steps >= max_steps and result.epochs < spec.epochs:
        done = f"to step {result.steps:,} (--max-steps; {plural(result.epochs, 'whole epoch')})"
    else:
        done = f"to epoch {result.epochs} (step {result.steps:,})"
    click.echo(f"trained {spec.model} {done} in {seconds:.1f} s")
    if result.metrics:
        shown = {k: v for k, v in result.metrics.items() if k not in ("epoch", "step")}
        click.echo("last epoch: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
    click.echo(f"run folder: {out}")
    if result.checkpoint:
        click.echo(f"checkpoint: {result.checkpoint}")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    click.echo(f"Warning: {message}", err=True)


def _train_spec(model: str | None, config_file: Path | None, settings: Sequence[str],
                options: dict[str, Any]) -> TrainSpec:
    values: dict[str, Any] = {}
    split_intervals(options, "grid_every", "checkpoint_every")
    if config_file is not None:
        values = _read_toml(config_file, "--config")
    values.update({k: v for k, v in options.items() if v is not None})
    if isinstance(values.get("out"), str):  # '' would be the current folder (or runs/MODEL)
        from ..files import output_path

        output_path(values["out"], "--out")
    if model:
        values["model"] = model
    model_config = values.pop("config", None) or {}
    if not isinstance(model_config, dict):
        raise click.BadParameter("the [config] entry must be a table of model settings", param_hint="--config")
    model_config = dict(model_config)
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        model_config[key.strip()] = value.strip()
    if values.get("resume") is not None:
        values, model_config = _resumed_values(values, model_config)
    try:
        spec = TrainSpec.from_settings(values)
    except ConfigError as err:
        raise click.UsageError(str(err)) from None
    if not spec.model:
        raise click.UsageError("name the model to train (genzoo train MODEL), or set model in --config")
    spec.config = model_config
    if spec.options.out is None:
        spec.options.out = str(Path("runs") / spec.model)
    return spec


def _read_toml(path: Path, hint: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise click.BadParameter(f"{path} is not valid TOML: {err}", param_hint=hint)


def _resumed_values(given: dict[str, Any], config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings of a resumed run: the run's own ``train.toml``, changed only where safe.

    Returns:
        The run options and the model config to resume with (``resume`` set to the checkpoint,
        or to ``"auto"`` for a run folder without one under ``--resume auto``).
    """
    from ..runner import LAST_CHECKPOINT
    from ..training import RESUMABLE_OPTIONS, may_change_on_resume, run_settings, settings_conflicts

    resume = str(given["resume"])
    folder, checkpoint = _resume_target(resume, given)
    if not checkpoint.is_file():
        if resume != "auto":
            raise click.UsageError(
                f"{folder} has no checkpoint to resume ({checkpoint} does not exist); drop "
                "--resume to start a new run there, or pass --resume auto to resume only "
                "when a checkpoint exists")
        # a folder without a checkpoint holds no run yet: its train.toml (if any) is what a
        # run that failed before its first checkpoint left, not settings to replay
        click.echo(f"No checkpoint in {folder} yet: starting a new run there.", err=True)
        return {**given, "resume": "auto"}, config
    out = given.get("out")
    if out and checkpoint.resolve() != (Path(out) / LAST_CHECKPOINT).resolve():
        from ..runner.runfolder import refuse_existing_run

        refuse_existing_run(Path(out), foreign=resume)  # before anything else is asked for
    recorded = run_settings(folder) if folder is not None else None
    if recorded is None:  # a checkpoint without a run folder: the options as given
        return {**given, "resume": str(checkpoint)}, config
    base, base_config = recorded
    base_config = {**_added_settings(base.get("model") or given.get("model"), checkpoint),
                   **base_config}
    conflicts = settings_conflicts(base, base_config, given, config)
    if conflicts:
        safe = ", ".join("--" + name.replace("_", "-") for name in sorted(RESUMABLE_OPTIONS))
        raise click.UsageError(
            f"cannot resume {folder} with other settings: {'; '.join(conflicts)}. A resumed run "
            f"keeps its model, data and seed (from {folder / 'train.toml'}); only {safe} may "
            "change. Start a new run with another --out to change the others")
    values = {**base, **{k: v for k, v in given.items() if may_change_on_resume(k)}}
    if given.get("teacher") is None:  # the runner loads the checkpoint's own, checked by hash
        values.pop("teacher", None)
    values["resume"] = str(checkpoint)
    values["out"] = given.get("out") or str(folder)
    return values, {**base_config, **config}


def _added_settings(model: str | None, checkpoint: Path) -> dict[str, Any]:
    """The model options added after the run began (:func:`genzoo.config.added_option`) as its
    checkpoint saved them, or as it stands for them by lacking them: ``train.toml`` records
    only the options a user set, so an option it lacks is the checkpoint's, not today's
    default."""
    from ..checkpoint import config_class, read_checkpoint
    from ..config import added_values

    cls = config_class(model) if model else None
    if not added_values(cls, {}):  # no such options: nothing to read
        return {}
    return added_values(cls, read_checkpoint(checkpoint, model=model)["config"])


def _resume_target(resume: str, given: dict[str, Any]) -> tuple[Path | None, Path]:
    """The run folder (when there is one) and the checkpoint that ``--resume`` names."""
    from ..runner import LAST_CHECKPOINT

    if resume in (LAST, "auto"):
        out = given.get("out") or (str(Path("runs") / given["model"]) if given.get("model") else None)
        if out is None:
            raise click.UsageError("name the run to resume: genzoo train --resume RUN, or "
                                   "genzoo train MODEL --out RUN --resume")
        return Path(out), Path(out) / LAST_CHECKPOINT
    path = Path(resume)
    if path.is_dir():
        return path, path / LAST_CHECKPOINT
    if not path.is_file():
        raise click.UsageError(f"--resume {resume}: no checkpoint file at {path} (nor a run folder)")
    folder = path.parent.parent
    return (folder if (folder / "train.toml").is_file() else None), path
