"""Model folders: export, load, push, and the model card.

A *model folder* is how a trained genzoo model is shared, laid out as the Hugging Face Hub
expects a model repository:

* ``config.json``: the registered model name, its config (plain JSON), the image shape, the
  sampling options, which weights the folder holds (``"ema"`` or ``"raw"``), the genzoo, torch
  and plugin distribution versions that wrote it, and the folder format's version
  (:data:`FOLDER_FORMAT_VERSION`, as diffusers records ``_diffusers_version``);
* ``model.safetensors``: the weights, as `safetensors <https://huggingface.co/docs/safetensors>`_
  (tensors shared between modules are stored once, every tensor contiguous);
* ``README.md``: the model card, with the Hub's metadata (``library_name: genzoo``, tags, the
  data set, the licence) and what is known of the model: how it was trained and for how long,
  its evaluation with intervals and protocol card, bits/dim where measured;
* ``samples.png``: the run's last sample grid, when there is one.

Nothing in a folder is pickled, so loading one never runs code from it.

* :func:`export` writes a folder from a run folder or a checkpoint file, with what the run
  folder knows (``genzoo export``); :func:`save_pretrained` (and
  :meth:`genzoo.GenerativeModel.save_pretrained`) from a model in memory.
* :func:`from_pretrained` (``genzoo.from_pretrained``) loads a folder, or a Hub repository
  ``user/name`` through ``huggingface_hub`` (its cache, ``HF_HUB_OFFLINE``, a revision pinned
  by commit hash); :func:`load_model` also takes a checkpoint file, as the commands do.
* :func:`push_to_hub` uploads a folder to the Hub (``genzoo push``).

Loading is strict: a model whose plugin is not installed, a config field the installed plugin
does not know, weights that do not fit the config, or a folder that genzoo did not write each
stop with one line saying so.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

import torch

from .checkpoint import _first_line as first_line
from .checkpoint import (LAST_CHECKPOINT, check_weights_choice, checkpoint_path, last_checkpoint,
                         loading_weights, model_from_payload, read_checkpoint, rebuild_model,
                         versions)
from .errors import (CheckpointError, ConfigError, HubError, OutputExistsError, PluginError,
                     UnknownModelError, UnsafeFileError)
from .files import RUN_FOLDERS, output_path, read_regular_file
from .teacher import set_teacher_loader

if TYPE_CHECKING:
    from .report.collect import Evaluation

__all__ = ["FOLDER_FORMAT", "FOLDER_FORMAT_VERSION", "CONFIG_FILE", "WEIGHTS_FILE", "CARD_FILE",
           "GRID_FILE", "ModelFolder", "save_pretrained", "export", "from_pretrained",
           "open_model_folder", "locate_model", "load_model", "push_to_hub", "is_repo_id",
           "is_pretrained_name", "read_folder_config", "folder_summary", "EVAL_FILE",
           "PRETRAINED_PREFIX"]

#: The ``format`` entry of every model folder's ``config.json``.
FOLDER_FORMAT = "genzoo-model"
#: Bumped when a change makes older genzoo unable to read new folders.
FOLDER_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
GRID_FILE = "samples.png"
#: The ``genzoo eval`` result of the exported weights, copied from the run when it has one.
EVAL_FILE = "eval.json"
#: The files genzoo writes into a model folder, in the order they are put in place (the config
#: last: a folder whose config is new has all its new files).
_FOLDER_FILES = (WEIGHTS_FILE, GRID_FILE, EVAL_FILE, CARD_FILE, CONFIG_FILE)
#: The most of a ``config.json`` read.
_CONFIG_LIMIT = 16 << 20
#: Checkpoint file suffixes: a path ending so names a file, never a Hub repository.
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
#: ``user/name``, as the Hub spells repository ids.
#: What names a model folder a plugin ships (``pretrained:mnist-gan``).
PRETRAINED_PREFIX = "pretrained:"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
#: The Hub's data set ids of the named data sets that have an official one.
_HUB_DATASETS = {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist",
                 "cifar10": "uoft-cs/cifar10", "cifar100": "uoft-cs/cifar100",
                 "svhn": "ufldl-stanford/svhn"}
#: Entries of ``train.toml`` that are paths on the training machine, or where it logged (a
#: tracking server's address, a W&B project), left out of the card.
_MACHINE_SETTINGS = ("out", "data_root", "resume", "mlflow", "wandb")

Weights = Literal["auto", "ema", "raw"]


def is_repo_id(text: str) -> bool:
    """Whether ``text`` reads as a Hugging Face Hub repository id, ``user/name`` (a path ending
    in a checkpoint suffix such as ``.pt`` does not)."""
    return (isinstance(text, str) and bool(_REPO_ID.match(text)) and ".." not in text
            and not text.lower().endswith(_CHECKPOINT_SUFFIXES))


def is_pretrained_name(text: Any) -> bool:
    """Whether ``text`` names a shipped model folder: ``pretrained:NAME``."""
    return isinstance(text, str) and text.startswith(PRETRAINED_PREFIX)


def _shipped_folder(text: str, revision: str | None) -> ModelFolder:
    """The model folder an installed plugin ships as ``text`` (``pretrained:NAME``), checked."""
    from .plugins import registry

    if revision is not None:
        raise ConfigError(f"revision={revision!r} is for Hub repositories; {text} ships with "
                          "an installed plugin (its version is the plugin's)")
    info = registry().get_pretrained(text.removeprefix(PRETRAINED_PREFIX))
    shown = f"{text} (from {info.origin})"
    if not info.folder.is_dir():
        raise CheckpointError(f"{shown}: its folder {info.folder} is missing; reinstall "
                              f"{info.distribution or 'the plugin'}")
    return ModelFolder(info.folder, read_folder_config(info.folder, shown=shown), pretrained=text)


# -- reading a folder ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelFolder:
    """A model folder found on disk or in the Hugging Face cache, with its checked config.

    Attributes:
        path: The folder (for a Hub repository, its snapshot in the cache).
        config: ``config.json``, checked.
        repo_id: The Hub repository it came from, if any.
        commit: The commit of that repository the snapshot holds.
    """

    path: Path
    config: dict[str, Any]
    repo_id: str | None = None
    commit: str | None = None
    #: The name it was asked for as, ``pretrained:NAME``, for a folder a plugin ships.
    pretrained: str | None = None

    @property
    def name(self) -> str:
        """How messages name it: the folder, ``user/name@commit`` or ``pretrained:NAME``."""
        if self.pretrained:
            return self.pretrained
        return f"{self.repo_id}@{self.commit[:12]}" if self.repo_id and self.commit else str(self.path)

    @property
    def model(self) -> str:
        """The registered model name."""
        return self.config["model"]

    @property
    def weights(self) -> Literal["ema", "raw"]:
        """Which weights the folder holds: ``"ema"`` (a run's weight EMA) or ``"raw"``."""
        return self.config["weights"]

    @property
    def written_by(self) -> str:
        """The plugin distribution (and version) that wrote the folder, for messages."""
        recorded = self.config.get("versions") or {}
        text = " ".join(str(recorded[k]) for k in ("plugin", "plugin_version") if recorded.get(k))
        return text or "a plugin registered at run time"

    def load(self, *, device: str | torch.device = "cpu", weights: Weights = "auto",
             **overrides: Any) -> Any:
        """Build the model with the folder's config and load its weights.

        Args:
            device: Where to put the model.
            weights: ``"auto"`` for whatever the folder holds; ``"ema"`` or ``"raw"`` to insist.
            **overrides: Sampling options to change, as for :func:`genzoo.load`.

        Raises:
            CheckpointError, UnknownModelError, PluginError, ConfigError: see
                :func:`from_pretrained`.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_model as load_safetensors

        from .devices import resolve_device

        check_weights_choice(weights)
        device = resolve_device(device)
        if weights not in ("auto", self.weights):
            held = {"ema": "the weight EMA of its run", "raw": "the trained weights (not averaged)"}
            raise CheckpointError(f"{self.name} holds only {held[self.weights]}, so "
                                  f"weights={weights!r} cannot be loaded from it; use "
                                  "weights='auto' (a run's checkpoint holds both)")
        built_by = _installed_origin(self.model, self)
        model = rebuild_model(self.model, self.config["config"], self.path / CONFIG_FILE,
                              overrides=overrides, written_by=f" (written by {self.written_by})",
                              built_by=built_by)
        weights_file = self.path / WEIGHTS_FILE
        stored = _weights_metadata(weights_file, self.name).get("genzoo_model")
        if stored is not None and stored != self.model:
            raise CheckpointError(f"{self.name}: {WEIGHTS_FILE} holds the weights of model "
                                  f"{stored!r}, but {CONFIG_FILE} describes {self.model!r}")
        try:
            with loading_weights(weights_file, self.model, built_by):
                load_safetensors(model, weights_file, strict=True)
        except SafetensorError as err:
            raise CheckpointError(f"{weights_file} is damaged and cannot be read: {err}") from err
        return model.to(device)


def open_model_folder(source: str | os.PathLike[str] | ModelFolder, *, revision: str | None = None,
                      cache_dir: str | os.PathLike[str] | None = None,
                      token: str | None = None) -> ModelFolder:
    """Find a model folder, on disk or on the Hub (through the Hugging Face cache), and check
    its ``config.json``; the weights are not read.

    Args:
        source: A folder, a Hub repository id ``user/name``, or ``pretrained:NAME`` for a
            folder an installed plugin ships (:func:`genzoo.list_pretrained`).
        revision: For a repository: a branch, a tag or a commit hash (default: ``main``).
        cache_dir: For a repository: the Hugging Face cache (default: huggingface_hub's,
            ``HF_HUB_CACHE``).
        token: For a repository: a Hugging Face token (default: the one huggingface_hub keeps).

    Raises:
        CheckpointError: no such folder, or one genzoo did not write (no ``config.json``, or
            another library's), or one written by a newer genzoo.
        HubError: the repository or revision is not on the Hub or in the cache.
        MissingExtraError: a repository is asked for and huggingface_hub is not installed.
        UnknownModelError: ``pretrained:NAME`` names no folder an installed plugin ships.
    """
    if isinstance(source, ModelFolder):
        return source
    text = os.fspath(checkpoint_path(source, "from_pretrained()"))
    if is_pretrained_name(text):
        return _shipped_folder(text, revision)
    path = Path(text).expanduser()
    if path.exists():
        if revision is not None:
            raise ConfigError(f"revision={revision!r} is for Hub repositories; {path} is a folder "
                              "on this machine")
        if not path.is_dir():
            raise CheckpointError(f"{path} is a file, not a model folder; load a checkpoint file "
                                  "with genzoo.load")
        return ModelFolder(path, read_folder_config(path))
    if not is_repo_id(text):
        raise CheckpointError(f"no model folder at {path}, and {text!r} is not a Hugging Face "
                              "Hub repository id (user/name)")
    snapshot = Path(_snapshot(text, revision, cache_dir, token))
    shown = f"{text}@{revision}" if revision else text
    return ModelFolder(snapshot, read_folder_config(snapshot, shown=f"the Hub repository {shown}"),
                       repo_id=text, commit=snapshot.name)


def read_folder_config(folder: Path, *, shown: str | None = None) -> dict[str, Any]:
    """``folder``'s ``config.json``, checked: a genzoo model folder's, in a format this genzoo
    reads, with every entry it needs.

    Raises:
        CheckpointError: naming the folder (or ``shown``) and what is wrong.
    """
    shown = shown or str(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        if last_checkpoint(folder) is not None:
            raise CheckpointError(f"{shown} is a run folder, not a model folder; give its "
                                  f"checkpoint {folder / LAST_CHECKPOINT}, or export it "
                                  f"with: genzoo export {folder} DIR")
        raise CheckpointError(f"{shown} has no {CONFIG_FILE}, so it is not a genzoo model folder "
                              "(genzoo export and save_pretrained write one)")
    try:
        config = json.loads(read_regular_file(path, limit=_CONFIG_LIMIT))
    except (OSError, UnsafeFileError, ValueError) as err:
        raise CheckpointError(f"the {CONFIG_FILE} of {shown} cannot be read: {err}") from err
    if not isinstance(config, dict) or config.get("format") != FOLDER_FORMAT:
        raise CheckpointError(f"the {CONFIG_FILE} of {shown} is not a genzoo model config (it has "
                              f"no \"format\": \"{FOLDER_FORMAT}\"{_other_library(config)}); "
                              "genzoo loads the folders genzoo export and save_pretrained write")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FOLDER_FORMAT_VERSION:
        raise CheckpointError(f"{shown} has model folder format version {version!r}, newer than "
                              f"the {FOLDER_FORMAT_VERSION} this genzoo reads; upgrade genzoo to "
                              "load it")
    for key, kind in (("model", str), ("config", dict), ("versions", dict), ("weights", str)):
        if not isinstance(config.get(key), kind):
            raise CheckpointError(f"the {CONFIG_FILE} of {shown} is damaged: its {key!r} entry is "
                                  f"missing or not a {kind.__name__}")
    if config["weights"] not in ("ema", "raw"):
        raise CheckpointError(f"the {CONFIG_FILE} of {shown} is damaged: 'weights' is "
                              f"{config['weights']!r}, not 'ema' or 'raw'")
    shape = config["config"].get("image_shape")
    if "image_shape" in config and shape is not None and list(shape) != config["image_shape"]:
        raise CheckpointError(f"the {CONFIG_FILE} of {shown} is damaged: its image_shape "
                              f"{config['image_shape']} differs from the config's {shape}")
    return config


def _other_library(config: Any) -> str:
    """A hint at which library wrote a ``config.json`` that is not genzoo's."""
    if not isinstance(config, dict):
        return ""
    if any(key in config for key in ("_class_name", "_diffusers_version")):
        return "; it looks like a diffusers model's"
    if any(key in config for key in ("model_type", "architectures", "transformers_version")):
        return "; it looks like a transformers model's"
    return ""


def _weights_metadata(path: Path, shown: str) -> dict[str, str]:
    """The metadata in the header of the safetensors file ``path`` (nothing else is read)."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise CheckpointError(f"{shown} has a {CONFIG_FILE} but no {WEIGHTS_FILE}; export it again")
    try:
        with safe_open(str(path), framework="pt") as weights:
            return dict(weights.metadata() or {})
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} is damaged and cannot be read: {err}") from err


def _installed_origin(name: str, folder: ModelFolder) -> str:
    """``"genzoo-diffusion 0.2.0 (installed)"`` for the plugin that provides model ``name``;
    an error naming the distribution to install when none does."""
    import importlib.metadata

    from .plugins import registry

    registered = registry()
    if name in registered:
        return f"{registered.get(name).origin} (installed)"
    if name in registered.conflicts():
        raise registered.duplicate_error(name)
    recorded = folder.config.get("versions") or {}
    dist, version = recorded.get("plugin"), recorded.get("plugin_version")
    for broken in registered.broken.values():
        if dist and broken.distribution == dist:
            raise PluginError(f"{folder.name} holds a {name!r} model from {dist}, whose plugin "
                              f"{broken.name!r} failed to load: {broken.reason}")
    if not isinstance(dist, str) or not dist:
        raise UnknownModelError(f"{folder.name} holds a {name!r} model of a plugin registered at "
                                "run time; register that plugin (genzoo.register_plugin) first")
    try:
        installed = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise UnknownModelError(f"{folder.name} holds a {name!r} model from the plugin "
                                f"distribution {dist} (it was written with {dist} {version}), "
                                f"which is not installed; install it with: pip install {dist}"
                                ) from None
    raise UnknownModelError(f"{folder.name} holds a {name!r} model from {dist} {version}, and the "
                            f"installed {dist} {installed} does not provide it (its plugin is "
                            "blocked by GENZOO_PLUGINS or GENZOO_BLOCK_PLUGINS, or this version "
                            "has no such model)")


def _snapshot(repo_id: str, revision: str | None, cache_dir: str | os.PathLike[str] | None,
              token: str | None) -> str:
    """The folder of ``repo_id``'s snapshot in the Hugging Face cache, downloaded (the config
    and the weights only) unless it is there or the Hub cannot be reached."""
    from ._version import __version__
    from .extras import require

    hub = require("huggingface_hub", "hub", f"loading {repo_id} from the Hugging Face Hub")
    from huggingface_hub import constants as hub_constants
    from huggingface_hub import errors as hub_errors

    shown = f"{repo_id}@{revision}" if revision else repo_id
    try:
        return hub.snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, token=token,
                                     allow_patterns=[CONFIG_FILE, WEIGHTS_FILE],
                                     library_name="genzoo", library_version=__version__)
    except hub_errors.RevisionNotFoundError as err:
        raise HubError(f"the Hub repository {repo_id} has no revision {revision!r}") from err
    except hub_errors.RepositoryNotFoundError as err:
        raise HubError(f"{repo_id} is not a folder here, and not a model repository on the "
                       "Hugging Face Hub that this token may read (private or gated ones need "
                       "a token: hf auth login)") from err
    except hub_errors.LocalEntryNotFoundError as err:  # offline, or the Hub unreachable
        cache = cache_dir or hub_constants.HF_HUB_CACHE
        why = ("HF_HUB_OFFLINE is set" if hub_constants.HF_HUB_OFFLINE
               else "the Hub cannot be reached")
        whole = " wholly" if isinstance(err, hub_errors.IncompleteSnapshotError) else ""
        where = "" if whole else " a folder here, nor"
        raise HubError(f"{shown} is not{where}{whole} in the Hugging Face cache {cache}, and "
                       f"{why}; download it once with the Hub in reach") from err
    except hub_errors.HFValidationError as err:
        raise ConfigError(f"{repo_id!r} is not a valid Hub repository id: "
                          f"{first_line(err)}") from err
    except hub_errors.HfHubHTTPError as err:
        raise HubError(f"the Hugging Face Hub refused {shown}: {first_line(err)}") from err


# -- loading --------------------------------------------------------------------------------------

def from_pretrained(source: str | os.PathLike[str], *, revision: str | None = None,
                    device: str | torch.device = "cpu", weights: Weights = "auto",
                    cache_dir: str | os.PathLike[str] | None = None, token: str | None = None,
                    **overrides: Any) -> Any:
    """Load a model from a model folder or from a Hugging Face Hub repository.

    A repository goes through ``huggingface_hub``'s cache: it is downloaded once (its
    ``config.json`` and ``model.safetensors`` only), and with ``HF_HUB_OFFLINE=1`` read from
    the cache alone. No data set and no training options are needed.

    Example::

        model = genzoo.from_pretrained("pretrained:mnist-flow-matching")  # shipped, no network
        model = genzoo.from_pretrained("runs/gan-export")         # a folder genzoo export wrote
        model = genzoo.from_pretrained("user/mnist-gan", revision="3f4c9a...")  # a pinned commit
        images = model.sample(16, seed=0)

    Args:
        source: A folder genzoo export (or :func:`save_pretrained`) wrote, a Hub repository
            id ``user/name``, or ``pretrained:NAME`` for a folder an installed plugin ships
            (:func:`genzoo.list_pretrained`; genzoo ships ``pretrained:mnist-gan`` and others).
        revision: For a repository: a branch, a tag, or a commit hash (which pins the files
            for good); default ``main``.
        device: Where to put the model.
        weights: ``"auto"``: what the folder holds; ``"ema"`` or ``"raw"`` insist on one (a
            folder holds one set of weights).
        cache_dir: The Hugging Face cache (default: ``HF_HUB_CACHE``, as huggingface_hub has it).
        token: A Hugging Face token for a private repository (default: the one
            huggingface_hub keeps, from ``hf auth login`` or ``HF_TOKEN``).
        **overrides: Sampling options to change, as for :func:`genzoo.load`.

    Raises:
        CheckpointError: the folder is not a genzoo model folder (it says so), was written by a
            newer genzoo, its config does not fit the model as the installed plugin builds it
            (both versions are named), or its weights do not fit the config.
        UnknownModelError: no installed plugin provides the model; the message names the
            distribution to install.
        HubError: the repository or revision is not on the Hub, or not in the cache offline.
        MissingExtraError: a repository is asked for and huggingface_hub is not installed
            (``pip install "genzoo[hub]"``).
        ConfigError: an override is not a sampling option of the model.
    """
    check_weights_choice(weights)
    folder = open_model_folder(source, revision=revision, cache_dir=cache_dir, token=token)
    return folder.load(device=device, weights=weights, **overrides)


def locate_model(source: str | os.PathLike[str], *, revision: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None,
                 token: str | None = None) -> Path | ModelFolder:
    """What ``source`` names: a checkpoint file (its path; a run folder names its last
    checkpoint), or a model folder on disk or on the Hub (found and checked with
    :func:`open_model_folder`).

    A path that exists, or that ends in a checkpoint suffix (``.pt``...), is a file or a
    folder; anything else that reads ``user/name`` is a Hub repository. A missing file is
    returned as it is, for :func:`genzoo.load` to report.

    Raises:
        CheckpointError: a folder that is neither a run folder nor a model folder (the
            message starts with ``no checkpoint file at``), or as :func:`open_model_folder`.
        ConfigError: ``revision`` is given for a checkpoint file or a run folder.
        HubError, MissingExtraError: as :func:`open_model_folder`.
    """
    path = checkpoint_path(source, "load()")
    if is_pretrained_name(os.fspath(source)):
        return _shipped_folder(os.fspath(source), revision)
    if path.is_dir() and not (path / CONFIG_FILE).is_file():
        if not (path / LAST_CHECKPOINT).is_file():
            raise CheckpointError(f"no checkpoint file at {path}: it is a folder, but neither a "
                                  f"run folder (it has no {LAST_CHECKPOINT}) nor a model folder "
                                  f"(it has no {CONFIG_FILE})")
        path = path / LAST_CHECKPOINT  # a run folder: its last checkpoint
    if path.is_file() or (not path.exists() and not is_repo_id(os.fspath(source))):
        if revision is not None:
            raise ConfigError(f"--revision is for Hub repositories; {path} is a checkpoint file")
        return path
    return open_model_folder(path if path.exists() else os.fspath(source), revision=revision,
                             cache_dir=cache_dir, token=token)


def load_model(source: str | os.PathLike[str], *, revision: str | None = None,
               device: str | torch.device = "cpu", weights: Weights = "auto",
               **overrides: Any) -> Any:
    """Load a model from a checkpoint file (:func:`genzoo.load`), a model folder or a Hub
    repository (:func:`from_pretrained`), as :func:`locate_model` tells them apart: what
    ``genzoo sample``, ``eval`` and ``info`` take.

    Raises:
        CheckpointError, ConfigError, HubError: as :func:`locate_model`, :func:`genzoo.load`
            and :func:`from_pretrained`.
    """
    from .checkpoint import load

    found = locate_model(source, revision=revision)
    if isinstance(found, Path):
        return load(found, device=device, weights=weights, **overrides)
    return found.load(device=device, weights=weights, **overrides)


def _load_teacher(source: str) -> tuple[Any, str]:
    """A teacher named by a checkpoint file, a run folder (its last checkpoint), a model folder
    or a Hub repository: the model, on the CPU, and the source a checkpoint records (an
    absolute path, or the Hub id as given). Installed as :mod:`genzoo.teacher`'s loader."""
    from .checkpoint import load

    path = Path(source).expanduser()
    found = locate_model(path if path.exists() else source)
    if isinstance(found, Path):
        return load(found), str(found.resolve())
    return found.load(), str(path.resolve()) if path.exists() else source


