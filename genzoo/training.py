"""A whole training run from a :class:`TrainSpec`: data, model, loader, fit. The CLI's engine."""

from __future__ import annotations

import json
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from .config import check_names, config_to_dict, resolve_config
from .errors import ConfigError, PluginError, RunFolderError
from .hookspecs import hookimpl
from .labels import check_data_labels
from .runner import FitResult, RunOptions, World, resolve_device
from .runner.runfolder import RunFolder

__all__ = ["TrainSpec", "run_training", "spec_to_toml", "RESUMABLE_OPTIONS", "NOT_RECORDED",
           "run_settings", "settings_conflicts", "run_data", "may_change_on_resume", "portable_data"]

#: The options a resumed run may change: they leave the model and the data order alone (so do
#: the intervals of logs, grids and checkpoints, every option named ``*_every*``).
RESUMABLE_OPTIONS = frozenset({"epochs", "out", "device", "precision", "progress", "tensorboard",
                               "log_every", "grid_every", "checkpoint_every", "max_steps",
                               "data_root", "download", "report", "teacher", "mlflow",
                               "wandb"})
# (a resumed run may name its teacher anew, moved or copied: the runner refuses other weights)


def may_change_on_resume(option: str) -> bool:
    """Whether a resumed run may change the setting ``option`` (a field of :class:`TrainSpec` or
    of its :class:`~genzoo.RunOptions`)."""
    return option in RESUMABLE_OPTIONS or "_every" in option


#: Options that are not run settings and so are not written to ``train.toml``: where to resume
#: from, a stopping limit (a later resume with more epochs must not stop there again), and
#: how the process meets Ctrl-C.
NOT_RECORDED = frozenset({"resume", "max_steps", "handle_signals"})


