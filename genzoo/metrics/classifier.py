"""A small domain classifier per data set, trained once by genzoo and cached on disk.

Its 128-d penultimate activations are the features FID and precision/recall compare; its
softmax gives the classifier score. The cache also holds the real test set's features, so an
evaluation needs neither the data nor a forward pass over it again, and the real-data floors
already computed.

Example:
    >>> from genzoo.metrics import domain_classifier
    >>> clf = domain_classifier("mnist")  # doctest: +SKIP
    >>> clf.test_accuracy  # doctest: +SKIP
    0.988
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import torch

from .. import __version__
from .classifier_cache import (
    CACHE_FORMAT,
    CLASSIFIER_VERSION,
    classifier_cache_path,
    read_cache,
    warn_unusable,
    write_cache,
)
from .classifier_training import (
    TrainingSettings,
    as_float_images,
    one_cpu_thread,
    train_classifier_net,
)
from .errors import MetricsError
from .fid import feature_statistics
from .network import ClassifierNet

__all__ = ["DomainClassifier", "RealReference", "domain_classifier", "canonical_dataset"]


class RealReference(NamedTuple):
    """The real test set as the classifier sees it.

    Attributes:
        features: ``N×D`` float32 features of the test images, in file order.
        mean: Their float64 mean.
        cov: Their float64 covariance.
    """

    features: torch.Tensor
    mean: torch.Tensor
    cov: torch.Tensor


class DomainClassifier:
    """A trained classifier of one data set, with the real test set's features.

    Build one with :func:`domain_classifier`, which trains or loads it from the cache.

    Attributes:
        net: The network (in eval mode).
        dataset: The data set's name (``"mnist"``...).
        test_accuracy: Its accuracy on the real test set, in ``[0, 1]``.
        reference: The real test set's features and their statistics (on the CPU).
        training: How it was trained: settings, image count, seconds.
        path: Its cache file, or ``None``.
        floors: Real-data floors computed so far, by sample count (see
            :func:`genzoo.metrics.real_data_floor`).
    """

    def __init__(self, net: ClassifierNet, *, dataset: str, test_accuracy: float,
                 reference: RealReference, training: Mapping[str, Any], path: Path | None = None,
                 floors: Mapping[int, Mapping[str, float]] | None = None) -> None:
        self.net = net.eval()
        self.dataset = dataset
        self.test_accuracy = float(test_accuracy)
        self.reference = reference
        self.training = dict(training)
        self.path = path
        self.floors: dict[int, dict[str, float]] = {int(k): dict(v) for k, v in (floors or {}).items()}

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of the images it reads."""
        return self.net.image_shape

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return self.net.num_classes

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> DomainClassifier:
        """Move the network to ``device`` (the reference stays on the CPU); returns ``self``."""
        self.net.to(device)
        return self

    @torch.no_grad()
    def features(self, images: torch.Tensor, *, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """The features and class probabilities of ``images``, computed in batches.

        Args:
            images: ``N×C×H×W``: ``uint8``, or floats in ``[0, 1]`` (rounded to 8 bits first, as
                real images are), on any device.
            batch_size: Images per forward pass.

        Returns:
            ``N×D`` float32 features and ``N×K`` probabilities, on the classifier's device.

        Raises:
            MetricsError: the images have the wrong shape or values outside ``[0, 1]``.
        """
        check_images(images, self.image_shape, self.dataset)
        return _features_and_probs(self.net, images, batch_size)

    def remember_floor(self, n: int, values: Mapping[str, float]) -> None:
        """Keep the real-data floor for ``n`` samples, in memory and in the cache file."""
        self.floors[int(n)] = {k: float(v) for k, v in values.items()}
        if self.path is not None:
            write_cache(self.path, self.payload())

    def payload(self) -> dict[str, Any]:
        """The cache file's contents: tensors and plain values only."""
        return {
            "format": CACHE_FORMAT,
            "format_version": CLASSIFIER_VERSION,
            "dataset": self.dataset,
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "test_accuracy": self.test_accuracy,
            "reference": self.reference._asdict(),
            "training": self.training,
            "floors": {str(k): v for k, v in self.floors.items()},
            "versions": {"genzoo": __version__, "torch": str(torch.__version__)},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], path: Path | None = None) -> DomainClassifier:
        """Rebuild a classifier from :meth:`payload`'s dict.

        Raises:
            KeyError, TypeError, ValueError, RuntimeError: the payload is incomplete or its
                weights do not fit the network.
        """
        net = ClassifierNet(tuple(payload["image_shape"]), int(payload["num_classes"]))
        net.load_state_dict(payload["state_dict"])
        reference = RealReference(**payload["reference"])
        if reference.features.dim() != 2 or reference.features.shape[1] != net.feature_dim:
            raise ValueError(f"reference features of shape {tuple(reference.features.shape)}")
        floors = {int(k): v for k, v in payload.get("floors", {}).items()}
        return cls(net, dataset=str(payload["dataset"]), test_accuracy=payload["test_accuracy"],
                   reference=reference, training=payload["training"], path=path, floors=floors)

    def __repr__(self) -> str:
        return (f"DomainClassifier(dataset={self.dataset!r}, image_shape={self.image_shape}, "
                f"test_accuracy={self.test_accuracy:.4f}, path={str(self.path) if self.path else None!r})")


