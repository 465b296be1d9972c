"""Shared pytest fixtures for genzoo's tests."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from filelock import FileLock

import genzoo
from genzoo.data import write_idx

#: The project's shared data folder (``../shared/data`` from the repository root).
SHARED_DATA = (Path(__file__).resolve().parents[1] / "../shared/data").resolve()
_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _digit_like(n: int, seed: int, size: int = 28, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images of class-specific jittered strokes, and their labels.

    Each class has a fixed random polyline (the same for every seed); samples
    jitter its points and shift it, then draw it as a soft stroke. Models can
    learn the classes, and samples look vaguely like hand-written digits.
    """
    templates = np.random.default_rng(12345).uniform(0.25, 0.75, size=(classes, 4, 2)) * size
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    pts = templates[labels] + rng.normal(0.0, size / 28 * 1.2, size=(n, 4, 2))
    pts += rng.uniform(-2.0, 2.0, size=(n, 1, 2)) * size / 28
    t = np.linspace(0.0, 1.0, 8)[None, None, :, None]
    path = (pts[:, :-1, None, :] * (1 - t) + pts[:, 1:, None, :] * t).reshape(n, -1, 2)  # n x 24 x 2
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1).reshape(-1, 2)
    d2 = ((grid[None, None, :, :] - path[:, :, None, :]) ** 2).sum(-1).min(1)  # n x size*size
    ink = np.exp(-d2 / (2 * (size / 28 * 1.3) ** 2))
    images = np.clip(ink * 255 * 1.2, 0, 255).astype(np.uint8).reshape(n, size, size)
    return images, labels.astype(np.uint8)


def write_idx_set(
    raw: Path, *, train: int, test: int, size: int = 28, gzip: bool = False, seed: int = 0
) -> Path:
    """Write the four MNIST-style IDX files into ``raw`` (optionally as ``.gz``)."""
    suffix = ".gz" if gzip else ""
    for split, n, split_seed in (("train", train, seed), ("t10k", test, seed + 1)):
        images, labels = _digit_like(n, split_seed, size)
        write_idx(raw / f"{split}-images-idx3-ubyte{suffix}", images, gzip=gzip)
        write_idx(raw / f"{split}-labels-idx1-ubyte{suffix}", labels, gzip=gzip)
    return raw


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root whose ``MNIST/raw/`` and ``FashionMNIST/raw/`` hold the IDX files.

    The real data in ``../shared/data`` when present; otherwise a generated set
    of 2,048 train and 256 test 28x28 digit-like images per data set.
    """
    if all((SHARED_DATA / d / "raw" / f).is_file() for d in ("MNIST", "FashionMNIST") for f in _IDX_FILES):
        return SHARED_DATA
    root = tmp_path_factory.mktemp("generated_data")
    write_idx_set(root / "MNIST" / "raw", train=2048, test=256, seed=0)
    write_idx_set(root / "FashionMNIST" / "raw", train=2048, test=256, seed=100)
    return root


@pytest.fixture
def make_idx_root(tmp_path: Path) -> Callable[..., Path]:
    """Factory for tiny IDX data roots in ``tmp_path``.

    Call ``make_idx_root(folder="MNIST", train=64, test=16, size=28, gzip=False,
    seed=0, root=None)``; it writes ``<root>/<folder>/raw/{train,t10k}-*-ubyte``
    and returns ``root`` (default ``tmp_path / "data"``, shared by calls).
    """

    def make(
        folder: str = "MNIST",
        *,
        train: int = 64,
        test: int = 16,
        size: int = 28,
        gzip: bool = False,
        seed: int = 0,
        root: Path | None = None,
    ) -> Path:
        root = tmp_path / "data" if root is None else Path(root)
        write_idx_set(root / folder / "raw", train=train, test=test, size=size, gzip=gzip, seed=seed)
        return root

    return make


@pytest.fixture(scope="session")
def mnist_train(mnist_root: Path):
    """Up to 2,048 MNIST training images as a ``uint8`` tensor ``N×1×28×28`` (a fixed slice)."""
    from genzoo.data import load_images

    return load_images("mnist", root=mnist_root, train=True, download=False).images[:2048]


@pytest.fixture(autouse=True)
def _no_tty_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep progress bars out of test output unless a test asks for them."""
    monkeypatch.setenv("GENZOO_TEST", "1")


