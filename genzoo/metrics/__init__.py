"""Built-in sample-quality metrics that work offline: FID, classifier score, precision/recall.

Inception features fit MNIST-like data poorly and need a download, so genzoo trains a small
classifier per named data set on its real training set (once, with a fixed seed; cached under
``~/.cache/genzoo/classifiers``) and measures in its features:

* **FID** between the samples and the real test set (penultimate 128-d features);
* the **classifier score**, ``exp(E KL(p(y|x) || p(y)))`` from its softmax (Inception-score-like);
* **precision and recall** of k-NN manifolds (Kynkäänniemi et al., 2019, k=3).

Models that can score images (:class:`genzoo.DensityModel`) also get **bits per dimension** on
the test split (:mod:`genzoo.metrics.likelihood`), exact or a bound.

Every number comes with the **real-data floor**: the same metric for as many real training
images, against the same test set. Inception FID is available as an optional extra
(:func:`inception_fid`, needs torch-fidelity and its weights).

Example:
    >>> import genzoo
    >>> from genzoo.metrics import evaluate, EvaluateEvery
    >>> metrics = evaluate(genzoo.load("runs/vae/checkpoints/last.pt"), dataset="mnist")  # doctest: +SKIP
    >>> print(metrics.fid, metrics.floor.fid)  # doctest: +SKIP
    >>> model.fit(loader, epochs=20, callbacks=[EvaluateEvery(5)])  # doctest: +SKIP
"""

from __future__ import annotations

from .callback import EvaluateEvery
from .classifier import DomainClassifier, RealReference, canonical_dataset, domain_classifier
from .classifier_cache import classifier_cache_dir, classifier_cache_path
from .errors import ClassifierCacheWarning, MetricsError
from .evaluate import DEFAULT_N, METRIC_NAMES, Metrics, Scores, evaluate, real_data_floor, score_features
from .fid import feature_statistics, fid_from_features, frechet_distance
from .inception import InceptionFID, inception_fid, inception_weights_path, require_inception
from .likelihood import LikelihoodEvery, LikelihoodScore, bits_per_dim, evaluate_likelihood
from .network import ClassifierNet
from .report import format_metrics, markdown_table
from .scores import classifier_score, precision_recall

__all__ = [
    "evaluate",
    "Metrics",
    "Scores",
    "DEFAULT_N",
    "METRIC_NAMES",
    "real_data_floor",
    "score_features",
    "EvaluateEvery",
    "evaluate_likelihood",
    "LikelihoodScore",
    "LikelihoodEvery",
    "bits_per_dim",
    "domain_classifier",
    "DomainClassifier",
    "RealReference",
    "ClassifierNet",
    "canonical_dataset",
    "classifier_cache_dir",
    "classifier_cache_path",
    "frechet_distance",
    "feature_statistics",
    "fid_from_features",
    "classifier_score",
    "precision_recall",
    "inception_fid",
    "InceptionFID",
    "inception_weights_path",
    "require_inception",
    "format_metrics",
    "markdown_table",
    "MetricsError",
    "ClassifierCacheWarning",
]
