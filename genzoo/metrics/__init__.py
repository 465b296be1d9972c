"""Sample quality on any data, offline: FID, KID, precision/recall, density/coverage and the
classifier score, each with a bootstrap interval, beside the real-data floor, with a protocol card.

The images are compared in the features of a network that knows the data (see
:func:`feature_space`): a small **domain classifier** genzoo trains on labelled data (a named
data set, or an image folder with one sub-folder per class), a **contrastive network** genzoo
trains on the images alone where there are no labels, or a **pretrained network** (Inception-v3,
DINOv2, CLIP, VGG16, through torch-fidelity) when its weights are on disk. Each of genzoo's own
is trained once, with a fixed seed, and cached by the data's fingerprint under
``~/.cache/genzoo/features``.

* **FID** between the images and the data's reference images (torchmetrics' arithmetic);
* **KID**, the unbiased kernel distance, meaningful at small sample counts too;
* **precision and recall** of k-NN manifolds (Kynkäänniemi et al., 2019, k=3), and **density
  and coverage** (Naeem et al., 2020);
* the **classifier score**, ``exp(E KL(p(y|x) || p(y)))``, where the data has labels.

Models that can score images (:class:`genzoo.DensityModel`) also get **bits per dimension** on
the test split (:mod:`genzoo.metrics.likelihood`), exact or a bound.

Every number comes with a **bootstrap confidence interval** (200 resamples, 95%, by default) and
the **real-data floor**: the same metric for as many real images of the data's other half. The
**protocol card** (:class:`ProtocolCard`) records everything that changes the numbers; results
with different cards are not comparable (``genzoo eval --compare A.json B.json``).

Where each part lives:

* :mod:`genzoo.metrics.evaluation`: :func:`evaluate`, the real-data floor, :func:`score_features`
  (every number of one set of images, with its interval) and drawing a model's samples;
* :mod:`genzoo.metrics.scoring`: the numbers themselves (FID, KID, precision, recall, density,
  coverage, the classifier score) and the bootstrap intervals;
* :mod:`genzoo.metrics.results`: what an evaluation returns (:class:`Metrics`, :class:`Scores`)
  and its protocol card, as JSON-ready records and as text;
* :mod:`genzoo.metrics.features`: feature spaces (:class:`FeatureSpace`, :func:`feature_space`)
  and their cache; :mod:`genzoo.metrics.networks`: genzoo's own feature networks and their
  training; :mod:`genzoo.metrics.pretrained`: the pretrained ones; :mod:`genzoo.metrics.images`:
  images on their way into a feature network;
* :mod:`genzoo.metrics.eval_data`: the real data an evaluation compares with;
* :mod:`genzoo.metrics.likelihood`: bits per dimension;
* :mod:`genzoo.metrics.callbacks`: evaluating during training (:class:`EvaluateEvery`,
  :class:`LikelihoodEvery`);
* :mod:`genzoo.metrics.errors`: the errors and warnings.

Example:
    >>> import genzoo
    >>> from genzoo.metrics import evaluate, EvaluateEvery
    >>> metrics = evaluate(genzoo.load("runs/vae/checkpoints/last.pt"), data="mnist")  # doctest: +SKIP
    >>> print(metrics.fid, metrics.scores.intervals["fid"], metrics.floor.fid)  # doctest: +SKIP
    >>> evaluate(genzoo.load("runs/faces/checkpoints/last.pt"), data="./faces")  # doctest: +SKIP
    >>> model.fit(loader, epochs=20, callbacks=[EvaluateEvery(5)])  # doctest: +SKIP
"""

from __future__ import annotations

from .callbacks import EvaluateEvery, LikelihoodEvery
from .errors import FeatureCacheWarning, MetricsError, SampleCountWarning
from .eval_data import EvalData, load_eval_data
from .evaluation import DEFAULT_N, evaluate, real_data_floor, score_features
from .features import (FEATURE_KINDS, FeatureSpace, domain_classifier, feature_cache_dir, feature_cache_path,
                       feature_space)
from .images import RESIZE_FILTER
from .likelihood import LikelihoodScore, bits_per_dim, evaluate_likelihood
from .networks import ClassifierNet, ContrastiveNet
from .pretrained import (PRETRAINED, inception_weights_path, pretrained_weights_path, require_inception,
                         require_pretrained)
from .results import (METRIC_NAMES, Metrics, ProtocolCard, Scores, card_differences, format_card,
                      format_comparison, format_metrics, markdown_table)
from .scoring import (DEFAULT_LEVEL, DEFAULT_RESAMPLES, Bootstrap, Interval, classifier_score,
                      fid_from_features, manifold_memberships, precision_recall)

__all__ = [
    "evaluate",
    "Metrics",
    "Scores",
    "ProtocolCard",
    "card_differences",
    "Bootstrap",
    "Interval",
    "DEFAULT_N",
    "DEFAULT_RESAMPLES",
    "DEFAULT_LEVEL",
    "METRIC_NAMES",
    "FEATURE_KINDS",
    "RESIZE_FILTER",
    "real_data_floor",
    "score_features",
    "EvaluateEvery",
    "evaluate_likelihood",
    "LikelihoodScore",
    "LikelihoodEvery",
    "bits_per_dim",
    "feature_space",
    "domain_classifier",
    "FeatureSpace",
    "EvalData",
    "load_eval_data",
    "ClassifierNet",
    "ContrastiveNet",
    "feature_cache_dir",
    "feature_cache_path",
    "fid_from_features",
    "classifier_score",
    "precision_recall",
    "manifold_memberships",
    "PRETRAINED",
    "pretrained_weights_path",
    "require_pretrained",
    "inception_weights_path",
    "require_inception",
    "format_metrics",
    "format_card",
    "format_comparison",
    "markdown_table",
    "MetricsError",
    "FeatureCacheWarning",
    "SampleCountWarning",
]
