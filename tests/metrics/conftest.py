"""Fixtures for the metrics tests: one quickly trained classifier per session, in a temp cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from genzoo.data import load_images
from genzoo.metrics import FeatureSpace, domain_classifier
from genzoo.metrics.networks import one_cpu_thread
from tests.conftest import built_once

#: Quick training for tests (users get the full training set and 2 epochs).
TRAIN_IMAGES = 10000
EPOCHS = 2


@pytest.fixture(scope="package", autouse=True)
def _one_thread() -> Iterator[None]:
    """Run these tests on one thread (the classifier trains on one anyway): on a busy machine
    two OpenMP threads waiting on each other made them several times slower."""
    with one_cpu_thread(torch.device("cpu")):
        yield


@pytest.fixture(scope="session")
def metrics_cache(shared_dir: Path) -> Path:
    """The feature network cache of the test run (shared by its workers), never ``~/.cache``."""
    folder = shared_dir / "classifiers"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def real_mnist(mnist_root: Path) -> bool:
    """Whether the tests run on the real MNIST (else on the small generated stand-in, which
    the quick classifier learns less well: the tests then expect less)."""
    return len(load_images("mnist", root=mnist_root, download=False)) >= TRAIN_IMAGES


@pytest.fixture(scope="session")
def quick_settings(real_mnist: bool) -> dict[str, int]:
    """Training settings for the session's classifier: a slice of MNIST, or more epochs on the
    small generated set."""
    return {"max_train_images": TRAIN_IMAGES, "epochs": EPOCHS if real_mnist else 8}


@pytest.fixture(scope="session")
def classifier(mnist_root: Path, metrics_cache: Path, quick_settings: dict[str, int]) -> FeatureSpace:
    """The session's MNIST classifier (trained once by the first worker that needs it, cached in
    ``metrics_cache``, loaded from there by the others)."""
    with FileLock(str(metrics_cache / "mnist-classifier.lock")):
        return domain_classifier("mnist", root=mnist_root, cache_dir=metrics_cache, download=False,
                                 **quick_settings)


@pytest.fixture(scope="session")
def mnist_test(mnist_root: Path) -> torch.Tensor:
    """The MNIST test images, ``uint8`` ``N×1×28×28``."""
    return load_images("mnist", root=mnist_root, train=False, download=False).images


@pytest.fixture(scope="session")
def colour_folder(shared_dir: Path) -> Path:
    """A flat folder of 240 colour 16×16 shape images (no labels), shared by the workers (its
    path keys the feature network trained on it)."""
    from .folders import write_shape_folder

    return built_once(shared_dir, "shape-data", lambda folder: write_shape_folder(
        folder / "shapes", 240, 16, seed=1)) / "shapes"


@pytest.fixture(scope="session")
def class_folder(shared_dir: Path) -> Path:
    """240 colour 16×16 shape images, one sub-folder per shape (four classes)."""
    from .folders import write_shape_folder

    return built_once(shared_dir, "labelled-data", lambda folder: write_shape_folder(
        folder / "labelled", 240, 16, seed=2, classes=True)) / "labelled"


#: Quick training of the contrastive network for tests (users get 600 steps).
CONTRASTIVE_STEPS = 120


@pytest.fixture(scope="session")
def colour_space(colour_folder: Path, metrics_cache: Path) -> FeatureSpace:
    """The colour folder's contrastive feature space, quickly trained, in the session cache."""
    from genzoo.metrics import feature_space

    with FileLock(str(metrics_cache / "colour-space.lock")):
        return feature_space(colour_folder, cache_dir=metrics_cache, steps=CONTRASTIVE_STEPS)