@dataclass
class TrainSpec:
    """Everything a training run needs; also the schema of ``genzoo train --config`` files.

    A ``--config`` file, and the ``train.toml`` a run writes, hold these fields and those of
    :attr:`options` side by side (``epochs = 20``, ``precision = "bf16"``), with the model's
    settings in a ``[config]`` table: :meth:`from_settings` reads that form and
    :func:`spec_to_toml` writes it.

    Attributes:
        model: The registered model name.
        data: A named data set (:func:`genzoo.data.dataset_names`, optionally with a
            ``:split``) or a folder of images.
        data_root: Where named data sets live (default: ``$GENZOO_DATA``).
        download: Download a named data set that is missing.
        channels: Convert the images to this many channels (1 or 3).
        image_size: Resize the images to this size (square).
        epochs: Train up to this epoch.
        batch_size: Images per step.
        teacher: For a model that trains against a teacher (a :class:`~genzoo.Student`): the
            checkpoint, run folder, model folder or Hub repository of the trained model it
            learns from (``train.toml`` records it as an absolute path).
        options: How the run trains (:class:`genzoo.RunOptions`: the run folder, device,
            precision, seed...); its ``seed`` also seeds the model's weights.
        config: Model config overrides (strings are parsed to the field's type).
    """

    model: str = ""
    data: str = "mnist"
    data_root: str | None = None
    download: bool = True
    channels: int | None = None
    image_size: int | None = None
    epochs: int = 10
    batch_size: int = 64
    teacher: str | None = None
    options: RunOptions = field(default_factory=RunOptions)
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> TrainSpec:
        """A spec from flat settings, as a ``--config`` file holds them: this class's fields and
        :class:`~genzoo.RunOptions`' side by side. Strings are parsed to the fields' types.

        Raises:
            ConfigError: a setting is unknown (the message lists them all), ill-typed or out
                of range.
        """
        check_names(settings, _SETTINGS, owner="train")
        config = settings.get("config") or {}
        if not isinstance(config, Mapping):
            raise ConfigError(f"train setting 'config' must be a table of model settings "
                              f"([config] in a TOML file), got {type(config).__name__}")
        options = {k: v for k, v in settings.items() if k in _RUN_OPTIONS}
        own = {k: v for k, v in settings.items() if k not in _RUN_OPTIONS and k != "config"}
        spec = resolve_config(cls, {**own, "options": resolve_config(RunOptions, options, owner="train")},
                              owner="train")
        spec.config = dict(config)
        return spec

    def settings(self) -> dict[str, Any]:
        """This spec in the flat form :meth:`from_settings` reads (``config`` last)."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("options", "config")}
        return {**own, **config_to_dict(self.options), "config": self.config}


_RUN_OPTIONS = frozenset(f.name for f in fields(RunOptions))

# the names a --config file and train.toml may hold: TrainSpec's own and RunOptions' fields
_SETTINGS = frozenset(TrainSpec().settings())


def run_training(spec: TrainSpec) -> tuple[FitResult, Path | None]:
    """Load the data, build the model with the data's image shape, and fit it.

    Returns:
        The run's result and its folder.
    """
    from .build import build
    from .data import ImageSet, load_source, make_loader
    from .data.sources import check_source

    try:
        probe = build(spec.model, **spec.config)  # a bad name or setting: before any data
    except Exception as err:
        raise_if_broken_plugin(err)
        raise
    _check_teacher(spec, probe)
    check_source(spec.data, "--data")  # '' would be the current folder
    world = World.from_env()
    opts = spec.options
    if opts.out is not None:  # not the data folder, nor another data set, nor '' (the cwd)
        from .files import check_output_folder, output_path

        check_output_folder(output_path(opts.out, "--out"), option="--out", data=spec.data,
                            adds="the run's grids, checkpoints and logs")
    out = Path(opts.out) if opts.out else None
    # hold the run folder (lock, no silent replacing) before the data is loaded
    with RunFolder(out if world.is_main else None, resume=opts.resume):
        images = load_source(spec.data, root=spec.data_root, download=spec.download,
                             channels=spec.channels, size=spec.image_size)
        config = {"image_shape": images.image_shape, **spec.config}
        model = build(spec.model, seed=opts.seed, teacher=spec.teacher, **config)
        check_data_labels(images, model, spec.model)
        if spec.batch_size > len(images):
            # a warning, not a refusal: the run is sound (each epoch is one step on every
            # image), and a small folder with the default --batch-size 64 is common
            warnings.warn(f"--batch-size {spec.batch_size} is larger than the {len(images):,} "
                          f"images of {images.name}: every step trains on all of them, one step "
                          f"an epoch; pass --batch-size {len(images)} or less to choose the "
                          "steps", stacklevel=2)
        device = resolve_device(opts.device, world.local_rank if world.size > 1 else None)
        # a set held in memory moves to the device once if it fits there; a streamed one sends
        # each batch as it is decoded
        keep_on_device = not isinstance(images, ImageSet) or _fits(images.images, device)
        loader = make_loader(images, batch_size=spec.batch_size,
                             device=device if keep_on_device else None)
        callbacks = [_RunSettingsFile(out, spec)] if out is not None and world.is_main else []
        result = model.fit(loader, epochs=spec.epochs, callbacks=callbacks,
                           **{**config_to_dict(opts), "device": str(device)})
    return result, out


def _check_teacher(spec: TrainSpec, model: Any) -> None:
    """Refuse ``--teacher`` for a model that takes none, and a new run of a model that requires
    one without it (a resume finds the run's recorded teacher)."""
    from .protocols import Student

    if spec.teacher is not None and not isinstance(model, Student):
        raise ConfigError(f"model {spec.model!r} takes no teacher (it is not a genzoo.Student); "
                          "drop --teacher, or train a model that learns from one")
    if (spec.teacher is None and spec.options.resume is None and isinstance(model, Student)
            and model.teacher_required):
        raise ConfigError(f"model {spec.model!r} trains against a teacher: pass --teacher "
                          "RUN_OR_CHECKPOINT_OR_FOLDER naming the trained model it learns from")


class _RunSettingsFile:
    """Writes ``train.toml`` once the run has really started (a refused resume writes nothing)."""

    def __init__(self, out: Path, spec: TrainSpec) -> None:
        self.out, self.spec = out, spec

    @hookimpl
    def genzoo_fit_start(self, model: Any) -> None:
        # --set values arrive as strings; write them back parsed to the model's field types
        config = getattr(model, "config", None)
        typed = {k: getattr(config, k, v) for k, v in self.spec.config.items()}
        teacher = getattr(model, "teacher", None)  # where the run's teacher was loaded from
        source = getattr(teacher, "source", None) or self.spec.teacher
        text = spec_to_toml(replace(self.spec, config=typed, data=portable_data(self.spec.data),
                                    data_root=_absolute(self.spec.data_root), teacher=source))
        (self.out / "train.toml").write_text(text, encoding="utf-8")


def portable_data(data: str) -> str:
    """``data`` as ``train.toml`` records it: a folder of images as its absolute path (so that
    ``--resume`` and ``genzoo eval`` find it from any directory), a data set name as it is."""
    path = Path(data).expanduser()
    return str(path.resolve()) if path.is_dir() else data


def _absolute(folder: str | None) -> str | None:
    return None if folder is None else str(Path(folder).expanduser().resolve())


def run_settings(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The run options and model config a run folder's ``train.toml`` records.

    Returns:
        ``(options, config)``, or ``None`` when the folder has no ``train.toml``.

    Raises:
        RunFolderError: the file is not valid TOML.
    """
    path = Path(folder) / "train.toml"
    if not path.is_file():
        return None
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{path} is damaged ({err}); fix it or start a new run") from err
    config = values.pop("config", None)
    for key in NOT_RECORDED:  # written by older versions
        values.pop(key, None)
    return values, dict(config) if isinstance(config, dict) else {}


def run_data(checkpoint: str | Path, data: str | None, root: str | Path | None
             ) -> tuple[str, str | Path | None]:
    """The data set (and its root) to evaluate ``checkpoint`` against: ``data`` when given,
    else the one its run trained on (from the run folder's ``train.toml``), else ``"mnist"``.
    """
    if data is not None:  # '' (an unset variable) is no request for the default
        from .data.sources import check_source

        check_source(data, "--data")
    run = Path(checkpoint).parent.parent
    recorded = run_settings(run) if (run / "train.toml").is_file() else None
    if data is not None or recorded is None:
        return data or "mnist", root
    return str(recorded[0].get("data", "mnist")), root if root is not None else recorded[0].get("data_root")


def settings_conflicts(recorded: dict[str, Any], recorded_config: dict[str, Any],
                       given: dict[str, Any], given_config: dict[str, Any]) -> list[str]:
    """What a resume asks to change that a resumed run may not (outside
    :data:`RESUMABLE_OPTIONS`, and model settings other than sampling options), one
    ``"--option VALUE (the run has VALUE)"`` per difference.
    """
    defaults = TrainSpec().settings()
    conflicts = []
    for key, value in given.items():
        if may_change_on_resume(key) or key in NOT_RECORDED or key == "config":
            continue
        before = recorded.get(key, defaults.get(key))
        if not _same_setting(key, before, value):
            flag = "MODEL" if key == "model" else "--" + key.replace("_", "-")
            conflicts.append(f"{flag} {value} (the run has {before})")
    if given_config and not any(c.startswith("MODEL ") for c in conflicts):
        from .build import build

        from .sampling import sampling_fields

        name = recorded.get("model", given.get("model"))
        model = build(name, **recorded_config)
        free = sampling_fields(model.config) if hasattr(model, "config") else frozenset()
        before = model.config_dict()
        after = build(name, **{**recorded_config, **given_config}).config_dict()
        conflicts += [f"--set {key}={given_config[key]} (the run has {before.get(key)!r})"
                      for key in given_config if key not in free and before.get(key) != after.get(key)]
    return conflicts


def _same_setting(key: str, before: Any, after: Any) -> bool:
    if before == after or str(before) == str(after):
        return True
    if key == "data" and before is not None and after is not None:
        return Path(str(before)).expanduser().resolve() == Path(str(after)).expanduser().resolve()
    return False


def raise_if_broken_plugin(err: BaseException) -> None:
    """Raise a :class:`PluginError` naming the plugin if ``err`` is a broken plugin's error."""
    from .build import broken_plugins

    for broken in broken_plugins():
        if broken.error is err:
            origin = f" ({broken.distribution} {broken.version})" if broken.distribution else ""
            raise PluginError(f"plugin {broken.name!r}{origin} failed to load, so its models "
                              f"cannot be used: {broken.reason}") from err


def _fits(images: torch.Tensor, device: torch.device) -> bool:
    """Whether the data set can live on ``device`` with room to spare for training."""
    if device.type != "cuda":
        return True
    free, _total = torch.cuda.mem_get_info(device)
    return images.numel() * images.element_size() < free // 4


def spec_to_toml(spec: TrainSpec) -> str:
    """``spec`` as a TOML file ``genzoo train --config`` reads back."""
    settings = spec.settings()
    del settings["config"]
    lines = [f"{key} = {_toml_value(value)}" for key, value in settings.items()
             if key not in NOT_RECORDED and value is not None]
    lines.append("\n[config]")
    lines += [f"{k} = {_toml_value(v)}" for k, v in spec.config.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


