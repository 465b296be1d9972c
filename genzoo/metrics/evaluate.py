"""Evaluating a model or a batch of images: FID, classifier score, precision and recall, each
beside the real-data floor (real training images scored the same way).

Example:
    >>> import genzoo
    >>> from genzoo.metrics import evaluate
    >>> metrics = evaluate(genzoo.load("runs/vae/checkpoints/last.pt"), dataset="mnist")  # doctest: +SKIP
    >>> metrics.fid, metrics.floor.fid  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

import torch

from .classifier import DomainClassifier, canonical_dataset, domain_classifier
from .errors import MetricsError
from .fid import feature_statistics, frechet_distance
from .sampling import check_model_shape, device_of, fixed_subset, map_samples
from .scores import DEFAULT_K, classifier_score, precision_recall

__all__ = ["DEFAULT_N", "METRIC_NAMES", "Scores", "Metrics", "evaluate", "real_data_floor",
           "score_features"]

#: How many samples :func:`evaluate` draws from a model by default (the test set's size).
DEFAULT_N = 10_000
#: The metrics' names, as in :class:`Scores` and in the JSON files.
METRIC_NAMES = ("fid", "classifier_score", "precision", "recall")


@dataclass(frozen=True)
class Scores:
    """The four numbers for one set of images.

    Attributes:
        fid: Fréchet distance to the real test set in the classifier's features (lower is better).
        classifier_score: ``exp(E KL(p(y|x) || p(y)))``, from 1 to the number of classes
            (higher is better).
        precision: Share of the images on the real images' k-NN manifold (fidelity).
        recall: Share of real images on the images' k-NN manifold (diversity).
    """

    fid: float
    classifier_score: float
    precision: float
    recall: float

    def as_dict(self) -> dict[str, float]:
        """The numbers by name."""
        return {name: getattr(self, name) for name in METRIC_NAMES}


@dataclass(frozen=True)
class Metrics:
    """What :func:`evaluate` measured, with the real-data floor beside it.

    Attributes:
        fid: See :class:`Scores`.
        classifier_score: See :class:`Scores`.
        precision: See :class:`Scores`.
        recall: See :class:`Scores`.
        n: How many images were scored.
        dataset: The data set they were compared with.
        floor: The same metrics for ``n`` real training images against the real test set: the
            best a model can be expected to reach with this many samples.
        seed: The sampling seed, or ``None`` for given images.
        classifier_accuracy: The domain classifier's test accuracy.
    """

    fid: float
    classifier_score: float
    precision: float
    recall: float
    n: int
    dataset: str
    floor: Scores
    seed: int | None = None
    classifier_accuracy: float = math.nan

    @property
    def scores(self) -> Scores:
        """The four numbers without the rest."""
        return Scores(self.fid, self.classifier_score, self.precision, self.recall)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the metrics, ``n``, ``dataset``, ``seed``, ``floor`` (a dict) and
        ``classifier_accuracy``."""
        record = dataclasses.asdict(self)
        record["floor"] = self.floor.as_dict()
        return record


