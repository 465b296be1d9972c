"""Likelihood of held-out images: bits per dimension under uniform dequantization.

For every :class:`~genzoo.DensityModel` (a model with ``log_likelihood``), bits/dim on a data
set's test split, labelled ``exact`` (a normalizing flow) or ``bound`` (a VAE's ELBO or
importance-weighted bound), with its standard error. The convention is the flow literature's:
an 8-bit image ``k`` becomes ``x = (k + u) / 256`` with ``u ~ U[0, 1)^D``, and

    bits/dim = (-log p(x) + D log 256) / (D log 2),

which in expectation over ``u`` bounds the code length of ``k`` under the discrete model
from above (Theis et al., 2016). Lower is better. During training, the runner callback
:class:`~genzoo.metrics.LikelihoodEvery` logs it every few epochs.

Example:
    >>> import genzoo
    >>> from genzoo.metrics.likelihood import evaluate_likelihood
    >>> score = evaluate_likelihood(genzoo.load("runs/glow/checkpoints/last.pt"))  # doctest: +SKIP
    >>> print(score)  # doctest: +SKIP
    <mean> ± <stderr> bits/dim (exact) on 10000 mnist test images, uniform dequantization of 8-bit pixels
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..density import bits_per_dim, dequantize
from ..protocols import DensityModel
from ..sampling import eval_mode, sampling_progress
from .errors import MetricsError
from .evaluation import check_model_shape, device_of, fixed_subset

__all__ = ["DEQUANTIZATION", "LikelihoodScore", "bits_per_dim", "dequantize", "evaluate_likelihood",
           "has_likelihood", "test_images", "MAX_LIKELIHOOD_SAMPLES"]

#: The most samples per image a stochastic likelihood bound may take: each is a decoder pass
#: per image (a VAE's importance-weighted bound), and 100 already gives the bound to three
#: decimals; a bound, so that a typo's extra zeros are an error rather than days of scoring.
MAX_LIKELIHOOD_SAMPLES = 10_000

#: How test images are made continuous, as the output and the JSON files say it.
DEQUANTIZATION = "uniform dequantization of 8-bit pixels: x = (k + u) / 256, u ~ U[0, 1)"


def has_likelihood(model: Any) -> bool:
    """Whether ``model`` can score images (is a :class:`~genzoo.DensityModel`)."""
    return isinstance(model, DensityModel)


@dataclass(frozen=True)
class LikelihoodScore:
    """What :func:`evaluate_likelihood` measured.

    Attributes:
        bits_per_dim: The mean over the images (lower is better).
        stderr: Its standard error over the images (and the dequantization noise).
        kind: ``"exact"`` for the model's exact density, ``"bound"`` for a lower bound on the
            likelihood (so an upper bound on bits/dim).
        n: How many images were scored.
        samples: The ``samples`` the model's estimate used (a VAE's importance samples).
        dataset: The data set's name, or ``None`` for given images.
        split: ``"test"``, or ``None`` for given images.
        seed: The seed of the dequantization noise and the model's sampling.
        dequantization: How the 8-bit images were made continuous.
    """

    bits_per_dim: float
    stderr: float
    kind: Literal["exact", "bound"]
    n: int
    samples: int = 1
    dataset: str | None = None
    split: str | None = None
    seed: int = 0
    dequantization: str = DEQUANTIZATION

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        where = f"{self.dataset} {self.split} images" if self.dataset else "images"
        estimate = "" if self.kind == "exact" or self.samples == 1 else f", {self.samples} samples"
        return (f"{self.bits_per_dim:.4f} ± {self.stderr:.4f} bits/dim ({self.kind}{estimate}) "
                f"on {self.n} {where}, uniform dequantization of 8-bit pixels")


def evaluate_likelihood(model: Any, images: torch.Tensor | None = None, *, dataset: str = "mnist",
                        n: int | None = None, samples: int = 1, seed: int = 0,
                        batch_size: int = 500, root: str | os.PathLike[str] | None = None,
                        download: bool = True) -> LikelihoodScore:
    """Bits per dimension of ``model`` on a data set's test split (or on given images).

    The images are dequantized uniformly with noise from ``seed`` and scored in batches in eval
    mode without gradients; torch's global random state is saved and restored, so the same
    model and seed give the same number.

    Args:
        model: A :class:`~genzoo.DensityModel`.
        images: ``N×C×H×W`` 8-bit images (``uint8``, or floats ``k / 255``) to score instead of
            the test split.
        dataset: The named data set whose test split is scored (when ``images`` is ``None``).
        n: Score a fixed random subset of this many images (default: all).
        samples: Passed to the model's ``log_likelihood`` (a VAE's importance samples ``K``:
            1 is the ELBO), at most :data:`MAX_LIKELIHOOD_SAMPLES`. A progress bar shows on a
            terminal when scoring takes more than a second.
        seed: Seeds the dequantization noise and the model's sampling.
        batch_size: Images per batch.
        root: The data folder (see :func:`genzoo.data.data_root`).
        download: Download the data set if it is missing.

    Returns:
        The mean bits/dim, its standard error, and whether it is exact or a bound.

    Raises:
        MetricsError: the model has no ``log_likelihood``, makes images of another shape,
            or ``n``, ``samples`` or ``batch_size`` is not a positive integer, or ``samples``
            is above :data:`MAX_LIKELIHOOD_SAMPLES`.
    """
    for name, value in (("samples", samples), ("batch_size", batch_size), ("n", n)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise MetricsError(f"{name} must be a positive integer, got {value!r}")
    if samples > MAX_LIKELIHOOD_SAMPLES:
        raise MetricsError(f"samples={samples:,} would take a decoder pass per image each; use at "
                           f"most {MAX_LIKELIHOOD_SAMPLES:,} (100 is the usual choice)")
    if not has_likelihood(model):
        raise MetricsError(
            f"{type(model).__name__} has no log_likelihood (it is not a genzoo.DensityModel), so "
            f"it has no bits/dim; score models that can compute their likelihood"
        )
    split = None
    if images is None:
        images, split = test_images(dataset, n, root=root, download=download), "test"
    elif n is not None:
        images = fixed_subset(images, n)
    check_model_shape(model, tuple(images.shape[1:]), dataset if split else "the given")
    device = device_of(model)
    generator = torch.Generator().manual_seed(seed)
    bits, exact = [], True
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
            eval_mode(model), torch.no_grad():
        torch.manual_seed(seed)
        starts = range(0, len(images), batch_size)
        for start in sampling_progress(starts, desc="bits/dim", total=len(starts)):
            x = dequantize(images[start:start + batch_size], generator=generator).to(device)
            result = model.log_likelihood(x, samples=samples, generator=generator)
            bits.append(bits_per_dim(result.values.double().cpu(), x[0].numel()))
            exact = exact and bool(result.exact)
    values = torch.cat(bits)
    stderr = float(values.std() / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return LikelihoodScore(bits_per_dim=float(values.mean()), stderr=stderr,
                           kind="exact" if exact else "bound", n=len(values),
                           samples=samples, dataset=dataset if split else None, split=split,
                           seed=seed)


def test_images(dataset: str, n: int | None = None, *, root: str | os.PathLike[str] | None = None,
                download: bool = True) -> torch.Tensor:
    """A named data set's test images (``uint8``), or the fixed random subset of ``n`` of them
    that :func:`evaluate_likelihood` scores; a split streamed from disk (CelebA's) decodes only
    those."""
    from ..data import ImageSet, load_images

    test = load_images(dataset, root=root, train=False, download=download)
    if isinstance(test, ImageSet):
        return test.images if n is None else fixed_subset(test.images, n)
    index = None if n is None else fixed_subset(torch.arange(len(test)), n)
    return test.load(index).images
