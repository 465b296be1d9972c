"""The shared training loop behind every model's ``fit``, and the step it lends the model.

The model owns its step (its optimizers and losses); the runner owns everything around it.
One training step reads top to bottom here: the loader's batch is checked and moved to the
device (:func:`genzoo.batches.to_batch`), the model's ``training_step`` calls
:meth:`Step.optimize` once per optimizer (backward, gradient averaging across processes,
clipping, the optimizer step), then the runner's bookkeeping runs (finite-loss watch, schedules,
weight EMA), and at intervals the losses are logged and grids and checkpoints written.

Each other job has its module, named by the data it owns: the run options
(:mod:`.options`), the run state that checkpoints hold and resumption (:mod:`.state`), what the
run writes and shows (:mod:`.outputs`), claiming the run folder (:mod:`.runfolder`), optimizers,
schedules and the weight EMA (:mod:`.optimization`), several processes (:mod:`.processes`).
This module also holds the run's hooks (its callbacks, then the installed plugins), the
SIGINT/SIGTERM handling that turns a signal into "checkpoint, then stop", and the watch that
stops a run at its first non-finite loss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pluggy
import torch

from .. import hookspecs
from .._words import model_label, plural
from ..batches import RangeWatch, to_batch
from ..config import resolve_config
from ..devices import Precision, bf16_warning, resolve_device
from ..errors import (BatchError, CheckpointError, ConfigError, GenzooError, NonFiniteLossError,
                      PrecisionError)
from ..labels import LabelWatch, check_labels, class_count
from ..memory import OutOfMemoryError, check_training_memory, is_out_of_memory
from ..plugins import plugin_manager
from ..teacher import Teacher
from .optimization import Optimization, WeightEMA, learning_rates, resolve_optimizers
from .options import RunOptions
from .outputs import LossMeans, ModelFolderWriter, Progress, RunOutputs
from .processes import Parallel, World, remove_older, resolve_strategy, save_sharded
from .runfolder import RunFolder
from .state import (LAST_CHECKPOINT, RandomStreams, RunState, capture_rng, check_data_order,
                    describe_data_order, find_resume, restore, restore_rng, save_checkpoint,
                    seed_everything, skip_batches)
from .teaching import SamplesStopped, generate_teacher_samples, settle_teacher
from .trackers import Status

__all__ = ["fit", "RunInfo", "FitResult", "Step", "RunHooks", "StopSignals", "FiniteWatch",
           "check_finite_weights", "LAST_CHECKPOINT", "TEACHER_SAMPLES"]

#: Where in the run folder :meth:`Step.teacher_samples` keeps a student's teacher samples.
TEACHER_SAMPLES = Path("teacher")

@dataclass(frozen=True)
class RunInfo:
    """What the runner tells hook implementations about the run.

    Attributes:
        out: The run folder, or ``None`` when nothing is written (and on ranks other than 0).
        epochs: The epoch the run trains up to.
        device: The training device.
        precision: ``"32"``, ``"bf16"`` or ``"16"`` (what ``"auto"`` resolved to).
        strategy: How the processes share the work: ``"none"`` (one process), ``"ddp"`` or
            ``"fsdp"``.
        rank: This process's rank.
        world_size: How many processes train together.
        options: Every run option.
    """

    out: Path | None
    epochs: int
    device: torch.device
    precision: str
    strategy: str
    rank: int
    world_size: int
    options: RunOptions


def fit(model: Any, data: Iterable[Any], *, epochs: int = 1, callbacks: Iterable[object] = (),
        model_folder: ModelFolderWriter | None = None, **options: Any) -> FitResult:
    """Train ``model`` on ``data`` up to ``epochs`` epochs.

    Args:
        model: A :class:`~genzoo.Trainer` and :class:`~genzoo.Generator`.
        data: An iterable of batches, iterated once per epoch.
        epochs: The epoch to train up to, counting those of a resumed checkpoint.
        callbacks: Objects with :data:`genzoo.hookimpl` methods (``genzoo_epoch_end`` ...),
            registered for this run only.
        model_folder: Writes the run's model folder, called as ``model_folder(run_folder,
            target)`` when a run with trackers (``mlflow``, ``wandb``) finishes, for them to log
            (:meth:`genzoo.GenerativeModel.fit` passes :func:`genzoo.hub.export`); ``None``:
            the trackers get no model.
        **options: Fields of :class:`RunOptions`.

    Raises:
        ConfigError: an option is unknown or invalid (a tracker without a run folder too).
        TrackerError: a tracker (``mlflow``, ``wandb``) could not start; before the first step.
        BatchError: a batch has the wrong shape, dtype or value range.
        CheckpointError: the checkpoint to resume from cannot be used, or the data order
            differs from the one it recorded.
        RunFolderError: ``out`` holds a run and ``resume`` is not set, another process trains
            in it, or a file of the run cannot be written (disk full, read-only).
    """
    opts = resolve_config(RunOptions, options, owner="fit()")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    for method in ("configure_optimizers", "training_step", "sample"):
        if not callable(getattr(model, method, None)):
            raise GenzooError(
                f"{model_label(model)} cannot be fitted: it has no {method}() method "
                "(see the Trainer and Generator protocols)"
            )
    if not (hasattr(data, "__iter__") or hasattr(data, "__getitem__")):
        raise BatchError(
            f"data must be an iterable of batches (a DataLoader, a list of image tensors or "
            f"genzoo.data.InMemoryLoader), got {type(data).__name__}"
        )
    if isinstance(data, Iterator):
        raise ConfigError(
            "data is a one-shot iterator; pass something iterable once per epoch, such as a "
            "DataLoader, a list of batches or genzoo.data.InMemoryLoader"
        )
    if opts.out is None and (opts.mlflow is not None or opts.wandb is not None):
        name = "mlflow" if opts.mlflow is not None else "wandb"
        raise ConfigError(f"{name}= needs a run folder (out=): the trackers get what the run "
                          "writes there; pass out=, or leave the tracker out")
    out = opts.out if World.from_env().is_main else None
    with RunFolder(out, resume=opts.resume):  # one run at a time, none replaced
        return _Run(model, data, epochs, opts, callbacks, model_folder).execute()


class _Run:
    """One call to :func:`fit`.

    ``self.state`` is where the run stands: its epoch, its position in that epoch and the
    epoch's starting random states are kept current as batches go by; the other fields of the
    :class:`~genzoo.runner.state.RunState` (optimizer states, random states now, ...) are
    filled in when a checkpoint is written.
    """

    def __init__(self, model: Any, data: Iterable[Any], epochs: int, opts: RunOptions,
                 callbacks: Iterable[object], model_folder: ModelFolderWriter | None = None) -> None:
        self.model, self.data, self.epochs, self.opts = model, data, epochs, opts
        self.world = World.from_env()
        self.device = resolve_device(opts.device, self.world.local_rank if self.world.size > 1 else None)
        self.found = find_resume(model, opts)  # the checkpoint to resume, read and checked
        self.precision = self._precision()
        self.parallel = Parallel(resolve_strategy(opts.strategy, self.world), self.world, self.device)
        self.parallel.check_precision(self.precision.name)
        self.out = Path(opts.out) if opts.out is not None and self.world.is_main else None
        self.info = RunInfo(self.out, epochs, self.device, self.precision.name,
                            self.parallel.strategy, self.world.rank, self.world.size, opts)
        self.hook = RunHooks(callbacks)
        self.result = FitResult(out=self.out)
        self.signals = StopSignals(opts.handle_signals)
        resolved = dataclasses.replace(opts, precision=self.precision.name)  # what run.json records
        self.outputs = RunOutputs(self.out, resolved, collective=self.parallel.sharded,
                                  model_folder=model_folder)
        self.progress = Progress(opts.progress if self.world.is_main else False)
        self.fixed_real: torch.Tensor | None = None
        self.range_watch = RangeWatch()
        self.label_watch = LabelWatch(class_count(model) or 0)
        self.finite = FiniteWatch()
        self.ema: WeightEMA | None = None
        self.optimization: Optimization | None = None
        self.step: Step | None = None
        self.streams: RandomStreams | None = None
        self.state = RunState(world_size=self.world.size, strategy=self.parallel.strategy,
                              data_order=describe_data_order(data, self.world.size),
                              run=dataclasses.asdict(resolved))
        self._checkpoint_due = False  # a step checkpoint fell on an epoch's last batch
        self._interval = (0.0, 0)  # when the logging interval started, images since

    def _precision(self) -> Precision:
        """The run's precision: ``"auto"`` resolved, or on a resume the precision the run
        recorded (so that it goes on exactly); bfloat16 asked for where it is slower, warned of."""
        asked = self.opts.precision
        if asked == "auto" and self.found is not None:
            recorded = self.found[0].run.get("precision")
            if recorded in ("32", "bf16", "16"):
                try:
                    return Precision(recorded, self.device)
                except PrecisionError:
                    pass  # resumed on a device without it (fp16 off CUDA): choose afresh
        precision = Precision(asked, self.device)
        if asked == "bf16" and self.world.is_main:
            reason = bf16_warning(self.device)
            if reason is not None:
                warnings.warn(reason, stacklevel=5)  # the caller of model.fit
        return precision

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> FitResult:
        self.world.setup(self.device)
        ended: tuple[Status, int] = ("FAILED", 1)  # how the trackers mark the run
        try:
            with self.signals, torch.enable_grad():  # whatever the caller's grad mode
                self._train()
            received = self.signals.received
            ended = ("KILLED", 128 + received) if received is not None else ("FINISHED", 0)
        except NonFiniteLossError as err:
            self.outputs.log_stop("non-finite loss", step=err.step, loss=err.name,
                                  value=str(err.value))
            raise
        except (MemoryError, RuntimeError) as err:
            if not is_out_of_memory(err):
                raise
            self._out_of_memory(err)
        except KeyboardInterrupt:  # a second Ctrl-C, or one without the signal handling
            ended = ("KILLED", 128 + signal.SIGINT)
            raise
        finally:
            self.progress.close()
            self.outputs.close(*ended)
            self.world.teardown()
        stopped = self.signals.received
        if stopped is not None:
            where = f"; resume from {self.result.checkpoint}" if self.result.checkpoint else ""
            print(f"genzoo: stopped by signal {stopped}{where}", file=sys.stderr)
            if stopped == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + stopped)
        return self.result

    def _out_of_memory(self, err: BaseException) -> None:
        """Stop with one line: where memory ran out, and that the last checkpoint is intact."""
        reason = (str(err).strip().splitlines() or [type(err).__name__])[-1][:200]
        self.outputs.log_stop("out of memory", error=reason)
        last = self.result.checkpoint
        kept = (f"the last good checkpoint {last} is intact; resume from it with smaller "
                "settings that keep the model" if last else "no checkpoint was written yet")
        raise OutOfMemoryError(
            f"training ran out of memory ({reason}); {kept}; "
            "train with a smaller --batch-size (batch_size) or smaller model sizes"
        ) from err

    def _train(self) -> None:
        model, opts, found = self.model, self.opts, self.found
        teacher = settle_teacher(model, found[0].teacher if found is not None else None,
                                 found[2] if found is not None else None)
        if opts.seed is not None and found is None:
            seed_everything(opts.seed)
        if self.device.type == "cpu":  # before the first step, not as a crash in the middle
            check_training_memory(model, ema=bool(opts.ema), what=model_label(model))
        model.to(self.device)
        if teacher is not None:  # frozen, in eval mode; not the student's: no DDP, no optimizer
            teacher.to(self.device)
            self.state.teacher = teacher.record()
        model.train()
        self.parallel.prepare_model(model)
        batches = self.world.shard(self.data)
        self.optimization = resolve_optimizers(model, opts, self._total_steps(batches))
        self.parallel.prepare_optimizers(self.optimization.optimizers)
        step = self.step = Step(self.optimization.optimizers, self.precision.make_scaler(),
                                self.device, self.parallel, max_norms=self.optimization.max_norms)
        step.teacher, step.precision, step.epochs = teacher, self.precision, self.epochs
        step.samples_folder = Path(opts.out) / TEACHER_SAMPLES if opts.out is not None else None
        step.stop_requested = lambda: self.signals.received is not None
        if self.world.is_main and opts.progress is not False:
            step.announce = _SamplesProgress()
        if opts.ema and self.parallel.sharded:  # FSDP gathers from its own storage: no swap
            raise ConfigError("ema= is not supported with strategy='fsdp' yet; use "
                              "strategy='ddp' (or train without ema)")
        saved: RunState | None = None
        noise = None  # every rank's noise stream, from a checkpoint of as many processes
        if found is not None:
            saved, weights, path = found
            check_data_order(saved.data_order, self.state.data_order or {}, path)
            point = restore(model, saved, weights, path, step)
            self.optimization.schedules.load_state_dict(saved.schedules)
            noise = point.rng.get("noise")
            self.state.epoch, self.state.batch_in_epoch = point.epoch, point.batch_in_epoch
            self.state.rng_epoch_start = point.rng_epoch_start
            self.result.epochs, self.result.steps, self.result.checkpoint = point.epoch, step.index, path
            if point.epoch >= self.epochs:
                warnings.warn(f"{path} is already trained to epoch {point.epoch}; "
                              f"ask for more than {plural(self.epochs, 'epoch')} to train on", stacklevel=4)
                return
        if opts.ema:  # from the restored weights, or the checkpoint's own average
            self.ema = WeightEMA(model, opts.ema, warmup=opts.ema_warmup)
            if saved is not None and saved.ema:
                self.ema.load_state_dict(saved.ema)
        self.outputs.start(model, self.epochs, self.state.epoch, step.index)
        self.streams = RandomStreams(self.world, step.index, noise)
        self.hook("genzoo_fit_start", model=model, run=self.info)
        try:
            while self.state.epoch < self.epochs and not self._should_stop():
                if not self._train_epoch(batches):
                    break
            self._finish()
            if self.ema is not None and self.signals.received is None:
                self.ema.apply()  # the model fit returns samples, saves and evaluates averaged
        finally:
            self.hook("genzoo_fit_end", model=model, run=self.info)

    def _train_epoch(self, batches: Iterable[Any]) -> bool:
        """Train the next epoch (from ``state.batch_in_epoch`` on a resume); return whether it
        completed. A completed epoch moves ``state`` to the next one's start."""
        model, opts, state, step, streams = self.model, self.opts, self.state, self.step, self.streams
        assert step is not None and streams is not None
        epoch, skip = state.epoch, state.batch_in_epoch
        if state.rng_epoch_start is not None:  # resumed mid-epoch: redraw the epoch's order
            resume_rng = capture_rng()
            restore_rng(state.rng_epoch_start)
        else:
            state.rng_epoch_start = capture_rng()
        step.epoch = epoch
        batch_iter = streams.start_epoch(batches)
        if skip and skip_batches(batch_iter, skip) < skip:
            raise CheckpointError(
                f"the checkpoint stopped after batch {skip} of epoch {epoch + 1}, but the data "
                "now has fewer batches; resume with the data the run started with"
            )
        if skip:
            restore_rng(resume_rng)
            streams.resume_noise()
        total = len(batches) if hasattr(batches, "__len__") else None  # type: ignore[arg-type]
        self.progress.start_epoch(epoch + 1, self.epochs, total, done=skip)
        losses = LossMeans(self.device)
        images_seen, steps_done = 0, 0
        started = time.perf_counter()
        self._interval = (started, 0)
        completed = True
        for raw in batch_iter:
            batch = to_batch(raw, tuple(model.image_shape), self.device, watch=self.range_watch)
            self.label_watch.observe(batch.labels)
            if self.fixed_real is None:  # the first batch: the reconstruction grids' images
                self.fixed_real = batch.images[: opts.grid_size].detach().clone()
            with self.precision.autocast():
                try:
                    step_losses = model.training_step(batch, step)
                except SamplesStopped:  # a signal while the teacher's samples were being made
                    completed = False
                    break
                except (IndexError, RuntimeError) as err:  # a bad label, not a bug: say so
                    check_labels(batch.labels, self.label_watch.classes, cause=err)
                    raise
            self._after_step(step_losses)
            losses.add(step_losses, extra=_grad_norms(step))
            images_seen += batch.images.shape[0]
            self._interval = (self._interval[0], self._interval[1] + batch.images.shape[0])
            steps_done += 1
            state.batch_in_epoch += 1
            if losses.pending == opts.log_every:
                self._log_interval(losses)
            if self._should_stop():
                completed = False
                break
            self._step_outputs(total, losses)
        if losses.pending:
            self._log_interval(losses)
        means = losses.epoch_means()
        seconds = time.perf_counter() - started
        self.range_watch.check(f" up to step {step.index}")
        self.label_watch.check()
        self._check_finite()
        means.update(learning_rates(step.optimizers))
        if steps_done == 0 and skip == 0 and completed:
            raise BatchError(
                "the data yielded no batches this epoch; check the dataset is not empty "
                "(and that batch_size is not larger than it with drop_last=True)"
            )
        streams.end_epoch()
        if completed:  # the state moves to the next epoch's start
            state.epoch, state.batch_in_epoch, state.rng_epoch_start = epoch + 1, 0, None
        done = state.epoch
        metrics = {"epoch": done, "step": step.index, **means, "seconds": round(seconds, 4),
                   "samples_per_s": round(images_seen * self.world.size / seconds, 2) if seconds else 0.0}
        self.result.history.append(metrics)
        self.result.metrics = metrics
        self.result.epochs, self.result.steps = done, step.index
        # hooks first: a callback (an evaluation, say) may add numbers to the epoch's metrics
        with self._averaged_weights():
            self.hook("genzoo_epoch_end", model=model, run=self.info, epoch=done, metrics=metrics)
        if completed or steps_done:
            self.outputs.log_epoch(metrics, step.index, partial=not completed)
            self.progress.end_epoch(metrics, partial=not completed)
        if completed:
            last = done == self.epochs
            if _every(opts.grid_every, done) and not last:
                self._grids(f"epoch_{done:04d}")
            if (_every(opts.checkpoint_every, done) or self._checkpoint_due) and not last:
                self._checkpoint()
            self._checkpoint_due = False
            self.outputs.refresh_report()
        return completed

    def _finish(self) -> None:
        if self.signals.received is None:
            self._grids("final")
        self._checkpoint()
        self.outputs.refresh_report(final=True)

    # -- pieces -------------------------------------------------------------------------------

    def _after_step(self, losses: Mapping[str, Any]) -> None:
        """The runner's bookkeeping after a model's step: checks, schedules, weight EMA."""
        assert self.step is not None and self.optimization is not None
        if isinstance(losses, Mapping):
            self.finite.observe({k: v for k, v in losses.items() if isinstance(v, torch.Tensor)},
                                self.step.index)
        self.step.end_iteration()
        self.optimization.schedules.step()
        if self.ema is not None:
            self.ema.update()

    def _total_steps(self, batches: Iterable[Any]) -> int | None:
        """The run's length in training steps (for a cosine schedule), when it is known: the
        epochs asked for times the batches per epoch, else ``max_steps``."""
        if hasattr(batches, "__len__"):  # max_steps only stops a run: it does not reshape it
            return len(batches) * self.epochs  # type: ignore[arg-type]
        return self.opts.max_steps

    def _check_finite(self) -> None:
        """Raise :class:`NonFiniteLossError` if a loss was not finite, on any process (all
        processes agree, so that none is left waiting in a collective for one that stopped)."""
        index = self.step.index if self.step is not None else 0
        if self.world.size > 1:
            failed = self.finite.failed()
            if self.world.all_true(not failed):
                return
            if not failed:
                raise NonFiniteLossError(
                    f"a loss became NaN or infinite on another process by step {index}; "
                    "the run stopped (that process's error names the loss)",
                    step=index, name="another process", value=float("nan"))
        self.finite.check()

    def _averaged_weights(self) -> Any:
        """A context in which the model holds its EMA weights (none: a no-op)."""
        return self.ema.applied() if self.ema is not None else contextlib.nullcontext()

    def _log_interval(self, losses: LossMeans) -> None:
        """Read the interval's mean losses back (the one host synchronisation) and log them."""
        step = self.step
        assert step is not None
        steps = losses.pending
        means = losses.read_interval()
        self.range_watch.check(f" up to step {step.index}")
        self.label_watch.check()
        self._check_finite()
        started, images = self._interval
        now = time.perf_counter()
        rate = images * self.world.size / (now - started) if now > started else 0.0
        self._interval = (now, 0)
        self.progress.update(steps, {**means, "samples_per_s": rate}, step=step.index,
                             position=self.state.batch_in_epoch)
        self.outputs.log_step({"epoch": self.state.epoch + 1, "step": step.index, "steps": steps,
                               **means, **learning_rates(step.optimizers),
                               "samples_per_s": round(rate, 2)})

    def _step_outputs(self, total: int | None, losses: LossMeans) -> None:
        """Grids and checkpoints due every so many steps (``*_every_steps``)."""
        opts, step = self.opts, self.step
        assert step is not None
        epoch_end = total is not None and self.state.batch_in_epoch >= total
        last_epoch = self.state.epoch + 1 == self.epochs
        if _every(opts.grid_every_steps, step.index) and not (epoch_end and last_epoch):
            self._grids(f"step_{step.index:08d}")  # (the run's last step has the final grids)
            self.outputs.refresh_report()
        if _every(opts.checkpoint_every_steps, step.index):
            if epoch_end:
                self._checkpoint_due = True  # the epoch's end writes it, as a whole epoch
                return
            if losses.pending:  # the step log ends where the checkpoint does
                self._log_interval(losses)
            self._checkpoint()

    def _should_stop(self) -> bool:
        index = self.step.index if self.step is not None else 0
        if self.opts.max_steps is not None and index >= self.opts.max_steps:
            return True
        stop = self.signals.received is not None
        return not self.world.all_true(not stop) if self.world.size > 1 else stop

    def _grids(self, tag: str) -> None:
        with self._averaged_weights():
            self.result.grids += self.outputs.grids(self.model, tag, self.fixed_real)

    def _checkpoint(self) -> None:
        """Write the run state where it stands (every rank takes part: collectives)."""
        step, streams, optimization = self.step, self.streams, self.optimization
        assert step is not None and streams is not None and optimization is not None
        # parameters are equal on every rank (DDP/FSDP keep them so); keep rank 0's statistics
        self.world.broadcast_buffers(self.model)
        self._check_finite()
        check_finite_weights(self.model, step.index)
        sharded, weights = None, None
        if self.parallel.sharded and self.opts.out is not None:  # collectives: every rank writes
            sharded, weights = save_sharded(Path(self.opts.out), step.index, self.model,
                                            step.optimizers, self.world.rank)
        rng = streams.checkpoint_state(capture_rng(), mid_epoch=self.state.batch_in_epoch > 0)
        if self.out is None:
            return
        state = dataclasses.replace(
            self.state, step=step.index, rng=rng, sharded=sharded,
            optimizers=None if sharded else {n: o.state_dict() for n, o in step.optimizers.items()},
            scaler=step.scaler.state_dict() if step.scaler is not None else None,
            schedules=optimization.schedules.state_dict(), metrics=self.result.metrics,
            ema=self.ema.state_dict() if self.ema is not None else None)
        path = save_checkpoint(self.out / LAST_CHECKPOINT, self.model, state, weights)
        remove_older(self.out, sharded)  # shards of earlier checkpoints, or of a sharded run resumed
        self.result.checkpoint = path
        self.hook("genzoo_checkpoint_saved", model=self.model, run=self.info, path=path)


