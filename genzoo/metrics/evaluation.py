"""Evaluating a model or a batch of images on any data: every score with its interval, beside
the real-data floor, with the protocol card.

* :func:`evaluate` draws a model's samples (or takes the images given), scores them in a feature
  space (see :func:`~genzoo.metrics.feature_space`) against the data's reference images, scores
  as many real images the same way (:func:`real_data_floor`) and writes the protocol card;
* :func:`score_features` is the scoring of one set of features: FID and KID against all the
  reference features; precision, recall, density and coverage against a fixed random subset of
  the reference as large as the set scored (all of it when that is larger), since k-NN radii
  depend on set size; the classifier score, where the feature network is a classifier. The
  bootstrap (see :class:`~genzoo.metrics.Bootstrap`) draws the images scored with replacement;
  FID and the classifier score are recomputed on each resample, the others re-average their
  per-image terms, with the real images those terms belong to (recall, coverage, KID's
  reference half) drawn with replacement too;
* :func:`map_samples` draws many samples from a model in fixed blocks, repeatably and without
  side effects, and :func:`fixed_subset` picks the real images that stand beside them.

Example:
    >>> import genzoo
    >>> from genzoo.metrics import evaluate
    >>> metrics = evaluate(genzoo.load("runs/vae/checkpoints/last.pt"), data="mnist")  # doctest: +SKIP
    >>> metrics.fid, metrics.scores.intervals["fid"], metrics.floor.fid  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from .._version import __version__
from .._words import model_label
from ..extras import require
from ..labels import class_count
from .errors import MetricsError, SampleCountWarning
from .eval_data import EvalData, load_eval_data, named_data
from .features import FeatureSpace, feature_space
from .results import Metrics, ProtocolCard, Scores
from .scoring import (DEFAULT_K, Bootstrap, classifier_score, kid_terms, manifold_memberships,
                      percentile_interval)

__all__ = ["DEFAULT_N", "evaluate", "real_data_floor", "score_features", "map_samples",
           "class_proportional_labels", "block_seed", "device_of", "check_model_shape",
           "check_model_channels", "fixed_subset", "DEFAULT_SAMPLE_BLOCK"]

#: How many samples :func:`evaluate` draws from a model by default.
DEFAULT_N = 10_000
#: Images per sampling call, by default (on the protocol card: it decides which images a seed
#: gives).
DEFAULT_SAMPLE_BLOCK = 500
#: Seeds the choice of real images that stand beside the samples (training images for the
#: floor, reference images for precision/recall).
_SUBSET_SEED = 0
#: The range of each metric, which its interval is clipped to (KID, an unbiased estimate, can
#: be negative).
_BOUNDS = {"fid": (0.0, math.inf), "precision": (0.0, 1.0), "recall": (0.0, 1.0),
           "density": (0.0, math.inf), "coverage": (0.0, 1.0), "classifier_score": (1.0, math.inf)}

T = TypeVar("T")


def evaluate(model_or_images: Any, *, data: str | os.PathLike[str] = "mnist", features: str = "auto",
             n: int | None = None, seed: int = 0, batch_size: int = 500,
             sample_block: int = DEFAULT_SAMPLE_BLOCK, space: FeatureSpace | None = None,
             root: str | os.PathLike[str] | None = None,
             cache_dir: str | os.PathLike[str] | None = None,
             device: str | torch.device | None = None, download: bool = True, k: int = DEFAULT_K,
             bootstrap: Bootstrap | None = None, weights: str | os.PathLike[str] | None = None,
             log: Callable[[str], None] | None = None) -> Metrics:
    """Score a model's samples, or given images, against real data.

    A model is sampled ``n`` times in blocks of ``sample_block`` from ``seed`` (see
    :func:`map_samples`; global random state is saved and restored).
    A class-conditional model gets its classes as often as the data's training images (the
    floor's half) have them (:func:`class_proportional_labels`), so that
    its samples stand for the data's distribution and not an evenly balanced one; where the data
    has no labels, or other classes, it gets every class in turn. The card says which.
    The images are compared in a feature space (see :func:`~genzoo.metrics.feature_space`) with
    the data's reference images; the real-data floor scores as many real images of the data's
    other half the same way. Every number has a bootstrap interval, and the protocol card says
    how it was all made: the same card gives the same numbers, whatever ``batch_size``.

    Args:
        model_or_images: A :class:`~genzoo.Generator` (e.g. a genzoo model), or an ``N×C×H×W``
            tensor of floats in ``[0, 1]`` or ``uint8``.
        data: A named data set (``"mnist"``...) or a folder of images (one sub-folder per
            class gives labels); its images may have any size, and are resized as the samples.
        features: The feature network: ``"auto"`` (a classifier where the data has labels, else
            a contrastive network), ``"classifier"``, ``"contrastive"`` or a pretrained network's name
            (``"inception"``, ``"dinov2-vit-s-14"``, ...: :data:`~genzoo.metrics.PRETRAINED`).
        n: How many samples to draw from a model (default 10,000); for a tensor, score its
            first ``n`` images (default all).
        seed: The sampling seed.
        batch_size: Images resized and passed to the feature network at a time (memory only:
            the numbers do not depend on it).
        sample_block: Images per sampling call (it decides which images a seed gives).
        space: A feature space of ``data`` to use (else loaded from, or trained into, the cache).
        root: Where named data sets live.
        cache_dir: Where feature networks are cached.
        device: Where to run the feature network (default: the model's or the images' device).
        download: Download a named data set that is missing.
        k: Neighbourhood size of precision, recall, density and coverage.
        bootstrap: Resamples, level and seed of the intervals (default 200 resamples, 95%,
            seed 0).
        weights: A pretrained network's weights file (default: where torch-fidelity keeps it).
        log: Called with progress messages while a feature network trains.

    Returns:
        The scores and the real-data floor, each with intervals, and the protocol card.

    Warns:
        SampleCountWarning: ``n`` is larger than the data's floor half or its reference: the
            floor is then scored on fewer real images than the samples.

    Raises:
        MetricsError: the images' channels do not match the data's, their values are out of
            range, ``n`` is too small, the input is neither a model nor a tensor, or the
            feature space given is of other data.
        genzoo.data.DataError: the data cannot be found or read.
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
    bootstrap = bootstrap or Bootstrap()
    if device is None:
        device = model_or_images.device if is_tensor else device_of(model_or_images)
    loaded: list[EvalData] = []

    def real_data() -> EvalData:
        if not loaded:
            loaded.append(load_eval_data(data, root=root, download=download))
        return loaded[0]

    if space is None:
        source: Any = data if named_data(data) is not None else real_data()
        space = feature_space(source, features, root=root, cache_dir=cache_dir, device=device,
                              download=download, weights=weights, log=log)
    else:
        space.to(device)
    if is_tensor:
        sample_features, probs = space.features(model_or_images[:count], batch_size=batch_size)
        samples: dict[str, Any] = {"given": True}
    else:
        labels, rule = _sample_labels(model_or_images, real_data, count)
        sample_features, probs = _sample_features(model_or_images, space, count, seed, sample_block,
                                                  batch_size, labels)
        samples = {"seed": seed, "block": sample_block, **({"labels": rule} if rule else {})}
    scores = score_features(sample_features, probs, space, k=k, bootstrap=bootstrap)
    floor, floor_n = real_data_floor(space, count, real_data, batch_size=batch_size, k=k,
                                     bootstrap=bootstrap)
    references = int(space.reference.shape[0])
    if floor_n < count or references < count:
        warnings.warn(
            f"n={count} samples, but {space.data['name']} has only {floor_n} real images for the "
            f"floor and {references} reference images: the floor is scored on {floor_n} images, "
            f"not {count}, so the model and the floor are not measured at the same n; use "
            f"n={min(floor_n, references)} (-n {min(floor_n, references)}) or more data",
            SampleCountWarning, stacklevel=2)
    card = ProtocolCard(n=count, floor_n=floor_n, data=space.data, samples=samples,
                        features=space.card(), metrics=_metric_settings(k), bootstrap=bootstrap.card(),
                        software=_software())
    return Metrics(scores=scores, floor=floor, card=card)


