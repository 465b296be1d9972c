"""Checkpoint files: written atomically, read back with ``weights_only=True`` and checked.

A checkpoint is a ``torch.save`` dict holding only tensors and plain Python values:

* ``format`` (``"genzoo-checkpoint"``) and ``format_version``;
* ``model`` (the registry name), ``config`` (a plain dict) and ``state_dict``;
* ``versions``: genzoo's, torch's and the model plugin's distribution;
* from the runner also ``optimizers``, ``scaler``, ``schedules``, counters, random states and
  run options, and with ``fit(..., ema=...)`` an ``ema`` entry: its decay, update count and
  the averaged ``state_dict`` (which :func:`load` and ``save`` use by default).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch

from .errors import CheckpointError, ConfigError
from .files import atomic_output

__all__ = ["FORMAT", "FORMAT_VERSION", "LAST_CHECKPOINT", "last_checkpoint", "write_checkpoint",
           "read_checkpoint", "checkpoint_path", "model_payload", "temp_checkpoint_prefix",
           "temp_checkpoint_writer", "load", "model_from_payload", "rebuild_model", "config_class",
           "loading_weights", "check_weights_choice", "versions"]

#: Where in the run folder the runner keeps the latest checkpoint.
LAST_CHECKPOINT = Path("checkpoints") / "last.pt"

FORMAT = "genzoo-checkpoint"
_DOS_DIRECTORY = 0x10  # the folder bit of a zip record's external attributes
#: Bumped when a change makes older genzoo unable to read new files.
FORMAT_VERSION = 1
#: A temporary checkpoint file: ``.NAME.PID@HOST.RANDOM.tmp``.
_TEMP = re.compile(r"^\..+\.(?P<pid>\d+)@(?P<host>[^.]+)\..*\.tmp$")


def write_checkpoint(payload: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``payload`` to ``path`` atomically: a crash mid-write leaves the old file intact.

    It goes through :func:`genzoo.files.atomic_output`, whose temporary file is named after
    this process, so that a run folder's next run can tell a dead writer's leftovers from a live
    one's.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    before = _identity(path)
    try:
        with atomic_output(path, prefix=temp_checkpoint_prefix(path.name)) as file:
            torch.save(payload, file)
    except KeyboardInterrupt as err:  # a second Ctrl-C while writing: say what is kept
        now = _identity(path)
        kept = ("nothing was written" if now is None else
                f"the previous {path} is intact" if now == before else f"{path} was written")
        raise KeyboardInterrupt(f"interrupted while writing {path}; {kept}") from err
    return path


def _identity(path: Path) -> tuple[int, int] | None:
    """The file at ``path`` as its inode and modification time, to tell it from one renamed over
    it."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def temp_checkpoint_prefix(name: str) -> str:
    """The prefix of a temporary file for checkpoint ``name``: it names this process and host."""
    return f".{name}.{os.getpid()}@{_host()}."


def temp_checkpoint_writer(filename: str) -> int | None:
    """The process id that writes the temporary checkpoint file ``filename`` on this host;
    ``None`` for any other file (not one of genzoo's, or written on another host)."""
    match = _TEMP.match(filename)
    return int(match["pid"]) if match is not None and match["host"] == _host() else None


def _host() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def checkpoint_path(path: Any, caller: str = "load()") -> Path:
    """``path`` as a :class:`~pathlib.Path`, refusing what cannot name a checkpoint file.

    Raises:
        CheckpointError: ``path`` is not a string or path (``None``, a number), or is empty (as
            an unset shell variable gives; ``Path("")`` would be the current folder).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise CheckpointError(f"{caller} takes the path of a checkpoint file, got "
                              f"{type(path).__name__}")
    if not os.fspath(path).strip():
        raise CheckpointError(f"{caller}: the checkpoint path is empty (an unset shell "
                              "variable?); name the checkpoint file")
    return Path(path)


def last_checkpoint(path: Path) -> Path | None:
    """The last checkpoint of ``path`` when it is a run folder (it holds
    :data:`LAST_CHECKPOINT`), else ``None``."""
    last = path / LAST_CHECKPOINT
    return last if path.is_dir() and last.is_file() else None


def read_checkpoint(path: str | os.PathLike[str], *, model: str | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint written by genzoo.

    Args:
        path: The file.
        model: When given, the registry name the checkpoint must be of.
        map_location: Where to put its tensors.

    Raises:
        CheckpointError: the file is missing, truncated or corrupted, not a genzoo checkpoint,
            of another model, or written by a newer genzoo in a format this one cannot read.
            The message names the file.
    """
    path = checkpoint_path(path)
    if path.is_dir():
        raise CheckpointError(f"no checkpoint file at {path}: it is a folder, but not a run "
                              f"folder (it has no {LAST_CHECKPOINT}); name a checkpoint file, or "
                              "load a model folder with genzoo.from_pretrained")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        payload = _load_archive(path, map_location)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain values, so it was not loaded "
            f"(genzoo loads with weights_only=True): {_first_line(err)}"
        ) from err
    except Exception as err:  # damage anywhere in the file: whatever the zip or torch reader raises
        raise CheckpointError(
            f"{path} is truncated or corrupted and cannot be read ({type(err).__name__}: "
            f"{_first_line(err)}); use an earlier checkpoint"
        ) from err
    _check_payload(payload, path)
    if model is not None and payload["model"] != model:
        raise CheckpointError(
            f"{path} is a checkpoint of model {payload['model']!r}, not of {model!r}"
        )
    return payload


