"""The shared training loop behind every model's ``fit``.

The model owns its step (its optimizers and losses); the runner owns everything around it:
device, precision, backward and optimizer steps, checkpoints and resumption, grids, logs,
progress and several processes. Data flows one way: loader → batch checks → the model's step →
the runner's bookkeeping → files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..batches import RangeWatch, to_batch
from ..checkpoint import model_payload, read_checkpoint, write_checkpoint
from ..config import resolve_config
from ..errors import BatchError, CheckpointError, ConfigError, GenzooError
from ..plugins import plugin_manager
from ..protocols import Encoder
from .device import resolve_device
from .distributed import World
from .grids import save_reconstruction_grid, save_sample_grid
from .logs import MetricsLog, ProgressBar, TensorBoardLog
from .options import RunOptions
from .precision import Precision
from .result import FitResult
from .rng import capture_rng, restore_rng, seed_everything
from .step import Step

__all__ = ["fit", "RunInfo", "LAST_CHECKPOINT"]

#: Where in the run folder the runner keeps the latest checkpoint.
LAST_CHECKPOINT = Path("checkpoints") / "last.pt"


@dataclass(frozen=True)
class RunInfo:
    """What the runner tells hook implementations about the run.

    Attributes:
        out: The run folder, or ``None`` when nothing is written (and on ranks other than 0).
        epochs: The epoch the run trains up to.
        device: The training device.
        precision: ``"32"``, ``"bf16"`` or ``"16"``.
        rank: This process's rank.
        world_size: How many processes train together.
        options: Every run option.
    """

    out: Path | None
    epochs: int
    device: torch.device
    precision: str
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
        CheckpointError: the checkpoint to resume from cannot be used.
    """
    opts = resolve_config(RunOptions, options, owner="fit()")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    for method in ("configure_optimizers", "training_step", "sample"):
        if not callable(getattr(model, method, None)):
            raise GenzooError(
                f"{type(model).__name__} cannot be fitted: it has no {method}() method "
                "(see the Trainer and Generator protocols)"
            )
    if isinstance(data, Iterator):
        raise ConfigError(
            "data is a one-shot iterator; pass something iterable once per epoch, such as a "
            "DataLoader, a list of batches or genzoo.data.InMemoryLoader"
        )
    return _Run(model, data, epochs, opts, list(callbacks)).execute()