def real_data_floor(space: FeatureSpace, n: int, data: EvalData | Callable[[], EvalData], *,
                    batch_size: int = 500, k: int = DEFAULT_K,
                    bootstrap: Bootstrap | None = None) -> tuple[Scores, int]:
    """The scores of ``n`` real images of the data's floor half (a fixed random subset; all of
    them when it has fewer) against the reference, with intervals.

    Computed once per protocol and kept in the feature space's cache file.

    Args:
        space: The feature space.
        n: How many images the samples scored.
        data: The data (or a function loading it, called only when the floor is not cached).
        batch_size: Images per feature pass (memory only).
        k: See :func:`evaluate`.
        bootstrap: See :func:`evaluate`.

    Returns:
        The floor's scores and how many real images it scored.

    Raises:
        MetricsError: the data is not the feature space's.
    """
    bootstrap = bootstrap or Bootstrap()
    key = f"n={n};k={k};" + ";".join(f"{name}={value}" for name, value in bootstrap.card().items())
    cached = space.floors.get(key)
    if cached is not None:
        return Scores.from_record(cached["scores"]), int(cached["n"])
    real = data if isinstance(data, EvalData) else data()
    if real.fingerprint != space.data["fingerprint"]:
        fix = (f"the cached network {space.path} was trained on other files of that name: "
               "delete it, and the next evaluation trains one on these"
               if space.path is not None and space.data["name"] == real.name
               else "use that data's feature space")
        raise MetricsError(
            f"the feature space is of {space.data['name']} (fingerprint "
            f"{space.data['fingerprint'][:12]}) but the data is {real.name} (fingerprint "
            f"{real.fingerprint[:12]}); {fix}"
        )
    floor_n = min(n, len(real.train))
    features, probs = space.features(fixed_subset(real.train.images, floor_n), batch_size=batch_size)
    scores = score_features(features, probs, space, k=k, bootstrap=bootstrap)
    space.remember_floor(key, {"scores": scores.as_record(), "n": floor_n})
    return scores, floor_n


