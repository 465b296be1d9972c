"""Evaluating during training: runner callbacks that add numbers to an epoch's line of
``metrics.jsonl``.

* :class:`EvaluateEvery` adds sample quality: ``fid``, ``kid``, ``precision``, ``recall``,
  ``density``, ``coverage`` and (for labelled data) ``classifier_score``, and their real-data
  floors as ``fid_floor``...;
* :class:`LikelihoodEvery` adds bits/dim on a fixed held-out subset of the test split
  (``test_bits_per_dim``...), for models with a likelihood.

Both run on rank 0 only, after every ``every``-th epoch, with seeds of their own, so training's
random state is untouched.

Example:
    >>> from genzoo.metrics import EvaluateEvery, LikelihoodEvery
    >>> model.fit(loader, epochs=20, out="runs/vae", callbacks=[EvaluateEvery(5)])  # doctest: +SKIP
    >>> model.fit(loader, epochs=10, out="runs/glow", callbacks=[LikelihoodEvery(2)])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from ..hookspecs import hookimpl
from .errors import MetricsError
from .evaluation import evaluate
from .features import FeatureSpace, feature_space
from .likelihood import evaluate_likelihood, has_likelihood, test_images
from .scoring import Bootstrap

__all__ = ["EvaluateEvery", "LikelihoodEvery"]

#: Bootstrap resamples during training: the intervals are not logged, so as few as allowed.
_QUICK_RESAMPLES = 10


class EvaluateEvery:
    """Evaluate the model every ``every`` epochs and add the numbers to that epoch's metrics.

    Runs on rank 0 only. Sampling uses its own seed, so training's random state is untouched.
    The feature network is loaded (or trained and cached) at the first evaluation. Intervals
    are not logged (few resamples keep it quick); use ``genzoo eval`` for them.

    Args:
        every: Evaluate after epochs ``every``, ``2 * every``...
        data: The named data set or image folder to compare with.
        n: Samples per evaluation (fewer than :func:`~genzoo.metrics.evaluate`'s default, to
            keep it quick; compare numbers only at the same ``n``).
        seed: The sampling seed, the same at every evaluation.
        batch_size: Images per feature pass.
        floor: Also add the real-data floor, as ``fid_floor`` and so on.
        root: The data folder (see :func:`genzoo.data.data_root`).
        cache_dir: Where feature networks are cached.
        space: A feature space of ``data`` to use instead of the cached one.
        features: The feature network's kind (see :func:`~genzoo.metrics.evaluate`).

    Raises:
        MetricsError: ``every`` or ``n`` is not a positive integer.
    """

    def __init__(self, every: int, data: str | os.PathLike[str] = "mnist", n: int = 2000, *,
                 seed: int = 0, batch_size: int = 500, floor: bool = True,
                 root: str | os.PathLike[str] | None = None,
                 cache_dir: str | os.PathLike[str] | None = None,
                 space: FeatureSpace | None = None, features: str = "auto") -> None:
        for name, value in (("every", every), ("n", n)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MetricsError(f"EvaluateEvery: {name} must be a positive integer, got {value!r}")
        self.every, self.data, self.n, self.seed = every, data, n, seed
        self.batch_size, self.floor, self.features = batch_size, floor, features
        self.root, self.cache_dir = root, cache_dir
        self.space = space
        self._last_epoch = 0

    @hookimpl
    def genzoo_fit_start(self, model: Any, run: Any) -> None:
        """Forget the epochs of an earlier run; refuse a sharded run.

        Raises:
            MetricsError: the run shards the model (``strategy="fsdp"``): its forward pass is
                a collective of every rank, so rank 0 cannot sample alone.
        """
        if getattr(run, "strategy", "none") == "fsdp":
            raise MetricsError("EvaluateEvery cannot run in a sharded run (strategy='fsdp'): rank 0 "
                               "cannot sample a sharded model alone; train with strategy='ddp', or "
                               "evaluate the checkpoint afterwards with genzoo eval")
        self._last_epoch = 0

    @hookimpl
    def genzoo_epoch_end(self, model: Any, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        """Add the metrics to ``metrics`` in place after every ``every``-th epoch (on rank 0)."""
        if getattr(run, "rank", 0) != 0 or epoch < 1 or epoch % self.every or epoch == self._last_epoch:
            return  # an interrupted epoch reports the last completed one again: skip it
        self._last_epoch = epoch
        started = time.perf_counter()
        device = getattr(run, "device", None) or torch.device("cpu")
        if self.space is None:
            self.space = feature_space(self.data, self.features, root=self.root,
                                       cache_dir=self.cache_dir, device=device)
        result = evaluate(model, data=self.data, n=self.n, seed=self.seed, batch_size=self.batch_size,
                          space=self.space, root=self.root, device=device,
                          bootstrap=Bootstrap(resamples=_QUICK_RESAMPLES))
        metrics.update(result.scores.as_dict())
        if self.floor:
            metrics.update({f"{name}_floor": value for name, value in result.floor.as_dict().items()})
        metrics["eval_seconds"] = round(time.perf_counter() - started, 3)

    def __repr__(self) -> str:
        return f"EvaluateEvery({self.every}, data={str(self.data)!r}, n={self.n}, seed={self.seed})"


class LikelihoodEvery:
    """A runner callback: bits/dim on a fixed held-out subset of the test split every
    ``every`` epochs, added to that epoch's line of ``metrics.jsonl``.

    The line gains ``test_bits_per_dim`` (and ``test_bits_per_dim_stderr``); the key
    ``test_bits_per_dim_exact`` is 1 for an exact likelihood and 0 for a bound. Runs on rank 0
    only; the dequantization noise has its own seed, so training's random state is untouched.
    A model without a likelihood gets nothing added.

    Args:
        every: Evaluate after epochs ``every``, ``2 * every``...
        dataset: The named data set whose test split is scored.
        n: How many test images (a fixed random subset, the same every time).
        samples: The model's estimator samples (a VAE's importance samples).
        seed: The seed of the dequantization noise.
        batch_size: Images per batch.
        root: The data folder (see :func:`genzoo.data.data_root`).

    Example:
        >>> from genzoo.metrics import LikelihoodEvery
        >>> model.fit(loader, epochs=10, out="runs/glow", callbacks=[LikelihoodEvery(2)])  # doctest: +SKIP

    Raises:
        MetricsError: ``every`` or ``n`` is not a positive integer.
    """

    def __init__(self, every: int, dataset: str = "mnist", n: int = 1000, *, samples: int = 1,
                 seed: int = 0, batch_size: int = 500,
                 root: str | os.PathLike[str] | None = None) -> None:
        for name, value in (("every", every), ("n", n), ("samples", samples)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MetricsError(f"LikelihoodEvery: {name} must be a positive integer, got {value!r}")
        self.every, self.dataset, self.n, self.samples = every, dataset, n, samples
        self.seed, self.batch_size, self.root = seed, batch_size, root
        self._images: torch.Tensor | None = None
        self._last_epoch = 0

    @hookimpl
    def genzoo_fit_start(self, model: Any, run: Any) -> None:
        """Forget the epochs of an earlier run."""
        self._last_epoch = 0

    @hookimpl
    def genzoo_epoch_end(self, model: Any, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        """Add bits/dim to ``metrics`` in place after every ``every``-th epoch (on rank 0)."""
        if (getattr(run, "rank", 0) != 0 or epoch < 1 or epoch % self.every
                or epoch == self._last_epoch or not has_likelihood(model)):
            return
        self._last_epoch = epoch
        started = time.perf_counter()
        if self._images is None:
            self._images = test_images(self.dataset, self.n, root=self.root)
        score = evaluate_likelihood(model, self._images, samples=self.samples, seed=self.seed,
                                    batch_size=self.batch_size)
        metrics["test_bits_per_dim"] = round(score.bits_per_dim, 6)
        metrics["test_bits_per_dim_stderr"] = round(score.stderr, 6)
        metrics["test_bits_per_dim_exact"] = int(score.kind == "exact")
        metrics["likelihood_seconds"] = round(time.perf_counter() - started, 3)

    def __repr__(self) -> str:
        return f"LikelihoodEvery({self.every}, dataset={self.dataset!r}, n={self.n}, samples={self.samples})"
