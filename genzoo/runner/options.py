"""The options every model's :meth:`~genzoo.GenerativeModel.fit` takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import check_seed
from ..errors import ConfigError
from ..extras import require

__all__ = ["RunOptions"]

_PRECISIONS = {"32": "32", "fp32": "32", "32-true": "32", "bf16": "bf16", "bf16-mixed": "bf16",
               "16": "16", "fp16": "16", "16-mixed": "16"}


@dataclass
class RunOptions:
    """How the runner trains: device, precision, files, logging, resumption, schedules, clipping
    and weight EMA.

    Attributes:
        out: The run folder for checkpoints, grids and the metrics log. ``None`` writes nothing.
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
            ``"mps"``.
        precision: ``"32"`` (full), ``"bf16"`` (bfloat16 autocast; CPU, CUDA, MPS) or ``"16"``
            (float16 autocast with a gradient scaler; CUDA only).
        seed: Seeds Python, NumPy and torch so that a CPU run repeats exactly.
        resume: A checkpoint to continue from, or ``"auto"`` for the run folder's last one when
            it exists. Training then goes on up to ``epochs`` in all.
        checkpoint_every: Write ``checkpoints/last.pt`` every this many epochs (and always at the
            end and when interrupted); 0 writes only at the end.
        checkpoint_every_steps: Also write it every this many steps (0: never), mid-epoch
            included; a run resumed from such a checkpoint continues exactly.
        grid_every: Save sample grids every this many epochs (and a final one); 0 only at the end.
        grid_every_steps: Also save grids every this many steps (``samples_step_00000500.png``);
            0 never.
        grid_size: How many images a grid shows.
        grid_seed: Seed of the fixed latent batch the grids are drawn from.
        log_every: Read losses back from the device every this many steps (each read is a host
            synchronisation) and log their means over those steps to ``steps.jsonl``, the
            progress and TensorBoard's ``step/*`` scalars.
        progress: ``True`` shows a progress bar, ``False`` nothing; ``None`` a bar when stderr
            is a terminal and otherwise plain lines (one per epoch, and within a long epoch at
            most one every 30 seconds).
        report: Keep ``out/report.html`` up to date as the run goes (see :mod:`genzoo.report`).
        tensorboard: Also log metrics to ``out/tensorboard`` (needs the tensorboard package).
        max_steps: Stop after this many steps in all (for smoke tests and benchmarks).
        handle_signals: Turn SIGINT/SIGTERM into "checkpoint, then stop" while fitting.
        strategy: How processes launched by ``torchrun`` share the training: ``"ddp"`` (each
            holds the whole model; gradients are averaged by DDP during backward), ``"fsdp"``
            (parameters, gradients and optimizer states are sharded across them by FSDP2;
            checkpoints are sharded too) or ``"auto"`` (``"ddp"``). One process trains the
            plain model whatever it says.
        lr_schedule: ``"constant"`` or ``"cosine"`` (half a cosine from the base rate down to 0
            at the last step of ``epochs``), after ``warmup_steps``; applies to every optimizer
            the model returns without a scheduler of its own (see :class:`genzoo.OptimizerSpec`).
        warmup_steps: Raise the learning rate linearly over this many steps first.
        max_norm: Clip each optimizer's gradients to this total L2 norm before it steps
            (``None``: no clipping); the norm before clipping is logged as ``grad_norm_<name>``.
        ema: Keep an exponential moving average of the weights with this decay (``0``: off;
            ``0.999`` to ``0.9999`` are usual); grids, evaluation, ``sample`` and ``save``
            after ``fit`` use it (see :mod:`genzoo.runner.ema`).
        ema_warmup: Warm the EMA's decay up (``min(ema, (1 + t) / (10 + t))`` at update ``t``).
    """

    out: str | None = None
    device: str = "auto"
    precision: Literal["32", "bf16", "16", "fp32", "fp16", "32-true", "bf16-mixed", "16-mixed"] = "32"
    seed: int | None = None
    resume: str | None = None
    checkpoint_every: int = 1
    checkpoint_every_steps: int = 0
    grid_every: int = 1
    grid_every_steps: int = 0
    grid_size: int = 64
    grid_seed: int = 0
    log_every: int = 50
    progress: bool | None = None
    tensorboard: bool = False
    report: bool = False
    max_steps: int | None = None
    handle_signals: bool = True
    strategy: Literal["auto", "ddp", "fsdp"] = "auto"
    lr_schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0
    max_norm: float | None = None
    ema: float = 0.0
    ema_warmup: bool = True

    def __post_init__(self) -> None:
        self.precision = _PRECISIONS[str(self.precision)]  # type: ignore[assignment]
        for name in ("checkpoint_every", "grid_every", "checkpoint_every_steps", "grid_every_steps"):
            if getattr(self, name) < 0:
                unit = "steps" if name.endswith("_steps") else "epochs"
                raise ConfigError(f"{name} must be 0 or a positive number of {unit}, "
                                  f"got {getattr(self, name)}")
        for name in ("grid_size", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        self.seed = check_seed(self.seed)
        self.grid_seed = check_seed(self.grid_seed, "grid_seed")  # type: ignore[assignment]
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be 0 or more, got {self.warmup_steps}")
        if self.max_norm is not None and not self.max_norm > 0:
            raise ConfigError(f"max_norm must be a positive gradient norm, got {self.max_norm}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must be a decay in [0, 1) (0 turns it off), got {self.ema}")
        if self.tensorboard:  # fail before the run starts, not at its first log line
            require("torch.utils.tensorboard", "tensorboard", "tensorboard=True (--tensorboard)")
        if self.report:
            require("matplotlib", "report", "report=True (--report)")
        if self.out is not None:
            self.out = str(self.out)
            if not self.out.strip():  # Path("") is the current folder: an unset variable
                raise ConfigError("out is empty (an unset shell variable?); name the run "
                                  "folder, or leave out=None to write nothing")
        if self.resume is not None:
            self.resume = str(self.resume)