def score_features(features: torch.Tensor, probs: torch.Tensor | None, space: FeatureSpace, *,
                   k: int = DEFAULT_K, bootstrap: Bootstrap | None = None) -> Scores:
    """Score images given by their features (and class probabilities) in ``space``.

    Args:
        features: ``N×D`` features from :meth:`FeatureSpace.features`.
        probs: ``N×K`` class probabilities, or ``None`` (no classifier score).
        space: The feature space with the reference features.
        k: Neighbourhood size of precision, recall, density and coverage.
        bootstrap: How to compute the intervals (default: :class:`Bootstrap`'s defaults).

    Raises:
        MetricsError: too few images for ``k``, or features of another dimension.
    """
    bootstrap = bootstrap or Bootstrap()
    fakes = features.detach().to("cpu", torch.float32)
    real = fixed_subset(space.reference, len(fakes))
    members = manifold_memberships(real, fakes, k=k)
    terms = kid_terms(fakes / space.kid_scale, space.reference / space.kid_scale, space.kernel_sums)
    values: dict[str, float] = {"fid": space.frechet(fakes), "kid": terms.kid, **members.means()}
    fake_draws, real_draws, reference_draws = bootstrap.indices((len(fakes), len(real),
                                                                 len(space.reference)))
    replicates = {
        "fid": torch.tensor([space.frechet(fakes[index]) for index in fake_draws]),
        "kid": terms.a[fake_draws].mean(1) + terms.b[reference_draws].mean(1),
        "precision": members.precision[fake_draws].double().mean(1),
        "recall": members.recall[real_draws].double().mean(1),
        "density": members.density[fake_draws].mean(1),
        "coverage": members.coverage[real_draws].double().mean(1),
    }
    if probs is not None:
        values["classifier_score"] = classifier_score(probs)
        replicates["classifier_score"] = torch.tensor([classifier_score(probs[index])
                                                       for index in fake_draws])
    intervals = {name: percentile_interval(values[name], replicates[name], bootstrap.level,
                                           bounds=_BOUNDS.get(name, (-math.inf, math.inf)))
                 for name in values}
    return Scores(**values, intervals=intervals)


def map_samples(model: Any, n: int, fn: Callable[[torch.Tensor], T], *, seed: int,
                block: int = DEFAULT_SAMPLE_BLOCK, labels: torch.Tensor | None = None) -> list[T]:
    """Draw ``n`` samples from ``model`` in blocks of ``block`` and return ``fn`` of each block.

    With ``labels`` (``n`` classes of a conditional model), each block samples its slice of them.

    Block ``b`` draws its latents from a CPU generator seeded with :func:`block_seed` of
    ``(seed, b)``, and torch's global generators (which some models also draw from) are seeded
    the same way and restored afterwards. So the same model, seed and block give the same
    samples, the first ``m`` blocks are the same whatever ``n``, and the caller's random state
    is untouched.

    Raises:
        MetricsError: ``block`` is not a positive integer.
    """
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise MetricsError(f"the sampling block must be a positive integer, got {block!r}")
    device = device_of(model)
    results = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for index, start in enumerate(range(0, n, block)):
            seed_b = block_seed(seed, index)
            torch.manual_seed(seed_b)
            generator = torch.Generator().manual_seed(seed_b)
            count = min(block, n - start)
            extra = {} if labels is None else {"labels": labels[start:start + count]}
            results.append(fn(model.sample(count, generator=generator, **extra)))
    return results