def evaluate(model_or_images: Any, *, dataset: str = "mnist", n: int | None = None,
             root: str | os.PathLike[str] | None = None, seed: int = 0, batch_size: int = 500,
             classifier: DomainClassifier | None = None,
             cache_dir: str | os.PathLike[str] | None = None,
             device: str | torch.device | None = None, download: bool = True,
             k: int = DEFAULT_K) -> Metrics:
    """Score a model's samples, or given images, against a data set's real test images.

    A model is sampled ``n`` times in batches from ``seed`` (global random state is saved and
    restored), so the same model and seed give the same numbers. Images are rounded to 8 bits
    before scoring, as real images are.

    Args:
        model_or_images: A :class:`~genzoo.Generator` (e.g. a genzoo model), or an ``N×C×H×W``
            tensor of floats in ``[0, 1]`` or ``uint8``.
        dataset: The named data set to compare with (``"mnist"``, ``"fashion-mnist"``).
        n: How many samples to draw from a model (default 10,000); for a tensor, score its
            first ``n`` images (default all).
        root: The data folder, for training the classifier and the floor's training images.
        seed: The sampling seed.
        batch_size: Images per sampling step and classifier pass.
        classifier: A classifier of ``dataset`` from :func:`domain_classifier` to use (else it
            is loaded from, or trained into, the cache).
        cache_dir: Where classifiers are cached (see :func:`domain_classifier`).
        device: Where to run the classifier (default: the model's or the images' device).
        download: Download the data set if training or the floor needs it.
        k: Neighbourhood size of precision and recall.

    Returns:
        The metrics and the real-data floor for the same ``n``.

    Raises:
        MetricsError: the images' shape does not match the data set's, their values are out of
            range, ``n`` is too small, the input is neither a model nor a tensor, or the
            classifier given is of another data set.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MetricsError(f"batch_size must be a positive integer, got {batch_size!r}")
    is_tensor = isinstance(model_or_images, torch.Tensor)
    if not is_tensor and not callable(getattr(model_or_images, "sample", None)):
        raise MetricsError(
            f"evaluate() takes a model with a sample() method or a tensor of images, got "
            f"{type(model_or_images).__name__}"
        )
    count = _count(n, len(model_or_images) if is_tensor else None, k)
    if device is None:
        device = model_or_images.device if is_tensor else device_of(model_or_images)
    if classifier is None:
        classifier = domain_classifier(dataset, root=root, cache_dir=cache_dir, download=download,
                                       device=device)
    elif classifier.dataset != canonical_dataset(dataset):
        raise MetricsError(
            f"the classifier given is of {classifier.dataset}, but dataset={dataset!r}; pass "
            f"dataset={classifier.dataset!r} or that data set's classifier"
        )
    else:
        classifier.to(device)
    if is_tensor:
        features, probs = classifier.features(model_or_images[:count], batch_size=batch_size)
    else:
        features, probs = _sample_features(model_or_images, classifier, count, seed, batch_size)
    scores = score_features(features, probs, classifier, k=k)
    floor = real_data_floor(classifier, count, root=root, download=download,
                            batch_size=batch_size, k=k)
    return Metrics(**scores.as_dict(), n=count, dataset=classifier.dataset, floor=floor,
                   seed=None if is_tensor else seed,
                   classifier_accuracy=classifier.test_accuracy)


def score_features(features: torch.Tensor, probs: torch.Tensor, classifier: DomainClassifier, *,
                   k: int = DEFAULT_K) -> Scores:
    """Score images given by their classifier features and probabilities.

    FID compares with the whole real test set; precision and recall with a fixed subset of it
    as large as ``features`` (all of it when that is larger), as the k-NN radii depend on size.
    """
    reference = classifier.reference
    fid = frechet_distance(*feature_statistics(features), reference.mean, reference.cov)
    real = fixed_subset(reference.features, len(features)).to(features.device)
    precision, recall = precision_recall(real, features, k=k)
    return Scores(fid=fid, classifier_score=classifier_score(probs), precision=precision,
                  recall=recall)


def real_data_floor(classifier: DomainClassifier, n: int, *,
                    root: str | os.PathLike[str] | None = None, download: bool = True,
                    batch_size: int = 500, k: int = DEFAULT_K) -> Scores:
    """The metrics of ``n`` real training images (a fixed random subset) against the test set.

    Computed once per ``n`` and kept in the classifier's cache file.

    Raises:
        MetricsError: the training set has fewer than ``n`` images.
    """
    if k == DEFAULT_K and n in classifier.floors:
        return Scores(**classifier.floors[n])
    from ..data import load_images

    train = load_images(classifier.dataset, root=root, train=True, download=download)
    if n > len(train):
        raise MetricsError(
            f"the real-data floor needs {n} training images but {classifier.dataset} has "
            f"{len(train)}; evaluate at most {len(train)} samples"
        )
    features, probs = classifier.features(fixed_subset(train.images, n), batch_size=batch_size)
    scores = score_features(features, probs, classifier, k=k)
    if k == DEFAULT_K:
        classifier.remember_floor(n, scores.as_dict())
    return scores


def _sample_features(model: Any, classifier: DomainClassifier, n: int, seed: int,
                     batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and probabilities of ``n`` samples of ``model``."""
    check_model_shape(model, classifier.image_shape, classifier.dataset)
    parts = map_samples(model, n, lambda images: classifier.features(images, batch_size=batch_size),
                        seed=seed, batch_size=batch_size)
    return torch.cat([f for f, _ in parts]), torch.cat([p for _, p in parts])


def _count(n: int | None, available: int | None, k: int) -> int:
    if n is None:
        n = DEFAULT_N if available is None else available
    if isinstance(n, bool) or not isinstance(n, int) or n <= k:
        raise MetricsError(
            f"n must be an integer above k={k} (precision/recall need k+1 samples), got {n!r}; "
            f"use thousands of samples for meaningful numbers"
        )
    if available is not None and n > available:
        raise MetricsError(f"n={n} but only {available} images were given")
    return n

