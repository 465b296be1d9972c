"""Optional: FID in Inception-v3 features, the number papers report, when its weights are here.

It runs torch-fidelity's TensorFlow-compatible Inception-v3 (the network torchmetrics'
``FrechetInceptionDistance`` uses too), so install either ``torchmetrics[image]`` or
``torch-fidelity``. Its weights are downloaded once, which needs the internet; without them
:func:`inception_fid` says where to put them. Inception features fit 28×28 digits poorly: prefer
:func:`genzoo.metrics.evaluate`'s classifier FID and quote this one for comparison with papers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import write_checkpoint
from ..data import ImageSet, load_images
from .classifier import canonical_dataset
from .classifier_cache import classifier_cache_dir
from .errors import MetricsError
from .fid import feature_statistics, frechet_distance
from .sampling import check_model_shape, fixed_subset, map_samples

__all__ = ["InceptionFID", "inception_fid", "inception_weights_path", "require_inception",
           "INCEPTION_WEIGHTS_URL", "WEIGHTS_ENV_VAR"]

#: Where torch-fidelity (and so torchmetrics) downloads the Inception-v3 weights from.
INCEPTION_WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                         "weights-inception-2015-12-05-6726825d.pth")
#: Environment variable naming a weights file elsewhere.
WEIGHTS_ENV_VAR = "GENZOO_INCEPTION_WEIGHTS"
_STATS_FORMAT = "genzoo-inception-statistics"


def inception_weights_path(weights: str | os.PathLike[str] | None = None) -> Path:
    """The Inception-v3 weights file: ``weights``, else ``$GENZOO_INCEPTION_WEIGHTS``, else where
    torch-fidelity downloads it (``<torch hub dir>/checkpoints/weights-inception-...pth``)."""
    if weights is not None:
        return Path(os.fspath(weights)).expanduser()
    env = os.environ.get(WEIGHTS_ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_URL.rsplit("/", 1)[1]


@dataclass(frozen=True)
class InceptionFID:
    """Inception FID with its real-data floor.

    Attributes:
        fid: FID of the images against the test set, in Inception-v3 pool features.
        floor: The same for ``n`` real training images (lower bound to expect at this ``n``).
        n: How many images were scored.
    """

    fid: float
    floor: float
    n: int


def inception_fid(model_or_images: Any, dataset: str = "mnist", *, n: int | None = None,
                  root: str | os.PathLike[str] | None = None, seed: int = 0,
                  batch_size: int = 100, device: str | torch.device | None = None,
                  weights: str | os.PathLike[str] | None = None,
                  cache_dir: str | os.PathLike[str] | None = None,
                  download: bool = True) -> InceptionFID:
    """FID between a model's samples (or given images) and a data set's test images, in
    Inception-v3 pool features (2048-d), beside the same for as many real training images.

    Grey images are repeated to three channels; the network resizes to 299×299 itself. The
    test set's statistics and the floors are cached beside the domain classifiers. Slow on a
    CPU.

    Args:
        model_or_images: A model with ``sample()``, or ``N×C×H×W`` images (floats in ``[0, 1]``
            or ``uint8``).
        dataset: The named data set whose test images are the reference.
        n: Samples to draw from a model (default 10,000); for a tensor, its first ``n`` images.
        root: The data folder.
        seed: The sampling seed.
        batch_size: Images per Inception pass.
        device: Where to run Inception (default: the CPU).
        weights: The weights file (see :func:`inception_weights_path`).
        cache_dir: Where to cache the real statistics (default: the classifiers' folder).
        download: Download the data set if missing.

    Raises:
        MetricsError: torch-fidelity is not installed or the weights file is missing (the
            message says how to get them), or the images do not fit the data set.
    """
    extractor = _extractor(weights, torch.device(device) if device is not None else torch.device("cpu"))
    name = canonical_dataset(dataset)
    cache = _StatsCache(classifier_cache_dir(cache_dir) / f"{name}-inception-v1.pt")
    loaded: dict[str, ImageSet] = {}

    def split(train: bool) -> ImageSet:
        key = "train" if train else "test"
        if key not in loaded:
            loaded[key] = load_images(name, root=root, train=train, download=download)
        return loaded[key]

    if cache.stats is None:
        test = split(False)
        mean, cov = feature_statistics(_features(extractor, test.images, batch_size))
        cache.save({"mean": mean, "cov": cov, "image_shape": list(test.image_shape), "floors": {}})
    stats = cache.stats
    assert stats is not None
    shape = tuple(stats["image_shape"])
    if isinstance(model_or_images, torch.Tensor):
        images = model_or_images if n is None else model_or_images[:n]
        if tuple(images.shape[1:]) != shape:
            raise MetricsError(f"the images are {tuple(images.shape[1:])} (C, H, W) but {name} "
                               f"images are {shape}")
        features = _features(extractor, images, batch_size)
    elif callable(getattr(model_or_images, "sample", None)):
        check_model_shape(model_or_images, shape, name)
        features = torch.cat(map_samples(model_or_images, n or 10_000,
                                         lambda x: _features(extractor, x, batch_size),
                                         seed=seed, batch_size=batch_size))
    else:
        raise MetricsError("inception_fid() takes a model with a sample() method or a tensor of "
                           f"images, got {type(model_or_images).__name__}")
    count = len(features)
    fid = frechet_distance(*feature_statistics(features), stats["mean"], stats["cov"])
    floor = stats["floors"].get(str(count))
    if floor is None:
        train = split(True)
        if count > len(train):
            raise MetricsError(f"the real-data floor needs {count} training images but {name} "
                               f"has {len(train)}; score at most {len(train)} images")
        real = _features(extractor, fixed_subset(train.images, count), batch_size)
        floor = frechet_distance(*feature_statistics(real), stats["mean"], stats["cov"])
        cache.save({**stats, "floors": {**stats["floors"], str(count): floor}})
    return InceptionFID(fid=fid, floor=float(floor), n=count)


def require_inception(weights: str | os.PathLike[str] | None = None) -> Path:
    """Check that Inception FID can run here; return the weights file.

    Raises:
        MetricsError: torch-fidelity is not installed, or the weights file is missing; the
            message says how to install or download them.
    """
    _extractor_class()
    path = inception_weights_path(weights)
    if not path.is_file():
        raise MetricsError(
            f"Inception FID needs the Inception-v3 weights, and {path} does not exist. Download "
            f"them once (this needs the internet): curl -L --create-dirs -o '{path}' "
            f"{INCEPTION_WEIGHTS_URL} ; or put the file elsewhere and pass weights=PATH or set "
            f"{WEIGHTS_ENV_VAR}. genzoo's own metrics (genzoo eval) need no download."
        )
    return path


def _extractor_class() -> type[torch.nn.Module]:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as err:
        raise MetricsError(
            "Inception FID needs torch-fidelity (which torchmetrics' FID uses too), and it is not "
            f"installed ({err}). Install it with: pip install 'torchmetrics[image]' "
            "(or: pip install torch-fidelity). genzoo's own metrics (genzoo.metrics.evaluate, "
            "genzoo eval) need neither."
        ) from err
    return FeatureExtractorInceptionV3


def _extractor(weights: str | os.PathLike[str] | None, device: torch.device) -> torch.nn.Module:
    path = require_inception(weights)
    net = _extractor_class()("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    return net.to(device).eval()


@torch.no_grad()
def _features(extractor: torch.nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = next(extractor.parameters()).device
    out = []
    for chunk in images.split(batch_size):
        out.append(extractor(_as_uint8_rgb(chunk.to(device)))[0].float().cpu())
    return torch.cat(out)


def _as_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    if images.dtype != torch.uint8:
        if float(images.min()) < 0 or float(images.max()) > 1:
            raise MetricsError("float images must lie in [0, 1]")
        images = images.float().mul(255).round_().to(torch.uint8)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[1] != 3:
        raise MetricsError(f"Inception reads grey or RGB images, not {images.shape[1]} channels")
    return images.contiguous()


class _StatsCache:
    """The real data's Inception statistics and floors in one file (recomputed when unusable)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stats: dict[str, Any] | None = None
        if path.is_file():
            try:
                stats = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - a damaged cache is recomputed
                stats = None
            if isinstance(stats, dict) and stats.get("format") == _STATS_FORMAT:
                self.stats = stats

    def save(self, stats: dict[str, Any]) -> None:
        self.stats = {**stats, "format": _STATS_FORMAT}
        write_checkpoint(self.stats, self.path)