def _load_archive(path: Path, map_location: str | torch.device) -> Any:
    """``torch.load`` after checking the file is a zip archive whose every record is intact."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is truncated or corrupted, or not a checkpoint at all: it is not the zip "
            "archive torch.save writes; use an earlier checkpoint"
        )
    damaged = _damaged_record(path)
    if damaged:
        raise CheckpointError(
            f"{path} is corrupted: its record {damaged!r} fails its checksum; use an earlier checkpoint"
        )
    return torch.load(path, map_location=map_location, weights_only=True)


def _check_payload(payload: Any, path: Path) -> None:
    """Check the entries every genzoo checkpoint has, with their types."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a torch file but not a genzoo checkpoint (no 'format': {FORMAT!r} entry)"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, newer than the {FORMAT_VERSION} "
            "this genzoo reads; upgrade genzoo to load it"
        )
    for key, kind in (("model", str), ("config", dict), ("state_dict", dict)):
        if key not in payload:
            raise CheckpointError(f"{path} lacks the {key!r} entry every genzoo checkpoint has")
        if not isinstance(payload[key], kind):
            raise CheckpointError(f"{path} is damaged: its {key!r} entry is a "
                                  f"{type(payload[key]).__name__}, not a {kind.__name__}")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor)
               for k, v in payload["state_dict"].items()):
        raise CheckpointError(f"{path} is damaged: its weights are not all tensors by name")


def model_payload(model: Any, state_dict: dict[str, Any] | None = None) -> dict[str, Any]:
    """The part of a checkpoint that describes the model: name, config, weights and versions.

    ``state_dict`` replaces ``model.state_dict()`` (the whole weights of a sharded model).
    """
    from .build import registry_name_of

    name = registry_name_of(model)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": name,
        "config": model.config_dict(),
        "state_dict": model.state_dict() if state_dict is None else state_dict,
        "versions": versions(name),
    }


def versions(model_name: str) -> dict[str, str | None]:
    """genzoo's, torch's and the model plugin's versions, for a checkpoint's record."""
    from ._version import __version__
    from .plugins import registry

    info = registry().get(model_name) if model_name in registry() else None
    return {
        "genzoo": __version__,
        "torch": str(torch.__version__),
        "plugin": info.distribution if info else None,
        "plugin_version": info.version if info else None,
    }


def load(path: str | os.PathLike[str], *, device: str | torch.device = "cpu",
         weights: Literal["auto", "ema", "raw"] = "auto", **overrides: Any) -> Any:
    """Rebuild a model from a checkpoint written by ``save`` or by the runner.

    The model is built by the plugin that registered its name, with the stored config, and
    the stored weights are loaded into it. (An exported model folder or a Hugging Face Hub
    repository loads with :func:`genzoo.from_pretrained`.)

    Args:
        path: A checkpoint file, or a run folder (its last checkpoint, ``checkpoints/last.pt``).
        device: Where to put the model.
        weights: ``"auto"``: the weight EMA when the run kept one (``fit(..., ema=...)``), else
            the trained weights; ``"ema"``: the EMA (an error without one); ``"raw"``: the
            trained weights, not averaged.
        **overrides: Config fields that affect only sampling (a temperature, a number of
            steps, a sampler, a guidance scale: the fields the model marks with
            :func:`genzoo.sampling.sampling_option`).

    Raises:
        CheckpointError: the file cannot be read, its weights do not fit the model, or
            ``weights="ema"`` for a checkpoint without an EMA.
        ConfigError: an override is not a sampling option of the model.
        UnknownModelError: no installed plugin provides the checkpoint's model.
        DeviceError: ``device`` is unknown or not on this machine.
    """
    check_weights_choice(weights)
    from .devices import resolve_device

    device = resolve_device(device)  # an unknown or absent device: one DeviceError, not torch's
    path = checkpoint_path(path)
    payload = read_checkpoint(last_checkpoint(path) or path)
    model, _ = model_from_payload(payload, path, weights=weights, overrides=overrides)
    return model.to(device)