set_teacher_loader(_load_teacher)


# -- writing a folder ---------------------------------------------------------------------------

@dataclass
class _Known:
    """What is known of a model beyond its weights, for its config and card."""

    weights: Literal["ema", "raw"] = "raw"
    ema_decay: float | None = None
    trained_with: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    steps: int | None = None
    device: str | None = None
    data: str | None = None
    seconds: float | None = None
    settings: str | None = None
    api_options: dict[str, Any] = field(default_factory=dict)
    grid: bytes | None = None
    grid_caption: str = "The run's last sample grid."
    evaluations: list[str] = field(default_factory=list)
    #: The latest ``genzoo eval`` result of the exported weights (copied as ``eval.json``).
    evaluation: Evaluation | None = None
    notes: list[str] = field(default_factory=list)


def save_pretrained(model: Any, folder: str | os.PathLike[str], *, force: bool = False,
                    license: str | None = None, repo_id: str | None = None,
                    grid: int = 64) -> Path:
    """Write ``model`` as a model folder (``config.json``, ``model.safetensors``,
    ``README.md`` and a grid of samples, ``samples.png``), which :func:`from_pretrained` loads
    in any process.

    The model's current weights are written (for a run's weight EMA, export its checkpoint
    with :func:`export`). The folder is written beside ``folder`` and moved in place when
    complete.

    Args:
        model: A model built by :func:`genzoo.build` (or loaded).
        folder: The folder to write: a new or empty one, or one a previous export wrote.
        force: Also write into a folder that holds other files (files of the same names are
            replaced, the others kept).
        license: The licence of the weights, as a Hub licence id (``"mit"``, ``"cc-by-4.0"``...)
            for the card; default ``"unknown"``.
        repo_id: The id it will be loaded by (``user/name``), for the card's examples; default:
            a placeholder, which :func:`push_to_hub` fills in.
        grid: How many samples the card's grid shows (drawn with seed 0 in eval mode; the
            model's training mode is restored); 0 for none.

    Returns:
        The folder.

    Raises:
        OutputExistsError: ``folder`` is a file, or holds other files and ``force`` is not set.
        PluginError: the model was not built by name, so no plugin can rebuild it.
    """
    known = _Known()
    if grid:
        known.grid = _sample_grid(model, grid)
        known.grid_caption = f"{grid} samples drawn with seed 0 when the folder was written."
    return _write_folder(model, folder, known, inputs=(), force=force, license=license,
                         repo_id=repo_id)


