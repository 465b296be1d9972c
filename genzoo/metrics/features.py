"""Feature spaces: a feature network with the reference images' features, loaded from the cache,
or trained and cached.

Every score compares images in the features of one network:

* ``"classifier"``: a small domain classifier trained on the data's labels (named sets, and
  folders with one sub-folder per class); two epochs on one CPU thread, about 20 s for MNIST;
* ``"contrastive"``: for data without labels, a network genzoo trains on the images alone
  (:mod:`genzoo.metrics.networks`; about a minute on one CPU core at 32×32);
* ``"inception"``, ``"dinov2-vit-s-14"``, ``"clip-vit-b-32"``, ``"vgg16"``, ...: a pretrained
  network (through torch-fidelity) when its weights are on disk (:mod:`genzoo.metrics.pretrained`).

``"auto"`` picks the classifier where there are labels, else the contrastive network.
:class:`FeatureSpace` holds the network and what evaluations reuse: the reference images'
features, their kernel sums for KID, and the real-data floors already computed;
:func:`feature_space` loads one from the cache, or trains and caches it.

Each is cached by the data's name and fingerprint: a cache file is a ``torch.save`` dict of
tensors and plain values only (:meth:`FeatureSpace.payload`, read back with
``weights_only=True``), written atomically. Its name holds the data's name and fingerprint, the
kind of network and, for non-default training settings, a hash of them
(:func:`feature_cache_path`). A file that cannot be used is reported with a
:class:`~genzoo.metrics.FeatureCacheWarning`, and the caller trains again.

Example:
    >>> from genzoo.metrics import domain_classifier, feature_space
    >>> clf = domain_classifier("mnist")  # doctest: +SKIP
    >>> clf.test_accuracy  # doctest: +SKIP
    0.988
    >>> space = feature_space("./faces")  # a folder without sub-folders: no labels  # doctest: +SKIP
    >>> space.kind, space.weights_sha256[:12]  # doctest: +SKIP
    ('contrastive', '3f1c...')
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._version import __version__
from ..checkpoint import write_checkpoint
from ..files import cache_folder, probe_writable
from .errors import FeatureCacheWarning, MetricsError
from .eval_data import EvalData, load_eval_data, named_data, named_key
from .images import RESIZE_FILTER, blockwise, check_images, feature_input_size, prepare_images
from .networks import (ClassifierNet, ClassifierSettings, ContrastiveNet, ContrastiveSettings, one_cpu_thread,
                       train_classifier_net, train_contrastive_net)
from .pretrained import PRETRAINED, pretrained_network
from .scoring import FrechetReference, kernel_row_sums

__all__ = ["FeatureSpace", "FEATURE_KINDS", "feature_space", "domain_classifier", "resolve_kind",
           "extract_features", "weights_sha256", "CACHE_FORMAT", "CACHE_VERSION", "feature_cache_dir",
           "feature_cache_path", "read_cache", "write_cache", "warn_unusable", "cache_write_problem",
           "keep_or_warn", "warn_unwritable"]

#: The kinds of feature network; ``"auto"`` picks ``"classifier"`` for labelled data, else
#: ``"contrastive"``; the rest are the pretrained networks of :data:`~genzoo.metrics.pretrained.PRETRAINED`.
FEATURE_KINDS = ("auto", "classifier", "contrastive", *PRETRAINED)
#: What a cache file says it is (its ``format``).
CACHE_FORMAT = "genzoo-feature-space"
#: Bumped when the networks, their training or the cached contents change; part of the file name.
CACHE_VERSION = 2


class FeatureSpace:
    """A feature network with the reference data's features.

    Build one with :func:`~genzoo.metrics.feature_space` (or :func:`~genzoo.metrics.domain_classifier`),
    which trains or loads it from the cache.

    Args:
        net: The network: ``input_shape``, ``feature_dim`` and ``features_and_logits(images)``.
        kind: ``"classifier"``, ``"contrastive"`` or a pretrained network's name (``"inception"``, ...).
        data: The data's part of the protocol card (see :meth:`EvalData.card
            <genzoo.metrics.eval_data.EvalData.card>`).
        reference: ``M×D`` float32 features of the reference images, in order.
        training: How the network was trained (settings, image count, seconds).
        test_accuracy: A classifier's accuracy on the reference images, else ``None``.
        kernel_sums: The KID kernel row sums of the reference divided by :attr:`kid_scale`
            (computed when ``None``).
        weights_sha256: The hash of the network's weights (computed when ``None``).
        path: Its cache file, or ``None``.
        floors: Real-data floors computed so far, by protocol key.

    Attributes:
        net: The network (in eval mode).
        kind: See above.
        data: See above.
        reference: See above.
        kid_scale: The root-mean-square of the reference features: KID compares features divided
            by it, so its values do not depend on the network's arbitrary scale.
        kernel_sums: See above.
        training: See above.
        test_accuracy: See above.
        path: See above.
        floors: See above.
    """

    def __init__(self, net: nn.Module, *, kind: str, data: Mapping[str, Any], reference: torch.Tensor,
                 training: Mapping[str, Any], test_accuracy: float | None = None,
                 kernel_sums: torch.Tensor | None = None, weights_sha256: str | None = None,
                 path: Path | None = None, floors: Mapping[str, Any] | None = None) -> None:
        self.net = net.eval()
        self.kind = kind
        self.data = dict(data)
        self.reference = reference.detach().to("cpu", torch.float32)
        self.kid_scale = float(self.reference.double().square().mean().sqrt())
        scaled = self.reference / self.kid_scale
        self.kernel_sums = (kernel_row_sums(scaled, scaled, skip_diagonal=True)[0]
                            if kernel_sums is None else kernel_sums)
        self.training = dict(training)
        self.test_accuracy = None if test_accuracy is None else float(test_accuracy)
        self.weights_sha256 = weights_sha256 or _state_sha256(net)
        self.path = path
        self.floors: dict[str, Any] = dict(floors or {})
        self._frechet: FrechetReference | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` the network reads; images are resized to it."""
        return tuple(self.net.input_shape)  # type: ignore[return-value]

    @property
    def channels(self) -> int:
        """The reference data's channel count; images must have as many."""
        return int(self.data["image_shape"][0])

    @property
    def num_classes(self) -> int:
        """The classifier's class count (0 for other kinds)."""
        return int(getattr(self.net, "num_classes", 0))

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return next(self.net.parameters()).device

    @property
    def frechet(self) -> FrechetReference:
        """FID against the reference features (built on first use)."""
        if self._frechet is None:
            self._frechet = FrechetReference(self.reference)
        return self._frechet

    def to(self, device: str | torch.device) -> FeatureSpace:
        """Move the network to ``device`` (the reference stays on the CPU); returns ``self``."""
        self.net.to(device)
        return self

    @torch.no_grad()
    def features(self, images: torch.Tensor, *,
                 batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The features (and a classifier's class probabilities) of ``images``.

        Images of any size are resized to :attr:`input_shape` (see
        :data:`~genzoo.metrics.images.RESIZE_FILTER`); the network always runs on fixed blocks,
        so ``batch_size`` (images prepared at a time) does not change the results.

        Args:
            images: ``N×C×H×W``: ``uint8``, or floats in ``[0, 1]`` (rounded to 8 bits first, as
                real images are), on any device, with the reference data's channel count.
            batch_size: Images resized and moved to the network's device at a time.

        Returns:
            ``N×D`` float32 features and ``N×K`` probabilities (``None`` without a classifier),
            on the CPU.

        Raises:
            MetricsError: the images have another channel count than the data, or values
                outside ``[0, 1]``.
        """
        check_images(images, self.channels, f"the reference data ({self.data['name']})")
        return extract_features(self.net, images, batch_size=batch_size)

    def card(self) -> dict[str, Any]:
        """The feature network's part of the protocol card."""
        return {"kind": self.kind, "weights_sha256": self.weights_sha256,
                "dim": int(self.reference.shape[1]), "input_shape": list(self.input_shape),
                "resize": RESIZE_FILTER, "training": self.training}

    def remember_floor(self, key: str, record: Mapping[str, Any]) -> None:
        """Keep a real-data floor, in memory and in the cache file."""
        self.floors[key] = dict(record)
        if self.path is not None and not keep_or_warn(self.path, self.payload()):
            self.path = None  # warned once; the floors stay in memory

    def payload(self) -> dict[str, Any]:
        """The cache file's contents: tensors and plain values only (no weights for a pretrained
        network, whose file the user keeps)."""
        net: dict[str, Any] = {"input_shape": list(self.input_shape)}
        if self.kind not in PRETRAINED:
            net |= {"num_classes": self.num_classes,
                    "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()}}
        return {
            "format": CACHE_FORMAT, "format_version": CACHE_VERSION, "kind": self.kind,
            "net": net, "data": self.data, "reference": self.reference,
            "kernel_sums": self.kernel_sums, "training": self.training,
            "test_accuracy": self.test_accuracy, "weights_sha256": self.weights_sha256,
            "floors": self.floors,
            "versions": {"genzoo": __version__, "torch": str(torch.__version__)},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], path: Path | None = None, *,
                     net: nn.Module | None = None) -> FeatureSpace:
        """Rebuild a feature space from :meth:`payload`'s dict (``net``: a pretrained network).

        Raises:
            KeyError, TypeError, ValueError, RuntimeError: the payload is incomplete or its
                weights do not fit the network.
        """
        kind, spec = str(payload["kind"]), payload["net"]
        if kind == "classifier":
            net = ClassifierNet(tuple(spec["input_shape"]), int(spec["num_classes"]))
        elif kind == "contrastive":
            net = ContrastiveNet(tuple(spec["input_shape"]))
        elif net is None:
            raise ValueError(f"a {kind} feature space needs its network")
        if kind in ("classifier", "contrastive"):
            net.load_state_dict(spec["state_dict"])
        reference = payload["reference"]
        if reference.dim() != 2 or reference.shape[1] != net.feature_dim:
            raise ValueError(f"reference features of shape {tuple(reference.shape)}")
        return cls(net, kind=kind, data=payload["data"], reference=reference,
                   training=payload["training"], test_accuracy=payload["test_accuracy"],
                   kernel_sums=payload["kernel_sums"], weights_sha256=payload["weights_sha256"],
                   path=path, floors=payload["floors"])

    def __repr__(self) -> str:
        return (f"FeatureSpace(kind={self.kind!r}, data={self.data['name']!r}, "
                f"input_shape={self.input_shape}, weights_sha256={self.weights_sha256[:12]!r}, "
                f"path={str(self.path) if self.path else None!r})")


def feature_space(data: str | os.PathLike[str] | EvalData = "mnist", features: str = "auto", *,
                  root: str | os.PathLike[str] | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, retrain: bool = False,
                  download: bool = True, device: str | torch.device | None = None,
                  epochs: int = 2, steps: int = 600, max_train_images: int | None = None,
                  weights: str | os.PathLike[str] | None = None,
                  log: Callable[[str], None] | None = None) -> FeatureSpace:
    """The feature space of some data: loaded from the cache, or trained and cached.

    Training uses the data's training half with a fixed seed on one CPU thread, then computes
    the reference images' features (and a classifier's accuracy on them), all of which the cache
    keeps.

    Args:
        data: A named data set, a folder of images (see
            :func:`~genzoo.metrics.eval_data.load_eval_data`), or data already loaded.
        features: ``"auto"``, ``"classifier"``, ``"contrastive"`` or a pretrained network's
            name (see :data:`~genzoo.metrics.pretrained.PRETRAINED`).
        root: Where named data sets live (see :func:`genzoo.data.data_root`).
        cache_dir: The cache folder (default ``$XDG_CACHE_HOME/genzoo/features``, else
            ``~/.cache/genzoo/features``).
        retrain: Train again even when a cached network exists.
        download: Download a named data set that is missing.
        device: Where to train and run the network (default: the CPU).
        epochs: The classifier's training epochs (a non-default value is cached apart).
        steps: The contrastive network's training steps (a non-default value is cached apart).
        max_train_images: Train on the first this many images only, for quick tests (cached
            apart).
        weights: A pretrained network's weights file (see
            :func:`~genzoo.metrics.pretrained.pretrained_weights_path`).
        log: Called with progress messages while training (e.g. ``print``).

    Raises:
        MetricsError: an unknown kind, a classifier asked for data without labels, a
            pretrained network without torch-fidelity or its weights, or training settings out of range.
        genzoo.data.DataError: the data cannot be found or read.
    """
    loaded = data if isinstance(data, EvalData) else None
    named = None if loaded is not None else named_data(data)  # type: ignore[arg-type]
    if loaded is None and named is None:
        loaded = load_eval_data(data, root=root, download=download)  # type: ignore[arg-type]
    labelled = loaded.labelled if loaded is not None else named[2]  # type: ignore[index]
    kind = resolve_kind(features, labelled, loaded.name if loaded is not None else named[0])  # type: ignore[index]
    key = loaded.key if loaded is not None else named_key(named)  # type: ignore[arg-type]
    device = torch.device(device) if device is not None else torch.device("cpu")
    settings: Any
    if kind == "classifier":
        settings = ClassifierSettings(epochs=epochs, max_train_images=max_train_images)
    elif kind == "contrastive":
        settings = ContrastiveSettings(steps=steps, max_train_images=max_train_images)
    else:
        if loaded is None:
            loaded = load_eval_data(data, root=root, download=download)  # type: ignore[arg-type]
        net, digest = pretrained_network(kind, loaded.image_shape[0], weights, device)
        settings = {"weights_sha256": digest}
    path = feature_cache_path(key, kind, cache_dir=cache_dir, settings=_non_default(settings))
    if not retrain:
        cached = _load_cached(path, net if kind in PRETRAINED else None)
        if cached is not None:
            return cached.to(device)
    problem = cache_write_problem(path.parent)
    if problem is not None:  # say so before the training, which is not lost: used, not kept
        warn_unwritable(path.parent, problem)
    if loaded is None:
        loaded = load_eval_data(data, root=root, download=download)  # type: ignore[arg-type]
    if kind in PRETRAINED:
        space = _reference_space(net, kind, loaded, {"weights_file": str(weights or "default")},
                                 weights_sha256=digest)
    else:
        space = _train(kind, loaded, settings, device=device, log=log)
    if problem is not None or not keep_or_warn(path, space.payload()):
        return space  # no path: its floors are not written to a cache file either
    space.path = path
    if log is not None:
        accuracy = f" (test accuracy {space.test_accuracy:.2%})" if space.test_accuracy is not None else ""
        log(f"cached the {loaded.name} {kind} feature network at {path}{accuracy}")
    return space


def domain_classifier(data: str | os.PathLike[str] | EvalData = "mnist", **kwargs: Any) -> FeatureSpace:
    """The domain classifier of labelled data: :func:`feature_space` with
    ``features="classifier"`` (same keywords).

    Raises:
        MetricsError: the data has no labels (see :func:`feature_space` for the rest).
    """
    return feature_space(data, "classifier", **kwargs)


def resolve_kind(features: str, labelled: bool, name: str) -> str:
    """The kind of feature network ``features`` asks for on the data ``name`` (``"auto"``
    resolved by whether it is ``labelled``).

    Raises:
        MetricsError: an unknown kind, or a classifier for data without labels.
    """
    if features not in FEATURE_KINDS:
        raise MetricsError(f"unknown feature network {features!r}; choose one of "
                           f"{', '.join(FEATURE_KINDS)}")
    if features == "auto":
        return "classifier" if labelled else "contrastive"
    if features == "classifier" and not labelled:
        raise MetricsError(
            f"{name} has no labels, so no classifier can be trained on it; use "
            f"features='contrastive' (or 'auto'), or give the folder one sub-folder per class"
        )
    return features


@torch.no_grad()
def extract_features(net: nn.Module, images: torch.Tensor, *,
                     batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The features (and class probabilities, for a network with logits) of checked images,
    resized to the network's input and run in fixed blocks; on the CPU."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MetricsError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = next(net.parameters()).device
    size = tuple(net.input_shape[1:])
    features, probs = [], []
    for chunk in images.split(batch_size):
        x = prepare_images(chunk.to(device), size)
        for f, logits in blockwise(net.features_and_logits, x):
            features.append(f.float().cpu())
            if logits is not None:
                probs.append(logits.float().softmax(1).cpu())
    return torch.cat(features), (torch.cat(probs) if probs else None)


def weights_sha256(path: str | Path) -> str:
    """The SHA-256 (hex) of a weights file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- the cache ----------------------------------------------------------------------------------

def feature_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder of cached feature networks.

    ``cache_dir`` when given; else ``$XDG_CACHE_HOME/genzoo/features`` when ``XDG_CACHE_HOME``
    is an absolute path; else ``~/.cache/genzoo/features``.
    """
    if cache_dir is not None:
        return Path(os.fspath(cache_dir)).expanduser()
    return cache_folder("features")


def feature_cache_path(key: str, kind: str, *, cache_dir: str | os.PathLike[str] | None = None,
                       settings: dict[str, Any] | None = None) -> Path:
    """The cache file of the ``kind`` feature network of the data ``key`` (its name and
    fingerprint): ``<dir>/<key>-<kind>-v2.pt``, with a hash of ``settings`` before ``.pt`` when
    they are not the defaults (``None``)."""
    name = f"{key}-{kind}-v{CACHE_VERSION}"
    if settings:
        name += "-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return feature_cache_dir(cache_dir) / f"{name}.pt"


def read_cache(path: Path) -> dict[str, Any] | None:
    """The cached payload at ``path``; ``None`` when there is none or it cannot be used (with a
    :class:`FeatureCacheWarning` saying why)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways; all mean "retrain"
        warn_unusable(path, f"it cannot be read ({_first_line(err)})")
        return None
    if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT:
        warn_unusable(path, "it is not a genzoo feature network")
        return None
    if payload.get("format_version") != CACHE_VERSION:
        warn_unusable(path, f"it has version {payload.get('format_version')!r}, not {CACHE_VERSION}")
        return None
    return payload


def write_cache(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (a crash leaves the previous file intact)."""
    return write_checkpoint(payload, path)


def cache_write_problem(folder: Path) -> str | None:
    """Why feature networks cannot be cached in ``folder`` (created if needed), or ``None``."""
    try:
        probe_writable(folder)
    except OSError as err:
        return f"{err.filename or folder}: {err.strerror or err}"
    return None


def keep_or_warn(path: Path, payload: dict[str, Any]) -> bool:
    """Write a cache file; when it cannot be written, warn (naming the setting that moves the
    cache) and go on: what was computed is used all the same, just not kept.

    Returns:
        Whether the file was written.
    """
    try:
        write_cache(path, payload)
    except OSError as err:
        warn_unwritable(path.parent, f"{err.filename or path}: {err.strerror or err}")
        return False
    return True


def warn_unwritable(folder: Path, reason: str) -> None:
    """Warn that feature networks cannot be cached in ``folder`` for ``reason``."""
    warnings.warn(
        f"cannot write the feature network cache {folder} ({reason}): what is computed now is "
        "used for this evaluation but not kept, so the next one trains it again; set "
        "XDG_CACHE_HOME to a writable folder (feature networks go to "
        "$XDG_CACHE_HOME/genzoo/features; cache_dir= in Python)", FeatureCacheWarning, stacklevel=3)


def warn_unusable(path: Path, reason: str) -> None:
    """Warn that the cache file at ``path`` cannot be used for ``reason`` and is retrained."""
    warnings.warn(f"the cached feature network {path} is unusable: {reason}; training it again",
                  FeatureCacheWarning, stacklevel=4)


def _train(kind: str, data: EvalData, settings: Any, *, device: torch.device,
           log: Callable[[str], None] | None) -> FeatureSpace:
    c, h, w = data.image_shape
    input_shape = (c, *feature_input_size(h, w))
    train = _at_size(data.train.images, input_shape[1:])
    count = min(len(train), settings.max_train_images or len(train))
    if log is not None:
        log(f"training the {data.name} {kind} feature network on {count} images "
            f"(once; it is then cached)...")
    with one_cpu_thread(device):
        if kind == "classifier":
            assert data.train.labels is not None
            net, seconds = train_classifier_net(train, data.train.labels, data.num_classes, settings,
                                                device=device, log=log)
        else:
            net, seconds = train_contrastive_net(train, settings, device=device, log=log)
        training = {"kind": kind, **asdict(settings), "train_images": count,
                    "seconds": round(seconds, 2), "device": str(device)}
        return _reference_space(net, kind, data, training)


def _reference_space(net: torch.nn.Module, kind: str, data: EvalData, training: dict[str, Any],
                     weights_sha256: str | None = None) -> FeatureSpace:
    """A feature space of ``net`` with the reference images' features computed."""
    started = time.perf_counter()
    reference, probs = extract_features(net, data.reference.images)
    accuracy = None
    if probs is not None and data.reference.labels is not None:
        accuracy = float((probs.argmax(1) == data.reference.labels).float().mean())
    training = {**training, "reference_seconds": round(time.perf_counter() - started, 2)}
    return FeatureSpace(net, kind=kind, data=data.card(), reference=reference, training=training,
                        test_accuracy=accuracy, weights_sha256=weights_sha256)


def _at_size(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``uint8`` images resized (when needed) as the metrics resize them, for training."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return torch.cat([prepare_images(chunk, size).mul_(255).round_().to(torch.uint8)
                      for chunk in images.split(1000)])


def _non_default(settings: Any) -> dict[str, Any] | None:
    """The settings that differ from the defaults (``None`` when none do)."""
    if isinstance(settings, dict):
        return settings
    changed = {f.name: getattr(settings, f.name) for f in fields(settings)
               if getattr(settings, f.name) != f.default}
    return changed or None


def _load_cached(path: os.PathLike[str], net: torch.nn.Module | None) -> FeatureSpace | None:
    path = Path(path)
    payload = read_cache(path)
    if payload is None:
        return None
    try:
        return FeatureSpace.from_payload(payload, path, net=net)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        warn_unusable(path, f"its contents do not fit this genzoo ({type(err).__name__}: {err})"[:300])
        return None


def _state_sha256(net: nn.Module) -> str:
    """The SHA-256 (hex) of a network's weights: names, shapes, dtypes and values, in order."""
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.hexdigest()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