def domain_classifier(dataset: str = "mnist", *, root: str | os.PathLike[str] | None = None,
                      cache_dir: str | os.PathLike[str] | None = None, retrain: bool = False,
                      download: bool = True, device: str | torch.device | None = None,
                      epochs: int = 2, max_train_images: int | None = None,
                      log: Callable[[str], None] | None = None) -> DomainClassifier:
    """The classifier of a named data set: loaded from the cache, or trained and cached.

    Training uses the real training set with a fixed seed (two epochs on one CPU thread: about
    20 s for MNIST, more on a busy machine), then computes the real test set's features and
    the test accuracy, all of which the cache keeps.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"`` (see :func:`genzoo.data.dataset_names`).
        root: The data folder (see :func:`genzoo.data.data_root`); used only when training.
        cache_dir: The cache folder (default ``$XDG_CACHE_HOME/genzoo/classifiers``, else
            ``~/.cache/genzoo/classifiers``).
        retrain: Train again even when a cached classifier exists.
        download: Download the data set when training needs it and it is missing.
        device: Where to train and run it (default: the CPU).
        epochs: Training epochs (a non-default value is cached under its own name).
        max_train_images: Train on the first this many images only, for quick tests (cached
            under its own name).
        log: Called with progress messages while training (e.g. ``print``).

    Raises:
        MetricsError: the data set is not a named one.
        DataError: the data set must be trained on but cannot be found or downloaded.
    """
    name = canonical_dataset(dataset)
    settings = TrainingSettings(epochs=epochs, max_train_images=max_train_images)
    device = torch.device(device) if device is not None else torch.device("cpu")
    path = classifier_cache_path(name, cache_dir=cache_dir, epochs=epochs,
                                 max_train_images=max_train_images)
    if not retrain:
        cached = _load_cached(path)
        if cached is not None:
            return cached.to(device)
    classifier = _train(name, settings, root=root, download=download, device=device, log=log)
    classifier.path = path
    write_cache(path, classifier.payload())
    if log is not None:
        log(f"cached the {name} classifier at {path} "
            f"(test accuracy {classifier.test_accuracy:.2%})")
    return classifier


def canonical_dataset(dataset: str) -> str:
    """The canonical name of a named data set (case, ``-`` and ``_`` are ignored).

    Raises:
        MetricsError: no named data set has that name.
    """
    from ..data import dataset_names

    def key(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    names = {key(n): n for n in dataset_names()}
    found = names.get(key(dataset)) if isinstance(dataset, str) else None
    if found is None:
        raise MetricsError(
            f"genzoo's metrics need a named data set with labels to train their classifier on; "
            f"{dataset!r} is not one. Known: {', '.join(dataset_names())}"
        )
    return found


def check_images(images: Any, shape: tuple[int, int, int], dataset: str) -> None:
    """Raise :class:`MetricsError` unless ``images`` are ``N×C×H×W`` of ``shape`` in ``[0, 1]``."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise MetricsError(f"images must be a tensor N×C×H×W, got {got}")
    if tuple(images.shape[1:]) != tuple(shape):
        raise MetricsError(
            f"the images are {tuple(images.shape[1:])} (C, H, W) but the {dataset} classifier "
            f"reads {tuple(shape)}; evaluate against a data set with images of that shape"
        )
    if images.dtype != torch.uint8:
        if not images.is_floating_point():
            raise MetricsError(f"images must be uint8 or floats in [0, 1], got {images.dtype}")
        if images.numel() and (float(images.min()) < 0 or float(images.max()) > 1):
            raise MetricsError(
                f"float images must lie in [0, 1], got values in [{float(images.min()):.3g}, "
                f"{float(images.max()):.3g}]; clamp them or undo their normalisation first"
            )


def _load_cached(path: Path) -> DomainClassifier | None:
    payload = read_cache(path)
    if payload is None:
        return None
    try:
        return DomainClassifier.from_payload(payload, path)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        warn_unusable(path, f"its contents do not fit this genzoo ({type(err).__name__}: {err})"[:300])
        return None


def _train(name: str, settings: TrainingSettings, *, root: str | os.PathLike[str] | None,
           download: bool, device: torch.device,
           log: Callable[[str], None] | None) -> DomainClassifier:
    from ..data import load_images

    train = load_images(name, root=root, train=True, download=download)
    test = load_images(name, root=root, train=False, download=download)
    assert train.labels is not None and test.labels is not None
    num_classes = len(train.classes) if train.classes else int(train.labels.max()) + 1
    count = min(len(train), settings.max_train_images or len(train))
    if log is not None:
        log(f"training the {name} classifier on {count} images (once; it is then cached)...")
    with one_cpu_thread(device):
        net, seconds = train_classifier_net(train.images, train.labels, num_classes, settings,
                                            device=device, log=log)
        started = time.perf_counter()
        with torch.no_grad():
            features, probs = _features_and_probs(net, test.images, 500)
    features = features.cpu()
    training = {**asdict(settings), "train_images": count, "test_images": len(test),
                "seconds": round(seconds, 2),
                "reference_seconds": round(time.perf_counter() - started, 2),
                "device": str(device)}
    return DomainClassifier(
        net, dataset=name, test_accuracy=float((probs.argmax(1).cpu() == test.labels).float().mean()),
        reference=RealReference(features, *feature_statistics(features)), training=training)


def _features_and_probs(net: ClassifierNet, images: torch.Tensor,
                        batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    device = next(net.parameters()).device
    features, probs = [], []
    for chunk in images.split(batch_size):
        f, logits = net.features_and_logits(as_float_images(chunk.to(device)))
        features.append(f.float())
        probs.append(logits.float().softmax(1))
    return torch.cat(features), torch.cat(probs)