class _SamplesProgress:
    """Says on stderr how far the teacher samples are, at most every 30 seconds (and at the end)."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, chunk: int, chunks: int) -> None:
        now = time.monotonic()
        if chunk == chunks or now - self._last >= 30:
            self._last = now
            print(f"genzoo: teacher samples: chunk {chunk} of {chunks} made"
                  + (" (kept in the run folder; an interrupted run resumes here)" if chunk < chunks
                     else ""), file=sys.stderr, flush=True)


def _grad_norms(step: Step) -> dict[str, torch.Tensor]:
    """The step's gradient norms before clipping, as ``grad_norm_<optimizer>`` metrics."""
    norms = {f"grad_norm_{name}": norm for name, norm in step.grad_norms.items()}
    step.grad_norms.clear()
    return norms


def _every(interval: int, epoch: int) -> bool:
    return interval > 0 and epoch % interval == 0


@dataclass
class FitResult:
    """The outcome of a run.

    Attributes:
        epochs: Epochs completed in all (a resumed run counts those before it).
        steps: Training steps taken in all.
        metrics: The last epoch's metrics (mean losses, seconds, samples/s).
        history: Every epoch's metrics of this call, in order.
        out: The run folder, if one was written.
        checkpoint: The last checkpoint written, if any.
        grids: The grid images written, in order.
        interrupted: Whether the run stopped early on SIGINT/SIGTERM.
    """

    epochs: int = 0
    steps: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    out: Path | None = None
    checkpoint: Path | None = None
    grids: list[Path] = field(default_factory=list)
    interrupted: bool = False


