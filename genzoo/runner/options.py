"""The options every model's :meth:`~genzoo.GenerativeModel.fit` takes, declared once.

Each field of :class:`RunOptions` carries what it means in its metadata (an
:class:`OptionInfo`): the class's ``Attributes`` documentation, its checks, the settings of
:class:`genzoo.training.TrainSpec` (``genzoo train --config`` files and a run's
``train.toml``) and the flags of ``genzoo train`` are all made from these fields.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ..config import check_seed
from ..errors import ConfigError
from ..extras import require

__all__ = ["RunOptions", "OptionInfo", "Bounds", "PRECISIONS"]

#: Every spelling of a precision genzoo takes (``fit(precision=...)``, ``--precision``,
#: ``precision = ...`` in a TOML file), with the precision it means: ``"32"``, ``"bf16"``,
#: ``"16"`` or ``"auto"`` (the faster of ``"32"`` and ``"bf16"`` on the device:
#: :func:`genzoo.devices.resolve_precision`).
PRECISIONS: dict[str, str] = {"auto": "auto", "32": "32", "bf16": "bf16", "16": "16", "fp32": "32",
                              "32-true": "32", "bf16-mixed": "bf16", "fp16": "16", "16-mixed": "16"}

# the type of RunOptions.precision, made from the table so that the spellings are listed once
_Precision = Literal[tuple(PRECISIONS)]  # type: ignore[valid-type]

#: The key of a :class:`RunOptions` field's :class:`OptionInfo` in its ``metadata``.
_INFO = "genzoo_run_option"


@dataclass(frozen=True)
class Bounds:
    """The range a number option must lie in.

    Attributes:
        says: The range in words, for the error (``"at least 1"``).
        low: The smallest value (``None``: no lower bound).
        high: The largest value (``None``: no upper bound).
        low_open: Whether ``low`` itself is outside.
        high_open: Whether ``high`` itself is outside.
    """

    says: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below  # NaN lies in no bounded range


@dataclass(frozen=True)
class OptionInfo:
    """What a :class:`RunOptions` field declares beside its type and default.

    Attributes:
        summary: One sentence on what the option does: the start of its documentation, and the
            help of its ``genzoo train`` flag.
        details: The rest of its documentation (reST).
        bounds: The range a number must lie in, or ``None``.
        spellings: For a choice of names, every spelling taken with the name it means (the
            field's value is that name), or ``None``.
        metavar: How the ``genzoo train`` flag's help names its value (``URI``), or ``None``
            for the type's name.
    """

    summary: str
    details: str = ""
    bounds: Bounds | None = None
    spellings: dict[str, str] | None = None
    metavar: str | None = None

    @staticmethod
    def of(f: Any) -> OptionInfo:
        """The :class:`OptionInfo` of the :class:`RunOptions` field ``f`` (a
        :class:`dataclasses.Field`)."""
        info: OptionInfo = f.metadata[_INFO]
        return info


def _option(default: Any, summary: str, details: str = "", *, bounds: Bounds | None = None,
            spellings: dict[str, str] | None = None, metavar: str | None = None) -> Any:
    return field(default=default,
                 metadata={_INFO: OptionInfo(summary, details, bounds, spellings, metavar)})


_AT_LEAST_1 = Bounds("at least 1", low=1)
#: What each tracker option names, for its error.
_TRACKER_TARGETS = {"mlflow": "MLflow tracking URI (http://HOST:PORT)", "wandb": "W&B project"}
_EPOCHS = Bounds("0 or a positive number of epochs", low=0)
_STEPS = Bounds("0 or a positive number of steps", low=0)


def _document_fields(cls: type) -> type:
    """Give ``cls`` an ``Attributes`` section made from its fields' :class:`OptionInfo`."""
    lines = [inspect.cleandoc(cls.__doc__ or ""), "", "Attributes:"]
    for f in fields(cls):
        info = OptionInfo.of(f)
        text = f"{f.name}: {info.summary} {info.details}".strip()
        lines += textwrap.wrap(text, 96, initial_indent="    ", subsequent_indent="        ",
                               break_long_words=False, break_on_hyphens=False)
    cls.__doc__ = "\n".join(lines) + "\n"
    return cls


@_document_fields
@dataclass
class RunOptions:
    """How the runner trains: device, precision, files, logging, resumption, schedules, clipping
    and weight EMA."""

    out: str | None = _option(None, "The run folder for checkpoints, grids and logs.",
                              "``None`` writes nothing.")
    device: str = _option("auto", '``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, '
                                  '``"cuda:N"`` or ``"mps"``.')
    precision: _Precision = _option(
        "auto", '``"auto"`` (bfloat16 where the device runs it natively and faster, else full), '
                '``"32"`` (full), ``"bf16"`` (bfloat16 autocast; CPU, CUDA, MPS) or ``"16"`` '
                "(float16 autocast with a gradient scaler; CUDA only).",
        '``"auto"`` is ``"32"`` on a CPU without native bfloat16, on MPS and on GPUs older than '
        "compute capability 8.0, so it changes nothing there; see "
        ":func:`genzoo.devices.resolve_precision`. A run records the precision it resolved to "
        "and a resume keeps it. bfloat16 asked for on a CPU where it is slower is warned about, "
        "with the measured slowdown. The other usual spellings (" + ", ".join(f'``"{k}"``' for k in PRECISIONS if PRECISIONS[k] != k)
        + ") are taken too, and stored as the name they mean.", spellings=PRECISIONS)
    seed: int | None = _option(None, "Seeds Python, NumPy and torch, so that a CPU run repeats "
                                     "exactly (``genzoo train`` seeds the weights with it too).")
    resume: str | None = _option(None, "A checkpoint to continue from (a run folder: its last "
                                       "one), or ``\"auto\"`` for the run folder's last one when "
                                       "it exists.",
                                 "Training then goes on up to ``epochs`` in all.")
    checkpoint_every: int = _option(1, "Write ``checkpoints/last.pt`` every this many epochs (and "
                                       "always at the end and when interrupted); 0 writes only at "
                                       "the end.", bounds=_EPOCHS)
    checkpoint_every_steps: int = _option(0, "Also write it every this many steps (0: never), "
                                             "mid-epoch included; a run resumed from such a "
                                             "checkpoint continues exactly.", bounds=_STEPS)
    grid_every: int = _option(1, "Save sample grids every this many epochs (and a final one); 0 "
                                 "only at the end.", bounds=_EPOCHS)
    grid_every_steps: int = _option(0, "Also save grids every this many steps "
                                       "(``samples_step_00000500.png``); 0 never.", bounds=_STEPS)
    grid_size: int = _option(64, "How many images a grid shows.", bounds=_AT_LEAST_1)
    grid_seed: int = _option(0, "Seed of the fixed latent batch the grids are drawn from.")
    log_every: int = _option(50, "Steps between loss read-backs (each is a host synchronisation).",
                             "The losses' means over those steps go to ``steps.jsonl``, the "
                             "progress and TensorBoard's ``step/*`` scalars.", bounds=_AT_LEAST_1)
    progress: bool | None = _option(None, "Show a progress bar.",
                                    "``True`` always, ``False`` nothing; ``None`` a bar when "
                                    "stderr is a terminal and otherwise plain lines (one per "
                                    "epoch, and within a long epoch at most one every 30 seconds).")
    tensorboard: bool = _option(False, "Also log metrics to the run folder's ``tensorboard/``.",
                                "Needs the tensorboard package.")
    mlflow: str | None = _option(
        None, "Also log the run to the MLflow tracking server at this URI "
              "(``http://HOST:PORT``, or a local store such as ``sqlite:///mlflow.db``).",
        "The settings go as parameters, the interval and epoch scalars as metrics, the grids, "
        "``run.json``, ``train.toml``, ``eval.json`` and the exported model folder as artifacts; "
        "the MLflow run ends finished, failed or killed as the run does. The experiment is "
        "``MLFLOW_EXPERIMENT_NAME``, else ``genzoo``. Needs the mlflow package and a run folder "
        "(``out``); see :mod:`genzoo.runner.trackers`.", metavar="URI")
    wandb: str | None = _option(
        None, "Also log the run to Weights & Biases under this project.",
        "Online with W&B's login, or offline with ``WANDB_MODE=offline``. The settings go to "
        "the run's config, the scalars to its history, the grids as images and the exported "
        "model folder as a model artifact. Needs the wandb package and a run folder (``out``).",
        metavar="PROJECT")
    report: bool = _option(False, "Keep the run folder's ``report.html`` (curves, grids, settings) "
                                  "up to date as the run goes.", "See :mod:`genzoo.report`.")
    max_steps: int | None = _option(None, "Stop after this many steps in all.",
                                    "For smoke tests and benchmarks.", bounds=_AT_LEAST_1)
    handle_signals: bool = _option(True, 'Turn SIGINT/SIGTERM into "checkpoint, then stop" while '
                                         "fitting.")
    strategy: Literal["auto", "ddp", "fsdp"] = _option(
        "auto", 'Under ``torchrun``: ``"ddp"`` (each process holds the whole model) or ``"fsdp"`` '
                '(sharded); ``"auto"`` is ``"ddp"``.',
        "DDP averages the gradients during backward; FSDP2 shards the parameters, gradients and "
        "optimizer states across the processes, and the checkpoints too. One process trains the "
        'plain model whatever it says (with a warning when ``"ddp"`` or ``"fsdp"`` is asked for).')
    lr_schedule: Literal["constant", "cosine"] = _option(
        "constant", 'The learning rate after the warm-up: ``"constant"``, or ``"cosine"`` (half a '
                    "cosine from the base rate down to 0 at the last step of ``epochs``).",
        "It applies to every optimizer the model returns without a scheduler of its own (see "
        ":class:`genzoo.OptimizerSpec`).")
    warmup_steps: int = _option(0, "Raise the learning rate linearly over this many steps first.",
                                bounds=Bounds("0 or more", low=0))
    max_norm: float | None = _option(
        None, "Clip each optimizer's gradients to this total L2 norm before it steps; the norm "
              "before clipping is logged as ``grad_norm_<name>``.", "``None``: no clipping.",
        bounds=Bounds("a positive gradient norm", low=0, low_open=True))
    ema: float = _option(
        0.0, "Keep an exponential moving average of the weights with this decay (e.g. "
             "``0.9999``); grids, samples and evaluation use the average.",
        "``0`` turns it off; ``0.999`` to ``0.9999`` are usual. After ``fit``, ``sample`` and "
        "``save`` use it (see :class:`genzoo.runner.optimization.WeightEMA`).",
        bounds=Bounds("a decay in [0, 1) (0 turns it off)", low=0, high=1, high_open=True))
    ema_warmup: bool = _option(True, "Warm the EMA's decay up: ``min(ema, (1 + t) / (10 + t))`` at "
                                     "update ``t``.")

    def __post_init__(self) -> None:
        for f in fields(self):
            info, value = OptionInfo.of(f), getattr(self, f.name)
            if info.spellings is not None:
                if str(value) not in info.spellings:
                    raise ConfigError(f"{f.name} must be one of "
                                      f"{', '.join(map(repr, info.spellings))}, got {value!r}")
                setattr(self, f.name, info.spellings[str(value)])
            elif info.bounds is not None and value is not None and value not in info.bounds:
                raise ConfigError(f"{f.name} must be {info.bounds.says}, got {value}")
        self.seed = check_seed(self.seed)
        self.grid_seed = check_seed(self.grid_seed, "grid_seed")  # type: ignore[assignment]
        if self.tensorboard:  # fail before the run starts, not at its first log line
            require("torch.utils.tensorboard", "tensorboard", "tensorboard=True (--tensorboard)")
        if self.report:
            require("matplotlib", "report", "report=True (--report)")
        for name, extra in (("mlflow", "mlflow"), ("wandb", "wandb")):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name} is empty (an unset shell variable?); give the "
                                  f"{_TRACKER_TARGETS[name]}, or leave {name}=None to log nowhere")
            setattr(self, name, value.strip())
            require(extra, extra, f"{name}= (--{name})")  # before the run, as for tensorboard
        if self.out is not None:
            self.out = str(self.out)
            if not self.out.strip():  # Path("") is the current folder: an unset variable
                raise ConfigError("out is empty (an unset shell variable?); name the run "
                                  "folder, or leave out=None to write nothing")
        if self.resume is not None:
            self.resume = str(self.resume)