def _sample_grid(model: Any, count: int) -> bytes:
    """A PNG of ``count`` samples of ``model`` (seed 0), as :func:`genzoo.runner` draws grids."""
    import tempfile

    from .runner.outputs import save_sample_grid

    with tempfile.TemporaryDirectory(prefix="genzoo-grid-") as scratch:
        path = Path(scratch) / GRID_FILE
        save_sample_grid(model, path, count, seed=0)
        return path.read_bytes()


def export(source: str | os.PathLike[str], folder: str | os.PathLike[str], *,
           weights: Weights = "auto", force: bool = False, license: str | None = None,
           repo_id: str | None = None) -> Path:
    """Export a run (its folder, or a checkpoint file) as a model folder.

    The card gets what the run folder knows: the data and the ``train.toml`` it trained with
    (paths of the training machine left out), its training time, the ``genzoo eval`` results
    of the checkpoint with their intervals and protocol card (also as the Hub's
    ``model-index`` metadata), bits/dim where measured, and the last sample grid (copied as
    ``samples.png``). The latest ``genzoo eval`` result of the exported weights is copied as
    ``eval.json``.

    Args:
        source: A run folder (its ``checkpoints/last.pt`` is exported) or a checkpoint file.
        folder: The folder to write: a new or empty one, or one a previous export wrote. It
            may not be, or hold, ``source``.
        weights: ``"auto"``: the weight EMA where the run kept one, else the trained weights;
            ``"ema"`` or ``"raw"`` to choose.
        force: Also write into a folder that holds other files (files of the same names are
            replaced, the others kept).
        license: The licence of the weights for the card, as a Hub licence id; default
            ``"unknown"``.
        repo_id: The id it will be loaded by (``user/name``, or ``pretrained:NAME`` for a
            folder a plugin ships), for the card's examples; default: a placeholder, which
            :func:`push_to_hub` fills in.

    Returns:
        The folder.

    Raises:
        CheckpointError: ``source`` is neither a run folder nor a readable checkpoint, or
            ``weights="ema"`` and the run kept no EMA.
        OutputExistsError: ``folder`` is or holds ``source``, is a file, or holds other files
            and ``force`` is not set.
    """
    check_weights_choice(weights)
    checkpoint, run = _export_source(checkpoint_path(source, "export()"))
    payload = read_checkpoint(checkpoint)
    model, kind = model_from_payload(payload, checkpoint, weights=weights)
    known = _known_from_run(payload, checkpoint, run, kind)
    inputs = (checkpoint,) if run is None else (checkpoint, run)
    return _write_folder(model, folder, known, inputs=inputs, force=force, license=license,
                         repo_id=repo_id)