class Step:
    """Backward, gradient averaging, clipping and optimizer steps, owned by the runner.

    A model's ``training_step`` calls :meth:`optimize` once per optimizer. Only that
    optimizer's parameters receive gradients, so a GAN's generator step does not spend time on
    the discriminator's weight gradients. In several processes the gradients are averaged
    during backward by the strategy's engine (DDP's reducer or FSDP's reduce-scatter), so
    they are averaged when backward returns.

    With a ``max_norms`` entry for an optimizer, its gradients are clipped to that total L2 norm
    (:func:`torch.nn.utils.clip_grad_norm_`) after backward (so after they are averaged across
    processes) and, with fp16's gradient scaler, after they are unscaled; the norm before
    clipping is kept in :attr:`grad_norms` (on the device) for the metrics.
    """

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer],
                 scaler: torch.amp.GradScaler | None, device: torch.device,
                 parallel: Parallel | None = None,
                 max_norms: Mapping[str, float | None] | None = None) -> None:
        self.optimizers = dict(optimizers)
        self.max_norms = {k: v for k, v in (max_norms or {}).items() if v is not None}
        self.grad_norms: dict[str, torch.Tensor] = {}
        self.scaler = scaler
        self.device = device
        self.parallel = parallel or Parallel("none", World(), device)
        self.epoch = 0
        self.index = 0
        #: The epoch the run trains up to, a resumed run's earlier ones included (set by the
        #: runner; ``None``: not known).
        self.epochs: int | None = None
        #: The student's teacher in this run (set by the runner), or ``None``.
        self.teacher: Teacher | None = None
        #: The run's precision (set by the runner; ``None``: full precision).
        self.precision: Precision | None = None
        #: Where :meth:`teacher_samples` keeps its chunks (``None``: in memory only).
        self.samples_folder: Path | None = None
        #: Whether a signal asked the run to stop (set by the runner).
        self.stop_requested: Callable[[], bool] = lambda: False
        #: Told ``(chunk, chunks)`` as teacher samples are made (set by the runner).
        self.announce: Callable[[int, int], None] | None = None
        self._samples: dict[str, dict[str, torch.Tensor]] = {}
        self._samples_asked: dict[str, tuple[int, int, int]] = {}
        self._params = {
            name: [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
            for name, opt in self.optimizers.items()
        }

    def optimize(self, loss: torch.Tensor, optimizer: str) -> None:
        """Back-propagate ``loss`` into the named optimizer's parameters and step it."""
        try:
            opt = self.optimizers[optimizer]
        except KeyError:
            raise GenzooError(
                f"training_step asked to optimize with {optimizer!r}, but configure_optimizers "
                f"returned only {', '.join(map(repr, self.optimizers))}"
            ) from None
        params = self._params[optimizer]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, enabled=False):
            scaled = self.scaler.scale(loss) if self.scaler is not None else loss
            self.parallel.sync(optimizer, scaled).backward(inputs=params)
        max_norm = self.max_norms.get(optimizer)
        if max_norm is not None:
            if self.scaler is not None:
                self.scaler.unscale_(opt)  # clip the true gradients, not the scaled ones
            self.grad_norms[optimizer] = torch.nn.utils.clip_grad_norm_(params, max_norm)
        if self.scaler is not None:
            self.scaler.step(opt)
        else:
            opt.step()

    def teacher_samples(self, make: Callable[[Teacher, int, torch.Generator], Mapping[str, torch.Tensor]],
                        *, count: int, chunk_size: int = 1000, seed: int = 0,
                        name: str = "samples",
                        settings: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """Samples of the student's teacher, made once for the whole run: see
        :meth:`genzoo.StepContext.teacher_samples`. They are kept in the run folder's
        ``teacher/NAME/`` (:func:`~genzoo.runner.teaching.generate_teacher_samples`); a signal
        while they are made stops the run after the chunk in hand, before this step.

        Raises:
            GenzooError: the model has no teacher in this run.
            CheckpointError: the folder holds another teacher's samples, or other settings'.
        """
        asked = (count, chunk_size, seed, dict(settings or {}))
        if name in self._samples:
            if self._samples_asked[name] != asked:
                raise ConfigError(f"teacher_samples({name!r}) was asked for count, chunk_size, seed, settings "
                                  f"{self._samples_asked[name]} before and {asked} now; give "
                                  "other samples another name")
            return self._samples[name]
        if self.teacher is None:
            raise GenzooError("teacher_samples needs the model's teacher, and this run has none; "
                              "train a genzoo.Student built with a teacher (--teacher, teacher=)")
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ConfigError(f"teacher_samples: name must be a plain folder name, got {name!r}")
        folder = self.samples_folder / name if self.samples_folder is not None else None
        world = self.parallel.world
        shared = world.size > 1 and folder is not None  # rank 0 makes them, the others read them
        if shared and not world.is_main:
            world.all_true(True)
        samples = generate_teacher_samples(
            folder, self.teacher, make, count=count, chunk_size=chunk_size, seed=seed,
            settings=settings, device=self.device,
            autocast=self.precision.autocast if self.precision is not None else None,
            stop=None if world.size > 1 else self.stop_requested,  # no rank left waiting
            made=self.announce)
        if shared and world.is_main:
            world.all_true(True)
        self._samples[name], self._samples_asked[name] = samples, asked
        return samples

    def end_iteration(self) -> None:
        """Finish one iteration: one scaler update however many optimizers stepped."""
        if self.scaler is not None:
            self.scaler.update()
        self.index += 1


class RunHooks:
    """Calls a runner hook on this run's callbacks, then on every installed plugin.

    Args:
        callbacks: Objects with :data:`genzoo.hookimpl` methods, for this run only.

    Raises:
        ConfigError: a callback implements no hook, a hook that does not exist, or one taking
            an argument the hook does not have (a typo).
    """

    def __init__(self, callbacks: Iterable[object]) -> None:
        self._plugins = plugin_manager().hook
        manager = pluggy.PluginManager("genzoo")
        manager.add_hookspecs(hookspecs)
        for callback in callbacks:
            try:
                manager.register(callback)
            except (pluggy.PluginValidationError, ValueError) as err:
                raise ConfigError(f"callback {callback!r} was refused: {err}") from None
            hooks = manager.get_hookcallers(callback) or []
            if not hooks:  # a number, a class instead of an instance, a method left unmarked
                raise ConfigError(f"callback {callback!r} implements no genzoo hook: pass an object "
                                  "whose methods, named after the hooks in genzoo.hookspecs, are "
                                  "marked with @genzoo.hookimpl")
            for hook in hooks:
                if not hook.has_spec():
                    raise ConfigError(f"callback {callback!r} implements {hook.name}, which is not "
                                      "a genzoo hook; see genzoo.hookspecs for the hooks")
        self._callbacks = manager.hook

    def __call__(self, name: str, **kwargs: Any) -> None:
        """Call hook ``name`` with ``kwargs``: this run's callbacks first, then the plugins."""
        getattr(self._callbacks, name)(**kwargs)
        getattr(self._plugins, name)(**kwargs)


class StopSignals:
    """A context that turns SIGINT/SIGTERM into a request to stop (a second one stops at once).

    Outside the main thread, or with ``enabled=False``, it installs nothing.

    Attributes:
        received: The first signal received, or ``None``.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self.received is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.received = signum

    def __enter__(self) -> StopSignals:
        if self.enabled and threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._request_stop)
                              for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


_REMEDIES = ("lower the learning rate, train in full precision (precision=\"32\"), or clip "
             "gradients (max_norm=1.0)")


class FiniteWatch:
    """Remembers the first step whose losses were not finite (on the device, no sync)."""

    def __init__(self) -> None:
        self._names: tuple[str, ...] = ()
        self._first_step: torch.Tensor | None = None  # -1 while every loss was finite
        self._values: torch.Tensor | None = None

    def observe(self, losses: Mapping[str, torch.Tensor], index: int) -> None:
        """Take the losses of step ``index`` (steps before it, counting from 0) into account."""
        if not losses:
            return
        names = tuple(losses)
        values = torch.stack([v.detach().float().reshape(()) for v in losses.values()])
        if self._first_step is None or names != self._names:
            if self._first_step is not None:
                self.check()  # the losses changed names: settle the old ones first
            self._names = names
            self._first_step = torch.full((), -1, dtype=torch.long, device=values.device)
            self._values = torch.zeros_like(values)
        bad = ~torch.isfinite(values).all()
        new = bad & (self._first_step < 0)
        self._first_step = torch.where(new, index, self._first_step)
        self._values = torch.where(new, values, self._values)

    def failed(self) -> bool:
        """Whether a loss observed so far was not finite (a host synchronisation)."""
        return self._first_step is not None and int(self._first_step) >= 0

    def check(self) -> None:
        """Raise :class:`NonFiniteLossError` if a loss observed so far was not finite."""
        if self._first_step is None or self._values is None:
            return
        first = int(self._first_step)  # a host synchronisation: call it where the runner syncs
        if first < 0:
            return
        values = self._values.tolist()
        name, value = next(((n, v) for n, v in zip(self._names, values) if not math.isfinite(v)),
                           (self._names[0], values[0]))
        raise NonFiniteLossError(
            f"the loss {name!r} became {value} at step {first + 1}; the run stopped and its "
            f"last checkpoint (if any) is from before that step. Try to {_REMEDIES}",
            step=first + 1, name=name, value=value)


def check_finite_weights(module: torch.nn.Module, step: int) -> None:
    """Raise :class:`NonFiniteLossError` if a parameter of ``module`` is NaN or infinite."""
    params = [_local(p.detach()) for p in module.parameters() if p.is_floating_point()]
    if not params:
        return
    norms = torch.stack([n.float() for n in torch._foreach_norm(params)])
    if bool(torch.isfinite(norms).all()):
        return
    raise NonFiniteLossError(
        f"the weights became NaN or infinite by step {step} although the losses were finite; "
        f"the checkpoint was not written. Try to {_REMEDIES}",
        step=step, name="weights", value=float("nan"))


def _local(tensor: torch.Tensor) -> torch.Tensor:
    """A sharded (FSDP) parameter's local shard; any other tensor itself."""
    to_local = getattr(tensor, "to_local", None)
    return to_local() if callable(to_local) else tensor