def check_weights_choice(weights: Any) -> None:
    """Refuse a ``weights=`` other than ``"auto"``, ``"ema"`` or ``"raw"`` (a :class:`ConfigError`)."""
    if weights not in ("auto", "ema", "raw"):
        raise ConfigError(f"weights must be 'auto', 'ema' or 'raw', got {weights!r}")


def model_from_payload(payload: dict[str, Any], path: str | os.PathLike[str], *,
                       weights: Literal["auto", "ema", "raw"] = "auto",
                       overrides: dict[str, Any] | None = None) -> tuple[Any, Literal["ema", "raw"]]:
    """The model a checkpoint's ``payload`` (from :func:`read_checkpoint`) describes, on the CPU.

    Args:
        payload: The checkpoint's contents.
        path: Its file, for messages.
        weights: As for :func:`load`.
        overrides: Sampling options to change, as for :func:`load`.

    Returns:
        The model, and which weights it got: ``"ema"`` (the run's weight EMA) or ``"raw"``.

    Raises:
        CheckpointError, ConfigError, UnknownModelError: as :func:`load`.
    """
    model = rebuild_model(payload["model"], payload["config"], path, overrides=overrides or {})
    ema = payload.get("ema")
    if weights == "ema" and not ema:
        raise CheckpointError(f"{path} holds no weight EMA (the run did not use ema=...); "
                              "load it with weights='raw' or 'auto'")
    kind: Literal["ema", "raw"] = "ema" if ema and weights != "raw" else "raw"
    with loading_weights(path, payload["model"]):
        model.load_state_dict(ema["state_dict"] if kind == "ema" else payload["state_dict"])
    return model, kind


def rebuild_model(name: str, config: dict[str, Any], where: object, *,
                  overrides: dict[str, Any], written_by: str = "",
                  built_by: str = "this version of its plugin") -> Any:
    """Build model ``name`` with a stored ``config``, then change the sampling options
    ``overrides``.

    A field the stored config lacks takes the value that :func:`genzoo.config.added_option`
    declares for configs saved before the field existed, else its default.

    Args:
        name: The registered model name.
        config: The stored config.
        where: The file the config came from, for messages.
        overrides: Sampling options to change.
        written_by: Says, for messages, what wrote the config (``" (written by ... 0.3)"``).
        built_by: Says, for messages, what builds the model now.

    Raises:
        CheckpointError: the config does not fit the model as the installed plugin builds it
            (a field it does not know, a value it refuses).
        ConfigError: an override is not a sampling option of the model.
        UnknownModelError: no installed plugin provides the model.
    """
    from .build import build
    from .config import saved_config

    config = saved_config(config_class(name), config)
    try:
        model = build(name, **config)
    except ConfigError as err:
        raise CheckpointError(
            f"the config in {where}{written_by} does not fit model {name!r} as {built_by} "
            f"builds it: {err}"
        ) from err
    if overrides:
        setter = getattr(model, "set_sampling_options", None)
        if setter is None:
            raise ConfigError(f"model {name!r} has no sampling options to override "
                              f"({', '.join(sorted(overrides))})")
        setter(**overrides)
    return model


def config_class(name: str) -> type | None:
    """The config dataclass of registered model ``name`` (its factory's ``Config``), or
    ``None`` for a factory without one.

    Raises:
        UnknownModelError: no installed plugin provides the model.
    """
    from .plugins import registry

    return getattr(registry().get(name).load_factory(), "Config", None)


@contextlib.contextmanager
def loading_weights(where: object, name: str,
                    built_by: str = "this version of its plugin") -> Iterator[None]:
    """Turn the errors of loading weights into a model (missing or unexpected names, shapes
    that differ) into a :class:`CheckpointError` naming ``where`` the weights came from."""
    try:
        yield
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        lines = [line.strip() for line in str(err).strip().splitlines()]
        # torch's "Error(s) in loading state_dict for VAE:" says what is wrong on its next line
        detail = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else _first_line(err)
        raise CheckpointError(
            f"the weights in {where} do not fit model {name!r} as {built_by} builds it: {detail}"
        ) from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _damaged_record(path: Path) -> str | None:
    """The first record of the zip archive whose CRC-32 does not match (torch does not check),
    or that the zip directory marks as a folder (torch's reader then reads it as empty)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir() or info.external_attr & _DOS_DIRECTORY:
                    return info.filename
            return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f"<archive: {_first_line(err)}>"