def _export_source(source: Path) -> tuple[Path, Path | None]:
    """The checkpoint to export from ``source``, and its run folder when it has one."""
    if source.is_dir():
        if (source / CONFIG_FILE).is_file() and not (source / LAST_CHECKPOINT).is_file():
            raise CheckpointError(f"{source} is a model folder already; copy or push it as it is")
        if not (source / LAST_CHECKPOINT).is_file():
            raise CheckpointError(f"{source} is not a run folder (it has no {LAST_CHECKPOINT}); "
                                  "give a run folder or a checkpoint file")
        return source / LAST_CHECKPOINT, source
    if not source.is_file():
        raise CheckpointError(f"no checkpoint file or run folder at {source}")
    run = source.parent.parent
    is_run = source.parent.name == LAST_CHECKPOINT.parent.name and any(
        (run / name).is_file() for name in ("run.json", "metrics.jsonl"))
    return source, run if is_run else None


def _write_folder(model: Any, folder: str | os.PathLike[str], known: _Known, *,
                  inputs: tuple[Path, ...], force: bool, license: str | None,
                  repo_id: str | None) -> Path:
    from safetensors.torch import save_model

    from .build import registry_name_of

    name = registry_name_of(model)
    if repo_id is not None and not (is_repo_id(repo_id) or is_pretrained_name(repo_id)):
        raise ConfigError(f"{repo_id!r} is not a Hub repository id (user/name) or a "
                          "pretrained:NAME; name the id the folder will be loaded by")
    target = _check_target(output_path(folder, "the model folder"), inputs, force)
    config = _folder_config(model, name, known)
    card = _card(model, name, config, known, license, repo_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.export"
    staging.mkdir()  # with the permissions a new folder gets: it becomes the folder
    try:
        save_model(model, str(staging / WEIGHTS_FILE), force_contiguous=True,
                   metadata={"format": "pt", "genzoo_model": name, "genzoo_weights": known.weights})
        if known.grid is not None:
            (staging / GRID_FILE).write_bytes(known.grid)
        if known.evaluation is not None:
            (staging / EVAL_FILE).write_text(_portable_evaluation(known.evaluation.source),
                                             encoding="utf-8")
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        shutil.copymode(staging / CARD_FILE, staging / WEIGHTS_FILE)  # not safetensors' 0600
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        _put_in_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _portable_evaluation(source: Path) -> str:
    """The ``genzoo eval`` result at ``source`` as a folder ships it: the checkpoint it scored
    named by its file name, not by a path of the training machine (on any system: a Windows
    path's separators count too)."""
    result = json.loads(source.read_text(encoding="utf-8"))
    if isinstance(result.get("checkpoint"), str):
        result["checkpoint"] = PureWindowsPath(result["checkpoint"]).name
    return json.dumps(result, indent=2) + "\n"


def _check_target(target: Path, inputs: tuple[Path, ...], force: bool) -> Path:
    """Refuse a folder that is, or holds, an input; a file; or (unless ``force``) a non-empty
    folder that a previous export did not write."""
    real = target.resolve()
    for source in inputs:
        place = source.resolve()
        if place == real or place.is_relative_to(real):
            raise OutputExistsError(f"the model folder {target} would hold the input {source}; "
                                    "export into another folder")
        if (source.is_dir() and real.is_relative_to(place)
                and real.relative_to(place).parts[0] in RUN_FOLDERS):
            raise OutputExistsError(f"the model folder {target} is inside the run's own folders "
                                    f"of {source}; export into another folder")
    if os.path.lexists(target) and not target.is_dir():
        raise OutputExistsError(f"the model folder {target} is a file; name a folder")
    if force or not target.is_dir() or not any(target.iterdir()):
        return target
    try:
        read_folder_config(target)
    except CheckpointError:
        raise OutputExistsError(
            f"{target} holds files and is not a genzoo model folder, so exporting into it would "
            "mix them; name a new or empty folder, or pass --force (force=True) to write into it "
            f"anyway (its {', '.join(_FOLDER_FILES)} are replaced, the rest kept)") from None
    return target


def _put_in_place(staging: Path, target: Path) -> None:
    """Move the files written in ``staging`` into ``target``: the whole folder in one rename
    when ``target`` is new or empty, else file by file (each replaced in one step, the config
    last), removing files of a previous export that this one does not have."""
    if not target.is_dir() or not any(target.iterdir()):
        with contextlib.suppress(FileNotFoundError):
            target.rmdir()
        os.replace(staging, target)
        return
    for name in _FOLDER_FILES:
        if (staging / name).is_file():
            os.replace(staging / name, target / name)
        elif name in (GRID_FILE, EVAL_FILE) and os.path.lexists(target / name):
            (target / name).unlink()


def _folder_config(model: Any, name: str, known: _Known) -> dict[str, Any]:
    from .data.named_sets import is_dataset_name
    from .sampling import sampling_fields

    config = _plain(model.config_dict())
    config_object = getattr(model, "config", None)
    record: dict[str, Any] = {
        "format": FOLDER_FORMAT,
        "format_version": FOLDER_FORMAT_VERSION,
        "model": name,
        "image_shape": config.get("image_shape"),
        "config": config,
        "sampling_options": {key: config[key] for key in sorted(sampling_fields(config_object))},
        "weights": known.weights,
        "versions": versions(name),
    }
    if known.ema_decay is not None:
        record["ema_decay"] = known.ema_decay
    if known.data is not None and is_dataset_name(known.data):  # not a folder's name
        record["data"] = known.data
    trained = {"epochs": known.epochs, "steps": known.steps}
    if any(v is not None for v in trained.values()):
        record["trained"] = trained
    return record


def _plain(value: Any) -> Any:
    """``value`` as plain JSON: tuples as lists, non-finite floats as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# -- what a run folder knows --------------------------------------------------------------------

def _known_from_run(payload: dict[str, Any], checkpoint: Path, run: Path | None,
                    kind: Literal["ema", "raw"]) -> _Known:
    ema = payload.get("ema") or {}
    options = payload.get("run") if isinstance(payload.get("run"), dict) else {}
    known = _Known(weights=kind, ema_decay=ema.get("decay") if kind == "ema" else None,
                   trained_with=dict(payload.get("versions") or {}), epochs=payload.get("epoch"),
                   steps=payload.get("step"), device=options.get("device"))
    if run is None:
        return known
    from .report.collect import grid_image, read_run

    record = read_run(run)
    known.seconds = sum(float(line.get("seconds", 0)) for line in record.epochs) or None
    if record.settings is not None:
        known.settings, known.data = _portable_settings(record.settings)
    else:
        known.api_options = {k: v for k, v in options.items() if k not in _MACHINE_SETTINGS}
    grids = record.grids_of("samples")
    known.grid = grid_image(grids[-1]) if grids else None
    measured = [line for line in record.epochs if "test_bits_per_dim" in line]
    if measured:
        last = measured[-1]
        known.notes.append(
            f"bits/dim on held-out test images during training (epoch {last.get('epoch')}): "
            f"{_number(last['test_bits_per_dim'])}"
            + (f" ± {_number(last['test_bits_per_dim_stderr'])}"
               if "test_bits_per_dim_stderr" in last else "")
            + (" (exact)" if last.get("test_bits_per_dim_exact") == 1 else " (a bound)"))
    evaluated = "ema" if payload.get("ema") else "raw"  # genzoo eval loads with weights="auto"
    for evaluation in record.evaluations:
        if not _evaluates(evaluation, checkpoint, payload["model"]):
            continue
        if kind != evaluated:
            known.notes.append(f"{evaluation.source.name} in the run evaluated its "
                               f"{'EMA' if evaluated == 'ema' else 'trained'} weights, not the "
                               "ones exported here, so it is not shown")
            continue
        known.evaluations.append(_evaluation_text(evaluation))
        if known.evaluation is None or (evaluation.source.stat().st_mtime
                                        >= known.evaluation.source.stat().st_mtime):
            known.evaluation = evaluation
    return known


def _portable_settings(text: str) -> tuple[str, str | None]:
    """``train.toml`` without the paths of the training machine, and its data (a named data
    set, or a folder's name)."""
    from .data.named_sets import is_dataset_name

    try:
        data = tomllib.loads(text).get("data")
    except tomllib.TOMLDecodeError:
        data = None
    lines = []
    for line in text.splitlines():
        key = line.partition("=")[0].strip()
        if key in _MACHINE_SETTINGS:
            continue
        if key == "data" and isinstance(data, str) and not is_dataset_name(data):
            line = f"data = {json.dumps(Path(data).name)}  # a folder of images on the training machine"
        lines.append(line)
    if isinstance(data, str) and not is_dataset_name(data):
        data = Path(data).name
    return "\n".join(lines).strip() + "\n", data if isinstance(data, str) else None


def _evaluates(evaluation: Evaluation, checkpoint: Path, model: str) -> bool:
    """Whether ``evaluation`` (a ``genzoo eval`` result in the run) is of ``checkpoint``."""
    if evaluation.details.get("model", model) != model:
        return False
    named = evaluation.details.get("checkpoint")
    if named is None:
        return True
    named_path = Path(named)
    if named_path.is_absolute() or named_path.exists():
        return named_path.resolve() == checkpoint.resolve()
    return named_path.name == checkpoint.name


def _evaluation_text(evaluation: Evaluation) -> str:
    """An evaluation as markdown: a table of the numbers with their intervals and floors, the
    bits/dim, and the protocol card."""
    from .report.collect import EVAL_METRICS

    details = evaluation.details
    level = details.get("card.bootstrap.level", "0.95")
    try:
        level_text = f"{float(level):.0%}"
    except ValueError:
        level_text = level
    about = ", ".join(f"{label} {details[key]}" for key, label in (
        ("card.data.name", "data"), ("card.n", "samples"), ("card.samples.seed", "seed"),
        ("card.features.kind", "features")) if key in details)
    lines = [f"`genzoo eval` ({about}); each number with its {level_text} bootstrap interval, "
             "beside the real-data floor (the same metric for as many real images of the "
             "data's other split):", "",
             f"| metric | value | {level_text} interval | real-data floor |", "|---|---|---|---|"]
    for key, (value, low, high, floor) in evaluation.values.items():
        interval = f"[{_number(low)}, {_number(high)}]" if low is not None else "n/a"
        lines.append(f"| {EVAL_METRICS.get(key, key)} | {_number(value)} | {interval} | "
                     f"{_number(floor) if floor is not None else 'n/a'} |")
    bits = _bits_per_dim(evaluation.source)
    if bits:
        lines += ["", bits]
    card = [f"- {key.removeprefix('card.')}: {value}" for key, value in details.items()
            if key.startswith("card.")]
    if card:
        lines += ["", "<details><summary>Protocol card: everything that changes these numbers"
                  "</summary>", "", *card, "", "</details>"]
    return "\n".join(lines)


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in the regular file ``path``; ``{}`` where there is none or it cannot be
    read."""
    try:
        record = json.loads(read_regular_file(path, limit=_CONFIG_LIMIT))
    except (OSError, UnsafeFileError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def folder_summary(folder: Path) -> dict[str, Any]:
    """What ``genzoo list --pretrained`` shows of a model folder: its ``model``, its size in
    ``megabytes``, and from its ``eval.json`` the ``fid`` and its real-data floor
    (``floor_fid``), ``precision``, ``recall`` and ``bits_per_dim``; ``None`` for what the
    folder does not hold."""
    def score(record: dict[str, Any], part: str, key: str) -> float | None:
        value = (record.get(part) or {}).get(key)
        value = value.get("value") if isinstance(value, dict) else value
        return float(value) if isinstance(value, (int, float)) else None

    config, result = _read_json(folder / CONFIG_FILE), _read_json(folder / EVAL_FILE)
    bits = result.get("bits_per_dim")
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0
    return {"model": config.get("model"), "megabytes": size / 2**20,
            "fid": score(result, "scores", "fid"), "floor_fid": score(result, "floor", "fid"),
            "precision": score(result, "scores", "precision"),
            "recall": score(result, "scores", "recall"),
            "bits_per_dim": bits.get("bits_per_dim") if isinstance(bits, dict) else None}


def _bits_per_dim(source: Path) -> str | None:
    """The bits/dim a ``genzoo eval`` result holds, as a sentence."""
    bits = _read_json(source).get("bits_per_dim")
    if not isinstance(bits, dict) or "bits_per_dim" not in bits:
        return None
    where = " ".join(str(bits[k]) for k in ("dataset", "split") if bits.get(k))
    return (f"bits/dim ↓: {_number(bits['bits_per_dim'])} ± {_number(bits.get('stderr'))} "
            f"({bits.get('kind', '?')}) on {bits.get('n', '?')} {where} images, uniform "
            "dequantization of 8-bit pixels").replace("  ", " ")


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}"


# -- the model card ---------------------------------------------------------------------------

#: What a card says where the id it will be loaded by belongs, until :func:`push_to_hub` (or
#: ``repo_id=``) names it.
_REPO_PLACEHOLDER = "REPO"


def _card(model: Any, name: str, config: dict[str, Any], known: _Known, license: str | None,
          repo_id: str | None = None) -> str:
    """``README.md``: the Hub's YAML metadata, then what is known of the model."""
    from .plugins import registry

    info = registry().get(name) if name in registry() else None
    hub_data = _HUB_DATASETS.get((known.data or "").partition(":")[0])
    classes = int(config["config"].get("num_classes") or 0)
    tags = ["genzoo", name, "image-generation",
            "class-conditional" if classes else "unconditional-image-generation"]
    meta = [("library_name", "genzoo"), ("license", license or "unknown"), ("tags", tags),
            ("pipeline_tag", "unconditional-image-generation")]
    if hub_data:
        meta.append(("datasets", [hub_data]))
    if known.evaluation is not None:
        meta.append(("model-index", _model_index(name, known, hub_data)))
    shape = "×".join(str(n) for n in config["image_shape"] or ())
    summary = f" ({info.summary})" if info and info.summary else ""
    written = config["versions"]
    plugin = (f"the plugin distribution {written['plugin']} {written.get('plugin_version') or ''}"
              .rstrip() if written.get("plugin") else "a plugin registered at run time")
    title = f"{name} trained on {known.data}" if known.data else f"{name}"
    weights = ("the exponential moving average of the trained weights"
               + (f" (decay {known.ema_decay})" if known.ema_decay is not None else "")
               if known.weights == "ema" else "the trained weights")
    shipped = is_pretrained_name(repo_id)
    hub_extra = "genzoo" if shipped else '"genzoo[hub]"'
    install = hub_extra if written.get("plugin") in (None, "genzoo") else \
        f'{hub_extra} {written["plugin"]}'
    cli_id = repo_id or _REPO_PLACEHOLDER
    shown_id = json.dumps(repo_id) if repo_id else _REPO_PLACEHOLDER
    lines = ["---", *_yaml(meta), "---", "", f"# {title} (genzoo)", "",
             f"A `{name}` model{summary} from {plugin}, for genzoo {written['genzoo']}: it makes "
             f"{shape} images{f' of {classes} classes' if classes else ''}. The folder holds "
             f"{weights} as safetensors, and its config as JSON: loading it runs no code from it.",
             "", "## Use", "", "```sh", f"pip install {install}", "```", "", "```python",
             "import genzoo", "", f"model = genzoo.from_pretrained({shown_id})"
             + ("" if repo_id else "  # this repository's id (user/name), or this folder"),
             "images = model.sample(16, seed=0)   "
             f"# 16×{shape} floats in [0, 1]", "```", "",
             f"or `genzoo sample {cli_id} -n 64 -o samples.png`; `genzoo info {cli_id}` shows the "
             "config. " + ("It ships with the plugin: no network is needed." if shipped else
                           "Pin a commit with `revision=` (`--revision`) to keep getting these "
                           "weights."), ""]
    if known.grid is not None:
        lines += ["## Samples", "", f"![Samples of {name}]({GRID_FILE})", "",
                  known.grid_caption, ""]
    lines += _training_section(known)
    if known.evaluations or known.notes:
        lines += ["## Evaluation", ""]
        for text in known.evaluations:
            lines += [text, ""]
        for note in known.notes:
            lines += [f"- {note}"]
        if known.notes:
            lines.append("")
    elif known.settings is not None or known.api_options:
        lines += ["## Evaluation", "", "Not evaluated: the run folder holds no `genzoo eval` "
                  "result of this checkpoint.", ""]
    options = config["sampling_options"]
    example = (f" (they may be changed when loading: `genzoo.from_pretrained({shown_id}, "
               f"{next(iter(options))}=...)`)" if options else "")
    lines += ["## Config", "", "```toml", *(f"{key} = {json.dumps(value)}"
                                          for key, value in config["config"].items()), "```", "",
              f"Sampling options{example}: "
              + (", ".join(f"`{key}`" for key in options) or "none") + ".",
              "", "## Versions", "",
              f"- exported with genzoo {written['genzoo']}, torch {written['torch']}, {plugin}; "
              f"model folder format {FOLDER_FORMAT_VERSION}"]
    trained = known.trained_with
    if trained:
        lines.append(f"- trained with genzoo {trained.get('genzoo')}, torch {trained.get('torch')}"
                     + (f", {trained['plugin']} {trained.get('plugin_version') or ''}".rstrip()
                        if trained.get("plugin") else ""))
    return "\n".join(lines) + "\n"


def _model_index(name: str, known: _Known, hub_data: str | None) -> list[dict[str, Any]]:
    """The Hub's ``model-index`` metadata: the latest evaluation's numbers, so that the Hub
    shows them on the model's page."""
    from .report.collect import EVAL_METRICS

    evaluation = known.evaluation
    assert evaluation is not None
    data = known.data or evaluation.details.get("card.data.name", "images")
    dataset: dict[str, Any] = {"name": str(data), "type": hub_data or str(data)}
    words = evaluation.details.get("card.data.reference_split", "").split()
    if len(words) >= 2 and words[-1] == "split":  # "mnist test split"
        dataset["split"] = words[-2]
    metrics = [{"type": key, "name": EVAL_METRICS.get(key, key).rstrip(" ↑↓"), "value": value}
               for key, (value, *_rest) in evaluation.values.items() if math.isfinite(value)]
    return [{"name": f"{name} ({data})", "results": [{
        "task": {"type": "unconditional-image-generation", "name": "Image generation"},
        "dataset": dataset, "metrics": metrics}]}]


def _training_section(known: _Known) -> list[str]:
    from ._words import plural
    from .report.page import _duration as duration

    facts = []
    if known.data:
        facts.append(f"data: {known.data}")
    if known.epochs is not None and known.steps is not None:
        facts.append(f"{plural(known.epochs, 'epoch')}, {plural(known.steps, 'step')}")
    if known.seconds:
        took = duration(known.seconds) if known.seconds >= 1 else f"{known.seconds:.2f} s"
        facts.append(f"training time: {took}"
                     + (f" on {known.device}" if known.device and known.device != "auto" else ""))
    if not facts and known.settings is None and not known.api_options:
        return []
    lines = ["## Training", "", *[f"- {fact}" for fact in facts], ""]
    if known.settings is not None:
        lines += ["Trained with `genzoo train --config train.toml`, where `train.toml` is (paths "
                  "of the training machine left out):", "", "```toml", known.settings.rstrip(),
                  "```", ""]
    elif known.api_options:
        lines += ["Trained with `fit` from Python, with these run options:", "", "```json",
                  json.dumps(_plain(known.api_options), indent=2), "```", ""]
    return lines


def _yaml(entries: list[tuple[str, Any]]) -> list[str]:
    """YAML lines for ``entries`` (strings quoted as JSON, which YAML reads as written)."""
    lines = []
    for key, value in entries:
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")  # YAML reads JSON
        elif isinstance(value, list):
            lines.append(f"{key}:")
            lines += [f"- {json.dumps(item)}" for item in value]
        else:
            lines.append(f"{key}: {json.dumps(value)}")
    return lines


# -- publishing -----------------------------------------------------------------------------------

def push_to_hub(folder: str | os.PathLike[str], repo_id: str, *, private: bool = False,
                token: str | None = None, commit_message: str | None = None) -> str:
    """Upload a model folder to the Hugging Face Hub as the model repository ``repo_id``.

    The repository is created when it does not exist (``create_repo``), then the folder is
    uploaded in one commit (``upload_folder``; hidden files are left out).

    Args:
        folder: A folder :func:`export` or :func:`save_pretrained` wrote.
        repo_id: ``user/name`` (or ``organisation/name``).
        private: Create the repository private (an existing one keeps its visibility).
        token: A Hugging Face token with write access (default: the one huggingface_hub
            keeps, from ``hf auth login`` or ``HF_TOKEN``).
        commit_message: The commit's message (default: says what was exported).

    Returns:
        The URL of the commit.

    Raises:
        CheckpointError: ``folder`` is not a genzoo model folder.
        ConfigError: ``repo_id`` is not ``user/name``.
        HubError: no token, ``HF_HUB_OFFLINE`` is set, or the Hub refuses or cannot be reached.
        MissingExtraError: huggingface_hub is not installed (``pip install "genzoo[hub]"``).
    """
    from ._version import __version__
    from .extras import require

    hub = require("huggingface_hub", "hub", "genzoo push")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise CheckpointError(f"no model folder at {path}")
    config = read_folder_config(path)
    _weights_metadata(path / WEIGHTS_FILE, str(path))
    if not is_repo_id(repo_id):
        raise ConfigError(f"{repo_id!r} is not a Hub repository id; write it user/name")
    from huggingface_hub import constants as hub_constants
    from huggingface_hub import errors as hub_errors

    if hub_constants.HF_HUB_OFFLINE:
        raise HubError("HF_HUB_OFFLINE is set, so nothing can be pushed; unset it to push")
    token = token or hub.get_token()
    if not token:
        raise HubError("no Hugging Face token: log in with `hf auth login` (huggingface_hub keeps "
                       "the token), or set HF_TOKEN")
    api = hub.HfApi(token=token, library_name="genzoo", library_version=__version__)
    message = commit_message or (f"Upload {config['model']} ({config['weights']} weights), "
                                 f"exported by genzoo {config['versions'].get('genzoo')}")
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        with _card_naming(path, repo_id) as upload:
            commit = api.upload_folder(folder_path=str(upload), repo_id=repo_id, repo_type="model",
                                       commit_message=message, ignore_patterns=[".*", "**/.*"])
    except hub_errors.HfHubHTTPError as err:
        raise HubError(f"the Hugging Face Hub refused to push to {repo_id}: "
                       f"{first_line(err)}") from err
    except (OSError, ValueError) as err:  # no connection (httpx's errors are OSErrors), a bad card
        raise HubError(f"cannot push to {repo_id}: {type(err).__name__}: {first_line(err)}") from err
    except Exception as err:  # noqa: BLE001 - the transport's own errors (a timeout, a protocol error)
        if type(err).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore", "httpcore2"):
            raise
        raise HubError(f"cannot reach the Hugging Face Hub to push to {repo_id}: "
                       f"{type(err).__name__}: {first_line(err)}") from err
    return str(commit.commit_url if hasattr(commit, "commit_url") else commit)


@contextlib.contextmanager
def _card_naming(folder: Path, repo_id: str) -> Iterator[Path]:
    """``folder`` as it is uploaded: where its card still has the placeholder for the id it is
    loaded by, a copy whose card names ``repo_id`` (the folder itself is left as it is)."""
    card = folder / CARD_FILE
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    named = text.replace(f"from_pretrained({_REPO_PLACEHOLDER}", f"from_pretrained({json.dumps(repo_id)}")
    named = re.sub(rf"(`genzoo \w+ ){_REPO_PLACEHOLDER}\b", rf"\g<1>{repo_id}", named)
    named = named.replace("  # this repository's id (user/name), or this folder", "")
    if named == text:
        yield folder
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="genzoo-push-") as scratch:
        upload = Path(scratch) / folder.name
        shutil.copytree(folder, upload, ignore=shutil.ignore_patterns(".*"))
        (upload / CARD_FILE).write_text(named, encoding="utf-8")
        yield upload
