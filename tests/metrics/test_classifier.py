"""The domain classifier: accuracy, the cache (reuse, corruption) and input checks."""

from __future__ import annotations

import os

import pytest
import torch

from genzoo.metrics import (
    ClassifierCacheWarning,
    DomainClassifier,
    MetricsError,
    classifier_cache_path,
    domain_classifier,
)
from genzoo.metrics import classifier as classifier_module


def test_the_classifier_learns_the_data_and_caches_its_reference(classifier, metrics_cache, quick_settings,
                                                                real_mnist):
    assert classifier.test_accuracy > (0.9 if real_mnist else 0.7)
    assert classifier.image_shape == (1, 28, 28) and classifier.num_classes == 10
    assert classifier.path == classifier_cache_path("mnist", cache_dir=metrics_cache, **quick_settings)
    assert classifier.path.is_file()
    features, mean, cov = classifier.reference
    assert features.shape[1] == 128 and mean.dtype == cov.dtype == torch.float64
    assert classifier.training["seed"] == 0


def test_a_second_call_loads_the_cache_without_training(classifier, mnist_root, metrics_cache,
                                                        quick_settings, monkeypatch):
    mtime = os.stat(classifier.path).st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("the classifier was trained again")

    monkeypatch.setattr(classifier_module, "train_classifier_net", no_training)
    again = domain_classifier("mnist", root=mnist_root, cache_dir=metrics_cache, download=False,
                              **quick_settings)
    assert os.stat(classifier.path).st_mtime_ns == mtime
    assert again.test_accuracy == classifier.test_accuracy
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.features(images), classifier.features(images), rtol=0, atol=0)


@pytest.mark.parametrize("damage", [b"not a torch file at all", "wrong-format"])
def test_an_unusable_cache_file_is_retrained_with_a_warning(classifier, tmp_path, monkeypatch, damage):
    path = classifier_cache_path("mnist", cache_dir=tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    else:
        torch.save({"format": "something else"}, path)
    trained = []

    def fake_training(name, settings, **kwargs):  # the session's classifier stands in for training
        trained.append(name)
        return DomainClassifier.from_payload(classifier.payload())

    monkeypatch.setattr(classifier_module, "_train", fake_training)
    with pytest.warns(ClassifierCacheWarning, match="unusable.*retraining"):
        rebuilt = domain_classifier("mnist", cache_dir=tmp_path)
    assert trained == ["mnist"]
    assert rebuilt.path == path
    fresh = domain_classifier("mnist", cache_dir=tmp_path)  # the rewritten file now loads
    assert trained == ["mnist"] and fresh.test_accuracy == classifier.test_accuracy


def test_the_cache_folder_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert classifier_cache_path("mnist") == tmp_path / "genzoo" / "classifiers" / "mnist-v1.pt"
    assert classifier_cache_path("mnist", epochs=1, max_train_images=500).name == "mnist-v1-e1-n500.pt"


def test_unknown_data_sets_are_refused():
    with pytest.raises(MetricsError, match="Known: fashion-mnist, mnist"):
        domain_classifier("cifar10")


def test_images_of_the_wrong_shape_or_range_are_refused(classifier):
    with pytest.raises(MetricsError, match=r"\(3, 32, 32\).*reads \(1, 28, 28\)"):
        classifier.features(torch.rand(4, 3, 32, 32))
    with pytest.raises(MetricsError, match=r"\[0, 1\]"):
        classifier.features(torch.randn(4, 1, 28, 28))