class _Run:
    def __init__(self, model: Any, data: Iterable[Any], epochs: int, opts: RunOptions,
                 callbacks: list[object]) -> None:
        self.model, self.data, self.epochs, self.opts = model, data, epochs, opts
        self.callbacks = callbacks
        self.world = World.from_env()
        self.device = resolve_device(opts.device, self.world.local_rank if self.world.size > 1 else None)
        self.precision = Precision(opts.precision, self.device)
        self.out = Path(opts.out) if opts.out is not None and self.world.is_main else None
        self.info = RunInfo(self.out, epochs, self.device, self.precision.name, self.world.rank,
                            self.world.size, opts)
        self.hook = plugin_manager().hook
        self.result = FitResult(out=self.out)
        self.stop_signal: int | None = None
        self.tensorboard: TensorBoardLog | None = None
        self.metrics_log = MetricsLog(self.out / "metrics.jsonl") if self.out else None
        self.progress = ProgressBar(opts.progress if self.world.is_main else False)
        self.fixed_real: torch.Tensor | None = None
        self.range_watch = RangeWatch()
        self._pending: tuple[int, dict[str, Any] | None] = (0, None)
        self._resume_path: Path | None = None

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> FitResult:
        pm = plugin_manager()
        registered = [pm.register(cb) for cb in self.callbacks]
        self.world.setup(self.device)
        try:
            with self._signals():
                self._train()
        finally:
            self.progress.close()
            if self.tensorboard is not None:
                self.tensorboard.close()
            for name in registered:
                if name is not None:
                    pm.unregister(name=name)
            self.world.teardown()
        if self.stop_signal is not None:
            where = f"; resume from {self.result.checkpoint}" if self.result.checkpoint else ""
            print(f"genzoo: stopped by signal {self.stop_signal}{where}", file=sys.stderr)
            if self.stop_signal == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + self.stop_signal)
        return self.result

    def _train(self) -> None:
        model, opts = self.model, self.opts
        payload = self._resume_payload()
        if opts.seed is not None and payload is None:
            seed_everything(opts.seed)
        model.to(self.device)
        model.train()
        self.world.broadcast_module(model)
        optimizers = self._optimizers()
        step = Step(optimizers, self.precision.make_scaler(), self.device, self.world)
        epoch, skip, epoch_rng = 0, 0, None
        if payload is not None:
            epoch, skip, epoch_rng = self._restore(payload, step)
            if epoch >= self.epochs:
                warnings.warn(f"{self._resume_path} is already trained to epoch {epoch}; "
                              f"ask for more than {self.epochs} epochs to train on", stacklevel=4)
                return
        if self.out is not None:
            self._write_run_file()
            if opts.tensorboard:
                self.tensorboard = TensorBoardLog(self.out / "tensorboard")
            if self.metrics_log is not None:
                self.metrics_log.truncate_after(epoch)
        streams = _RandomStreams(self.world, step.index)
        batches = self.world.shard(self.data)
        self.hook.genzoo_fit_start(model=model, run=self.info)
        try:
            while epoch < self.epochs and not self._should_stop(step):
                finished = self._train_epoch(batches, step, epoch, skip, epoch_rng, streams)
                skip, epoch_rng = 0, None
                if not finished:
                    break
                epoch += 1
            self._finish(step, epoch, streams)
        finally:
            self.hook.genzoo_fit_end(model=model, run=self.info)

    def _train_epoch(self, batches: Iterable[Any], step: Step, epoch: int, skip: int,
                     epoch_rng: dict[str, Any] | None, streams: _RandomStreams) -> bool:
        """Train one epoch (from batch ``skip`` on a resume); return whether it completed."""
        model, opts = self.model, self.opts
        if epoch_rng is not None:
            resume_rng = capture_rng()
            restore_rng(epoch_rng)
        else:
            epoch_rng = capture_rng()
        step.epoch = epoch
        batch_iter = streams.start_epoch(batches)
        for _ in range(skip):
            if next(batch_iter, None) is None:
                raise CheckpointError(
                    f"the checkpoint stopped after batch {skip} of epoch {epoch + 1}, but the data "
                    "now has fewer batches; resume with the data the run started with"
                )
        if skip:
            restore_rng(resume_rng)
            streams.resume_noise()
        total = len(batches) if hasattr(batches, "__len__") else None  # type: ignore[arg-type]
        self.progress.start_epoch(epoch + 1, self.epochs, total, done=skip)
        sums: dict[str, torch.Tensor] = {}
        images_seen, steps_done, since_log = 0, 0, 0
        started = time.perf_counter()
        position = skip
        completed = True
        for raw in batch_iter:
            batch = to_batch(raw, tuple(model.image_shape), self.device, watch=self.range_watch)
            if self.fixed_real is None:  # the first batch: the reconstruction grids' images
                self.fixed_real = batch.images[: opts.grid_size].detach().clone()
            with self.precision.autocast():
                losses = model.training_step(batch, step)
            step.end_iteration()
            _accumulate(sums, losses, self.device)
            images_seen += batch.images.shape[0]
            steps_done += 1
            since_log += 1
            position += 1
            if since_log == opts.log_every:
                self._log_interval(sums, steps_done, since_log, step,
                                   images_seen / (time.perf_counter() - started))
                since_log = 0
            if self._should_stop(step):
                completed = False
                break
        means = _read_means(sums, steps_done)
        seconds = time.perf_counter() - started
        self.range_watch.check(f" up to step {step.index}")
        self.progress.update(since_log, means)
        self.progress.close()
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
        self.hook.genzoo_epoch_end(model=model, run=self.info, epoch=done, metrics=metrics)
        if self.metrics_log is not None and (completed or steps_done):
            self.metrics_log.write(metrics if completed else {**metrics, "partial": True})
        if self.tensorboard is not None:
            self.tensorboard.write({k: v for k, v in metrics.items()
                                    if isinstance(v, float) and k not in ("seconds",)},
                                   step.index, "epoch")
        if completed:
            last = done == self.epochs
            if _every(opts.grid_every, done) and not last:
                self._grids(f"epoch_{done:04d}")
            if _every(opts.checkpoint_every, done) and not last:
                self._checkpoint(step, done, 0, None, streams)
        else:
            self._pending = (position, epoch_rng)
        return completed

    def _finish(self, step: Step, epoch: int, streams: _RandomStreams) -> None:
        position, epoch_rng = self._pending
        if self.stop_signal is None:
            self._grids("final")
        self._checkpoint(step, epoch, position, epoch_rng, streams)

    # -- pieces -------------------------------------------------------------------------------

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optimizers = self.model.configure_optimizers()
        if isinstance(optimizers, torch.optim.Optimizer):
            optimizers = {"optimizer": optimizers}
        if not isinstance(optimizers, Mapping) or not optimizers or not all(
                isinstance(o, torch.optim.Optimizer) for o in optimizers.values()):
            raise GenzooError(
                f"{type(self.model).__name__}.configure_optimizers() must return a non-empty "
                f"dict of torch optimizers by name, got {optimizers!r}"
            )
        return dict(optimizers)

    def _log_interval(self, sums: dict[str, torch.Tensor], steps: int, since: int,
                      step: Step, samples_per_s: float) -> None:
        means = _read_means(sums, steps)
        self.range_watch.check(f" up to step {step.index}")
        self.progress.update(since, {**means, "samples/s": samples_per_s * self.world.size})
        if self.tensorboard is not None:
            self.tensorboard.write(means, step.index, "step")

    def _should_stop(self, step: Step) -> bool:
        if self.opts.max_steps is not None and step.index >= self.opts.max_steps:
            return True
        stop = self.stop_signal is not None
        return not self.world.all_true(not stop) if self.world.size > 1 else stop

    def _grids(self, tag: str) -> None:
        if self.out is None:
            return
        folder = self.out / "grids"
        folder.mkdir(parents=True, exist_ok=True)
        self.result.grids.append(save_sample_grid(
            self.model, folder / f"samples_{tag}.png", self.opts.grid_size, self.opts.grid_seed))
        if isinstance(self.model, Encoder) and self.fixed_real is not None:
            self.result.grids.append(save_reconstruction_grid(
                self.model, self.fixed_real, folder / f"reconstructions_{tag}.png"))

    def _checkpoint(self, step: Step, epoch: int, position: int,
                    epoch_rng: dict[str, Any] | None, streams: _RandomStreams) -> None:
        if self.world.size > 1:
            self.world.broadcast_module(self.model)  # keep rank 0's batch-norm statistics
        if self.out is None:
            return
        payload = model_payload(self.model)
        payload.update({
            "optimizers": {name: opt.state_dict() for name, opt in step.optimizers.items()},
            "scaler": step.scaler.state_dict() if step.scaler is not None else None,
            "epoch": epoch,
            "step": step.index,
            "batch_in_epoch": position,
            "rng": streams.checkpoint_state(capture_rng(), mid_epoch=position > 0),
            "rng_epoch_start": epoch_rng,
            "run": dataclasses.asdict(self.opts),
            "metrics": self.result.metrics,
        })
        path = write_checkpoint(payload, self.out / LAST_CHECKPOINT)
        self.result.checkpoint = path
        self.hook.genzoo_checkpoint_saved(model=self.model, run=self.info, path=path)

    def _resume_payload(self) -> dict[str, Any] | None:
        resume = self.opts.resume
        if resume is None:
            return None
        if resume == "auto":
            if self.opts.out is None:
                raise ConfigError("resume='auto' needs out= (the run folder to resume in)")
            path = Path(self.opts.out) / LAST_CHECKPOINT
            if not path.exists():
                return None
        else:
            path = Path(resume)
        name = getattr(self.model, "registry_name", "") or None
        payload = read_checkpoint(path, model=name, map_location="cpu")
        mine = self.model.config_dict() if hasattr(self.model, "config_dict") else payload["config"]
        differ = sorted(k for k in set(mine) | set(payload["config"])
                        if mine.get(k) != _plain(payload["config"].get(k)))
        if differ:
            detail = ", ".join(f"{k}: checkpoint {payload['config'].get(k)!r}, model {mine.get(k)!r}"
                               for k in differ)
            raise CheckpointError(
                f"cannot resume from {path}: the model's config differs ({detail}); build the "
                "model with the checkpoint's config, e.g. genzoo.load(path), to continue it"
            )
        self._resume_path = path
        return payload

    def _restore(self, payload: dict[str, Any], step: Step) -> tuple[int, int, dict[str, Any] | None]:
        path = self._resume_path
        try:
            self.model.load_state_dict(payload["state_dict"])
        except RuntimeError as err:
            raise CheckpointError(f"the weights in {path} do not fit this model: {err}") from err
        saved = payload.get("optimizers") or {}
        if set(saved) != set(step.optimizers):
            raise CheckpointError(
                f"{path} has optimizers {sorted(saved)} but the model makes {sorted(step.optimizers)}; "
                "it was not written by the runner for this model (a save() file holds weights only)"
            )
        for name, opt in step.optimizers.items():
            opt.load_state_dict(saved[name])
        if step.scaler is not None and payload.get("scaler"):
            step.scaler.load_state_dict(payload["scaler"])
        step.index = int(payload["step"])
        self.result.epochs, self.result.steps = int(payload["epoch"]), step.index
        self.result.checkpoint = path
        restore_rng(payload["rng"])
        return int(payload["epoch"]), int(payload.get("batch_in_epoch", 0)), payload.get("rng_epoch_start")

    def _write_run_file(self) -> None:
        import json

        assert self.out is not None
        self.out.mkdir(parents=True, exist_ok=True)
        record = {"model": getattr(self.model, "registry_name", type(self.model).__name__),
                  "config": self.model.config_dict() if hasattr(self.model, "config_dict") else {},
                  "epochs": self.epochs, "run": dataclasses.asdict(self.opts)}
        (self.out / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if not self.opts.handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, frame: Any) -> None:
            if self.stop_signal is not None:  # a second signal: stop now
                raise KeyboardInterrupt
            self.stop_signal = signum

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class _RandomStreams:
    """In several processes, keep the data order's random stream shared by all ranks and give
    each rank its own stream for the draws made while training. In one process: a no-op.

    A checkpoint written mid-epoch keeps the shared stream as it was before that epoch's order
    was drawn, so that a resumed run draws the same order again and skips the batches done."""

    def __init__(self, world: World, salt: int) -> None:
        self.world = world
        if world.size > 1:
            self.shared, self.noise = world.split_random_streams(torch.initial_seed() + salt)
            self.epoch_start = self.shared

    def start_epoch(self, batches: Iterable[Any]) -> Iterator[Any]:
        if self.world.size <= 1:
            return iter(batches)
        self.epoch_start = self.shared
        torch.set_rng_state(self.shared)
        iterator = iter(batches)
        first = next(iterator, None)  # the loader draws its order here
        self.shared = torch.get_rng_state()
        torch.set_rng_state(self.noise)
        return iterator if first is None else _prepend(first, iterator)

    def resume_noise(self) -> None:
        """Go back to this rank's stream after a mid-epoch resume restored the saved states."""
        if self.world.size > 1:
            torch.set_rng_state(self.noise)

    def end_epoch(self) -> None:
        if self.world.size > 1:
            self.noise = torch.get_rng_state()

    def checkpoint_state(self, state: dict[str, Any], mid_epoch: bool) -> dict[str, Any]:
        if self.world.size > 1:
            state = {**state, "torch": self.epoch_start if mid_epoch else self.shared}
        return state


def _prepend(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _accumulate(sums: dict[str, torch.Tensor], losses: Mapping[str, Any], device: torch.device) -> None:
    if not isinstance(losses, Mapping):
        raise GenzooError(f"training_step must return a dict of losses by name, got {type(losses).__name__}")
    for key, value in losses.items():
        value = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(
            float(value), device=device)
        if key in sums:
            sums[key] += value
        else:
            sums[key] = value.clone()


def _read_means(sums: dict[str, torch.Tensor], steps: int) -> dict[str, float]:
    if not sums or steps == 0:
        return {}
    values = torch.stack(list(sums.values())).tolist()  # the one host synchronisation
    return {k: v / steps for k, v in zip(sums, values)}


def _every(interval: int, epoch: int) -> bool:
    return interval > 0 and epoch % interval == 0


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value