def class_proportional_labels(labels: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """``n`` classes, each as often as among ``labels`` (rounded by largest remainders), in a
    fixed shuffled order: what a conditional model samples to stand for the data's distribution.

    Raises:
        MetricsError: ``labels`` are not classes in ``[0, num_classes)``.
    """
    labels = torch.as_tensor(labels).long().flatten()
    if len(labels) == 0 or labels.min() < 0 or labels.max() >= num_classes:
        raise MetricsError(f"labels must be classes in [0, {num_classes}); got none or others")
    share = torch.bincount(labels, minlength=num_classes).double() * (n / len(labels))
    counts = share.floor().long()
    remainders = torch.argsort(share - counts, descending=True, stable=True)
    counts[remainders[: n - int(counts.sum())]] += 1
    ordered = torch.repeat_interleave(torch.arange(num_classes), counts)
    return ordered[torch.randperm(n, generator=torch.Generator().manual_seed(_SUBSET_SEED))]


def block_seed(seed: int, block: int) -> int:
    """The seed of sampling block ``block`` of the sampling seed ``seed`` (63 bits of a hash)."""
    digest = hashlib.sha256(f"genzoo-samples:{seed}:{block}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def check_model_shape(model: Any, shape: tuple[int, int, int], dataset: str) -> None:
    """Raise :class:`MetricsError` when ``model`` makes images of another shape than ``shape``
    (bits/dim scores the data's own images, so the shape must match exactly)."""
    made = getattr(model, "image_shape", None)
    if made is not None and tuple(made) != tuple(shape):
        raise MetricsError(
            f"{model_label(model)} makes images of shape {tuple(made)} (C, H, W) but "
            f"{dataset} images are {tuple(shape)}; evaluate it against a data set of its own "
            f"image shape"
        )


def check_model_channels(model: Any, channels: int, what: str) -> None:
    """Raise :class:`MetricsError` when ``model`` makes images of another channel count."""
    made = getattr(model, "image_shape", None)
    if made is not None and int(made[0]) != channels:
        raise MetricsError(
            f"{model_label(model)} makes images of {made[0]} channel(s) (shape {tuple(made)}) "
            f"but {what} has {channels}; evaluate it against data with images like its own"
        )


def device_of(model: Any) -> torch.device:
    """The device of a model's parameters (its ``device`` attribute first); the CPU if none."""
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        first = next(iter(parameters()), None)
        if first is not None:
            return first.device
    return torch.device("cpu")


def fixed_subset(tensor: torch.Tensor, n: int) -> torch.Tensor:
    """A fixed random subset of ``n`` rows, the same every time (all rows, in order, when ``n``
    is not smaller); the subset for a smaller ``n`` is the start of the one for a larger."""
    if n >= len(tensor):
        return tensor
    order = torch.randperm(len(tensor), generator=torch.Generator().manual_seed(_SUBSET_SEED))
    return tensor[order[:n]]


def _sample_labels(model: Any, real_data: Callable[[], EvalData],
                   n: int) -> tuple[torch.Tensor | None, str | None]:
    """The classes a conditional model samples for scoring, and the card's words for them."""
    classes = class_count(model)
    if not classes:
        return None, None
    real = real_data()
    if real.train.labels is None or real.num_classes != classes:
        return None, "every class in turn"
    return class_proportional_labels(real.train.labels, n, classes), "training class frequencies"


def _sample_features(model: Any, space: FeatureSpace, n: int, seed: int, block: int,
                     batch_size: int, labels: torch.Tensor | None = None,
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features and probabilities of ``n`` samples of ``model`` (of classes ``labels``)."""
    check_model_channels(model, space.channels, f"the reference data ({space.data['name']})")
    parts = map_samples(model, n, lambda images: space.features(images, batch_size=batch_size),
                        seed=seed, block=block, labels=labels)
    probs = [p for _, p in parts]
    return torch.cat([f for f, _ in parts]), (None if probs[0] is None else torch.cat(probs))


def _metric_settings(k: int) -> dict[str, Any]:
    return {"k": k, "fid": "torchmetrics FrechetInceptionDistance arithmetic, float64, all reference features",
            "kid": "unbiased MMD², kernel (x·y/D + 1)³ on features / their reference RMS, "
                   "all reference features",
            "precision_recall_density_coverage": "k-NN balls, reference subset as large as n"}


def _software() -> dict[str, str]:
    torchmetrics = require("torchmetrics", "eval", "genzoo's evaluation")
    return {"genzoo": __version__, "torchmetrics": torchmetrics.__version__}


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
