"""Getting a feature space for some data: loaded from the cache, or trained and cached.

* ``"classifier"``: a small domain classifier trained on the data's labels (named sets, and
  folders with one sub-folder per class); two epochs on one CPU thread, about 20 s for MNIST;
* ``"contrastive"``: for data without labels, a network genzoo trains on the images alone
  (:mod:`genzoo.metrics.contrastive`; about a minute on one CPU core at 32×32);
* ``"inception"``, ``"dinov2-vit-s-14"``, ``"clip-vit-b-32"``, ``"vgg16"``, ...: a pretrained
  network (through torch-fidelity) when its weights are on disk (:mod:`genzoo.metrics.pretrained`).

``"auto"`` picks the classifier where there are labels, else the contrastive network. Each is
cached by the data's name and fingerprint (see :mod:`genzoo.metrics.cache`).

Example:
    >>> from genzoo.metrics import domain_classifier, feature_space
    >>> clf = domain_classifier("mnist")  # doctest: +SKIP
    >>> clf.test_accuracy  # doctest: +SKIP
    0.988
    >>> feature_space("./faces").kind  # a folder without sub-folders: no labels  # doctest: +SKIP
    'contrastive'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

import torch

from .cache import (cache_write_problem, feature_cache_path, keep_or_warn, read_cache, warn_unusable,
                    warn_unwritable)
from .classifier_training import TrainingSettings, one_cpu_thread, train_classifier_net
from .contrastive import ContrastiveSettings, train_contrastive_net
from .errors import MetricsError
from .eval_data import EvalData, load_eval_data, named_data, named_key
from .space import FEATURE_KINDS, FeatureSpace, extract_features
from .images import feature_input_size, prepare_images
from .pretrained import PRETRAINED, pretrained_network

__all__ = ["feature_space", "domain_classifier", "resolve_kind"]


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
        settings = TrainingSettings(epochs=epochs, max_train_images=max_train_images)
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
    from pathlib import Path

    path = Path(path)
    payload = read_cache(path)
    if payload is None:
        return None
    try:
        return FeatureSpace.from_payload(payload, path, net=net)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        warn_unusable(path, f"its contents do not fit this genzoo ({type(err).__name__}: {err})"[:300])
        return None