#: Plugin distributions of this repository's ``plugins/`` folder, installed beside genzoo by
#: ``make``. The core's tests see only genzoo's built-in plugins, as a user who installed genzoo
#: alone does; each of these distributions has its own tests.
SEPARATE_PLUGIN_DISTRIBUTIONS = frozenset({"genzoo-flows", "genzoo-diffusion", "genzoo-flow-matching",
                                            "genzoo-few-step"})


@pytest.fixture(autouse=True)
def _only_builtin_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hide :data:`SEPARATE_PLUGIN_DISTRIBUTIONS` from plugin discovery in this process."""
    real = importlib.metadata.entry_points

    def entry_points(**params):  # type: ignore[no-untyped-def]
        found = real(**params)
        if params.get("group") != "genzoo":
            return found
        return importlib.metadata.EntryPoints(
            ep for ep in found if ep.dist is None or ep.dist.name not in SEPARATE_PLUGIN_DISTRIBUTIONS)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    if any(info.distribution in SEPARATE_PLUGIN_DISTRIBUTIONS for info in genzoo.model_infos()):
        genzoo.reload_plugins()  # discovered before, without the filter
    yield


# --- Parallel workers (pytest-xdist) -----------------------------------------------------------

#: Modules whose tests share an expensive module or session fixture (a docs build, trained
#: example runs, the installed environments, one torchrun launch): each runs whole on one worker,
#: so the fixture is built once. The value is the xdist group.
_ONE_WORKER = {
    "tests/test_docs.py": "docs",
    "tests/test_examples.py": "examples",
    "tests/install/test_install.py": "install",
    "tests/runner/test_distributed.py": "distributed",
    "tests/trackers/test_mlflow.py": "mlflow",  # one mlflow server pair per run, not per worker
}
#: The longest-running modules (about a minute or more each, see ``pytest --durations``): they
#: start first, so that the short tests fill the workers' time beside them instead of after.
_LONG_FIRST = (
    "tests/test_benchmarks.py",
    "tests/install/test_install.py",
    "tests/runner/test_distributed.py",
    "tests/test_docs.py",
    "plugins/genzoo-flows/tests/test_flow_model.py",
    "tests/test_examples.py",
    "tests/test_fault_injection.py",
)


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the modules of :data:`_ONE_WORKER` with their xdist group, and start the long-running
    modules of :data:`_LONG_FIRST` first (each module's tests stay together and in order)."""
    for item in items:
        group = _ONE_WORKER.get(_module(item))
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    rank = {module: i for i, module in enumerate(_LONG_FIRST)}
    items.sort(key=lambda item: rank.get(_module(item), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup`` that also keeps each module of :data:`_ONE_WORKER` on one worker by its
    path. xdist 3.8 passes a test's group to its scheduler as a suffix written into the test's
    node id, which pytest 9.2's node ids no longer take (pytest-xdist#1386): with the pinned
    versions no ``xdist_group`` mark groups anything, and each worker that ran a test of such a
    module built its fixture again."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            group = _ONE_WORKER.get(nodeid.split("::")[0])
            return group if group is not None else super()._split_scope(nodeid)

    return ModuleGroups(config, log)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this test run shares (the run's own temporary folder without
    workers)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(shared: Path, name: str, build: Callable[[Path], object]) -> Path:
    """``shared/name``, filled by ``build(folder)`` by the first worker that asks (the others wait
    for it, then reuse what it built).

    Args:
        shared: The :func:`shared_dir` of the run.
        name: The folder's name.
        build: Fills the (empty) folder; deterministic, so that any worker builds the same.
    """
    folder = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".built").touch()
    return folder


M = TypeVar("M")


def crashing_at(model: M, index: int) -> M:
    """``model``, whose training step ``index`` (counted from 0) raises ``RuntimeError``: a run
    that dies past its last checkpoint, after logging steps that a resume repeats."""
    train = model.training_step  # type: ignore[attr-defined]

    def training_step(batch, step):  # type: ignore[no-untyped-def]
        if step.index == index:
            raise RuntimeError("crashed")
        return train(batch, step)

    model.training_step = training_step  # type: ignore[attr-defined]
    return model
