"""The shared training loop behind every model's ``fit``.

The model owns its step (its optimizers and losses); the runner owns everything around it. This
module is the loop itself; each other job has its own module: backward and optimizer steps
(:mod:`.step`), the run folder's files (:mod:`.outputs`), resumption (:mod:`.resume`), signals
(:mod:`.signals`), random streams across processes (:mod:`.streams`), several processes
(:mod:`.distributed`, :mod:`.parallel`), the run's hooks (:mod:`.hooks`). Data flows one way:
loader → batch checks → the model's step → the runner's bookkeeping → files.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..batches import LabelWatch, RangeWatch, check_labels, to_batch
from ..config import resolve_config
from .._words import model_label, plural
from ..latent import class_count
from ..errors import BatchError, CheckpointError, ConfigError, GenzooError, NonFiniteLossError
from ..memory import OutOfMemoryError, check_training_memory, is_out_of_memory
from . import dataorder
from .device import resolve_device
from .distributed import World
from .ema import WeightEMA
from .finite import FiniteWatch, check_finite_weights
from .hooks import RunHooks
from .logs import LossMeans, Progress
from .optimizers import Optimization, resolve_optimizers
from .options import RunOptions
from .outputs import RunOutputs
from .parallel import Parallel, resolve_strategy
from .precision import Precision
from .result import FitResult
from .resume import LAST_CHECKPOINT, find_resume, restore
from .rng import capture_rng, restore_rng, seed_everything
from .runfolder import RunFolder
from .schedules import learning_rates
from .sharded import remove_older, save_sharded
from .signals import StopSignals
from .step import Step
from .streams import RandomStreams, skip_batches

__all__ = ["fit", "RunInfo", "LAST_CHECKPOINT"]

@dataclass(frozen=True)
class RunInfo:
    """What the runner tells hook implementations about the run.

    Attributes:
        out: The run folder, or ``None`` when nothing is written (and on ranks other than 0).
        epochs: The epoch the run trains up to.
        device: The training device.
        precision: ``"32"``, ``"bf16"`` or ``"16"``.
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
        **options: Any) -> FitResult:
    """Train ``model`` on ``data`` up to ``epochs`` epochs.

    Args:
        model: A :class:`~genzoo.Trainer` and :class:`~genzoo.Generator`.
        data: An iterable of batches, iterated once per epoch.
        epochs: The epoch to train up to, counting those of a resumed checkpoint.
        callbacks: Objects with :data:`genzoo.hookimpl` methods (``genzoo_epoch_end`` ...),
            registered for this run only.
        **options: Fields of :class:`RunOptions`.

    Raises:
        ConfigError: an option is unknown or invalid.
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
    out = opts.out if World.from_env().is_main else None
    with RunFolder(out, resume=opts.resume):  # one run at a time, none replaced
        return _Run(model, data, epochs, opts, callbacks).execute()


class _Run:
    def __init__(self, model: Any, data: Iterable[Any], epochs: int, opts: RunOptions,
                 callbacks: Iterable[object]) -> None:
        self.model, self.data, self.epochs, self.opts = model, data, epochs, opts
        self.world = World.from_env()
        self.device = resolve_device(opts.device, self.world.local_rank if self.world.size > 1 else None)
        self.precision = Precision(opts.precision, self.device)
        self.parallel = Parallel(resolve_strategy(opts.strategy, self.world), self.world, self.device)
        self.parallel.check_precision(self.precision.name)
        self.out = Path(opts.out) if opts.out is not None and self.world.is_main else None
        self.info = RunInfo(self.out, epochs, self.device, self.precision.name,
                            self.parallel.strategy, self.world.rank, self.world.size, opts)
        self.hook = RunHooks(callbacks)
        self.result = FitResult(out=self.out)
        self.signals = StopSignals(opts.handle_signals)
        self.outputs = RunOutputs(self.out, opts, collective=self.parallel.sharded)
        self.progress = Progress(opts.progress if self.world.is_main else False)
        self.fixed_real: torch.Tensor | None = None
        self.range_watch = RangeWatch()
        self.label_watch = LabelWatch(class_count(model) or 0)
        self.finite = FiniteWatch()
        self.ema: WeightEMA | None = None
        self.optimization: Optimization | None = None
        self.data_order = dataorder.describe(data, self.world.size)
        self._pending: tuple[int, dict[str, Any] | None] = (0, None)
        self._checkpoint_due = False  # a step checkpoint fell on an epoch's last batch
        self._interval = (0.0, 0)  # when the logging interval started, images since

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> FitResult:
        self.world.setup(self.device)
        try:
            with self.signals, torch.enable_grad():  # whatever the caller's grad mode
                self._train()
        except NonFiniteLossError as err:
            self.outputs.log_stop("non-finite loss", step=err.step, loss=err.name,
                                  value=str(err.value))
            raise
        except (MemoryError, RuntimeError) as err:
            if not is_out_of_memory(err):
                raise
            self._out_of_memory(err)
        finally:
            self.progress.close()
            self.outputs.close()
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
        model, opts = self.model, self.opts
        found = find_resume(model, opts)
        if opts.seed is not None and found is None:
            seed_everything(opts.seed)
        if self.device.type == "cpu":  # before the first step, not as a crash in the middle
            check_training_memory(model, ema=bool(opts.ema), what=model_label(model))
        model.to(self.device)
        model.train()
        self.parallel.prepare_model(model)
        batches = self.world.shard(self.data)
        self.optimization = resolve_optimizers(model, opts, self._total_steps(batches))
        self.parallel.prepare_optimizers(self.optimization.optimizers)
        step = Step(self.optimization.optimizers, self.precision.make_scaler(), self.device,
                    self.parallel, max_norms=self.optimization.max_norms)
        if opts.ema and self.parallel.sharded:  # FSDP gathers from its own storage: no swap
            raise ConfigError("ema= is not supported with strategy='fsdp' yet; use "
                              "strategy='ddp' (or train without ema)")
        epoch, skip, epoch_rng, noise = 0, 0, None, None
        payload = None
        if found is not None:
            payload, path = found
            dataorder.check(payload.get("data_order"), self.data_order, path)
            point = restore(model, payload, path, step)
            self.optimization.schedules.load_state_dict(payload.get("schedules"))
            epoch, skip, epoch_rng, noise = point.epoch, point.batch, point.epoch_rng, point.noise
            self.result.epochs, self.result.steps, self.result.checkpoint = epoch, step.index, path
            if epoch >= self.epochs:
                warnings.warn(f"{path} is already trained to epoch {epoch}; "
                              f"ask for more than {plural(self.epochs, 'epoch')} to train on", stacklevel=4)
                return
        if opts.ema:  # from the restored weights, or the checkpoint's own average
            self.ema = WeightEMA(model, opts.ema, warmup=opts.ema_warmup)
            if payload is not None and payload.get("ema"):
                self.ema.load_state_dict(payload["ema"])
        self.outputs.start(model, self.epochs, epoch, step.index)
        streams = RandomStreams(self.world, step.index, noise)
        self.hook("genzoo_fit_start", model=model, run=self.info)
        try:
            while epoch < self.epochs and not self._should_stop(step):
                finished = self._train_epoch(batches, step, epoch, skip, epoch_rng, streams)
                skip, epoch_rng = 0, None
                if not finished:
                    break
                epoch += 1
            self._finish(step, epoch, streams)
            if self.ema is not None and self.signals.received is None:
                self.ema.apply()  # the model fit returns samples, saves and evaluates averaged
        finally:
            self.hook("genzoo_fit_end", model=model, run=self.info)

    def _train_epoch(self, batches: Iterable[Any], step: Step, epoch: int, skip: int,
                     epoch_rng: dict[str, Any] | None, streams: RandomStreams) -> bool:
        """Train one epoch (from batch ``skip`` on a resume); return whether it completed."""
        model, opts = self.model, self.opts
        if epoch_rng is not None:
            resume_rng = capture_rng()
            restore_rng(epoch_rng)
        else:
            epoch_rng = capture_rng()
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
        position = skip
        completed = True
        for raw in batch_iter:
            batch = to_batch(raw, tuple(model.image_shape), self.device, watch=self.range_watch)
            self.label_watch.observe(batch.labels)
            if self.fixed_real is None:  # the first batch: the reconstruction grids' images
                self.fixed_real = batch.images[: opts.grid_size].detach().clone()
            with self.precision.autocast():
                try:
                    step_losses = model.training_step(batch, step)
                except (IndexError, RuntimeError) as err:  # a bad label, not a bug: say so
                    check_labels(batch.labels, self.label_watch.classes, cause=err)
                    raise
            self._after_step(step_losses, step)
            losses.add(step_losses, extra=_grad_norms(step))
            images_seen += batch.images.shape[0]
            self._interval = (self._interval[0], self._interval[1] + batch.images.shape[0])
            steps_done += 1
            position += 1
            if losses.pending == opts.log_every:
                self._log_interval(losses, step, epoch, position)
            if self._should_stop(step):
                completed = False
                break
            self._step_outputs(step, epoch, position, total, epoch_rng, streams, losses)
        if losses.pending:
            self._log_interval(losses, step, epoch, position)
        means = losses.epoch_means()
        seconds = time.perf_counter() - started
        self.range_watch.check(f" up to step {step.index}")
        self.label_watch.check()
        self._check_finite(step)
        means.update(learning_rates(step.optimizers))
        if steps_done == 0 and skip == 0:
            raise BatchError(
                "the data yielded no batches this epoch; check the dataset is not empty "
                "(and that batch_size is not larger than it with drop_last=True)"
            )
        streams.end_epoch()
        done = epoch + 1 if completed else epoch
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
                self._checkpoint(step, done, 0, None, streams)
            self._checkpoint_due = False
            self.outputs.refresh_report()
        else:
            self._pending = (position, epoch_rng)
        return completed

    def _finish(self, step: Step, epoch: int, streams: RandomStreams) -> None:
        position, epoch_rng = self._pending
        if self.signals.received is None:
            self._grids("final")
        self._checkpoint(step, epoch, position, epoch_rng, streams)
        self.outputs.refresh_report(final=True)

    # -- pieces -------------------------------------------------------------------------------

    def _after_step(self, losses: Mapping[str, Any], step: Step) -> None:
        """The runner's bookkeeping after a model's step: checks, schedules, weight EMA."""
        if isinstance(losses, Mapping):
            self.finite.observe({k: v for k, v in losses.items() if isinstance(v, torch.Tensor)},
                                step.index)
        step.end_iteration()
        assert self.optimization is not None
        self.optimization.schedules.step()
        if self.ema is not None:
            self.ema.update()

    def _total_steps(self, batches: Iterable[Any]) -> int | None:
        """The run's length in training steps (for a cosine schedule), when it is known: the
        epochs asked for times the batches per epoch, else ``max_steps``."""
        if hasattr(batches, "__len__"):  # max_steps only stops a run: it does not reshape it
            return len(batches) * self.epochs  # type: ignore[arg-type]
        return self.opts.max_steps

    def _check_finite(self, step: Step) -> None:
        """Raise :class:`NonFiniteLossError` if a loss was not finite, on any process (all
        processes agree, so that none is left waiting in a collective for one that stopped)."""
        if self.world.size > 1:
            failed = self.finite.failed()
            if self.world.all_true(not failed):
                return
            if not failed:
                raise NonFiniteLossError(
                    f"a loss became NaN or infinite on another process by step {step.index}; "
                    "the run stopped (that process's error names the loss)",
                    step=step.index, name="another process", value=float("nan"))
        self.finite.check()

    def _averaged_weights(self) -> Any:
        """A context in which the model holds its EMA weights (none: a no-op)."""
        return self.ema.applied() if self.ema is not None else contextlib.nullcontext()

    def _log_interval(self, losses: LossMeans, step: Step, epoch: int, position: int) -> None:
        """Read the interval's mean losses back (the one host synchronisation) and log them."""
        steps = losses.pending
        means = losses.read_interval()
        self.range_watch.check(f" up to step {step.index}")
        self.label_watch.check()
        self._check_finite(step)
        started, images = self._interval
        now = time.perf_counter()
        rate = images * self.world.size / (now - started) if now > started else 0.0
        self._interval = (now, 0)
        self.progress.update(steps, {**means, "samples_per_s": rate}, step=step.index,
                             position=position)
        self.outputs.log_step({"epoch": epoch + 1, "step": step.index, "steps": steps, **means,
                               **learning_rates(step.optimizers), "samples_per_s": round(rate, 2)})

    def _step_outputs(self, step: Step, epoch: int, position: int, total: int | None,
                      epoch_rng: dict[str, Any] | None, streams: RandomStreams,
                      losses: LossMeans) -> None:
        """Grids and checkpoints due every so many steps (``*_every_steps``)."""
        opts = self.opts
        epoch_end = total is not None and position >= total
        if _every(opts.grid_every_steps, step.index) and not (epoch_end and epoch + 1 == self.epochs):
            self._grids(f"step_{step.index:08d}")  # (the run's last step has the final grids)
            self.outputs.refresh_report()
        if _every(opts.checkpoint_every_steps, step.index):
            if epoch_end:
                self._checkpoint_due = True  # the epoch's end writes it, as a whole epoch
                return
            if losses.pending:  # the step log ends where the checkpoint does
                self._log_interval(losses, step, epoch, position)
            self._checkpoint(step, epoch, position, epoch_rng, streams)

    def _should_stop(self, step: Step) -> bool:
        if self.opts.max_steps is not None and step.index >= self.opts.max_steps:
            return True
        stop = self.signals.received is not None
        return not self.world.all_true(not stop) if self.world.size > 1 else stop

    def _grids(self, tag: str) -> None:
        with self._averaged_weights():
            self.result.grids += self.outputs.grids(self.model, tag, self.fixed_real)

    def _checkpoint(self, step: Step, epoch: int, position: int,
                    epoch_rng: dict[str, Any] | None, streams: RandomStreams) -> None:
        # parameters are equal on every rank (DDP/FSDP keep them so); keep rank 0's statistics
        self.world.broadcast_buffers(self.model)
        self._check_finite(step)
        check_finite_weights(self.model, step.index)
        sharded, weights = None, None
        if self.parallel.sharded and self.opts.out is not None:  # collectives: every rank writes
            sharded, weights = save_sharded(Path(self.opts.out), step.index, self.model,
                                            step.optimizers, self.world.rank)
        rng = streams.checkpoint_state(capture_rng(), mid_epoch=position > 0)  # a collective too
        if self.out is None:
            return
        assert self.optimization is not None
        path = self.outputs.checkpoint(self.model, {
            "optimizers": None if sharded else {n: o.state_dict() for n, o in step.optimizers.items()},
            "sharded": sharded,
            "world_size": self.world.size,
            "strategy": self.parallel.strategy,
            "scaler": step.scaler.state_dict() if step.scaler is not None else None,
            "epoch": epoch,
            "step": step.index,
            "batch_in_epoch": position,
            "rng": rng,
            "rng_epoch_start": epoch_rng,
            "metrics": self.result.metrics,
            "schedules": self.optimization.schedules.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "data_order": self.data_order,
        }, state_dict=weights)
        remove_older(self.out, sharded)  # shards of earlier checkpoints, or of a sharded run resumed
        self.result.checkpoint = path
        self.hook("genzoo_checkpoint_saved", model=self.model, run=self.info, path=path)


def _grad_norms(step: Step) -> dict[str, torch.Tensor]:
    """The step's gradient norms before clipping, as ``grad_norm_<optimizer>`` metrics."""
    norms = {f"grad_norm_{name}": norm for name, norm in step.grad_norms.items()}
    step.grad_norms.clear()
    return norms


def _every(interval: int, epoch: int) -> bool:
    return interval > 0 and epoch % interval == 0
