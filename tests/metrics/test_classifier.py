"""Feature spaces: the classifier's accuracy, the cache (reuse, corruption, keys) and input checks."""

from __future__ import annotations

import os

import pytest
import torch

from genzoo.data import DataError
from genzoo.metrics import (
    FeatureCacheWarning,
    FeatureSpace,
    MetricsError,
    domain_classifier,
    feature_cache_path,
    feature_space,
)
from genzoo.metrics import features as spaces_module


def test_the_classifier_learns_the_data_and_caches_its_reference(classifier, metrics_cache, real_mnist):
    assert classifier.kind == "classifier" and classifier.test_accuracy > (0.9 if real_mnist else 0.7)
    assert classifier.input_shape == (1, 28, 28) and classifier.num_classes == 10
    assert classifier.path.parent == metrics_cache and classifier.path.name.startswith("mnist-classifier-v2-")
    assert classifier.path.is_file()
    assert classifier.reference.shape[1] == 128 and classifier.kernel_sums.dtype == torch.float64
    assert classifier.training["seed"] == 0 and len(classifier.weights_sha256) == 64
    assert classifier.data["name"] == "mnist" and classifier.data["reference_split"] == "mnist test split"


def test_a_second_call_loads_the_cache_without_training(classifier, mnist_root, metrics_cache,
                                                        quick_settings, monkeypatch):
    mtime = os.stat(classifier.path).st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("the classifier was trained again")

    monkeypatch.setattr(spaces_module, "train_classifier_net", no_training)
    monkeypatch.setattr(spaces_module, "load_eval_data", no_training)  # a named set's cache needs no data
    again = domain_classifier("mnist", root=mnist_root, cache_dir=metrics_cache, download=False,
                              **quick_settings)
    assert os.stat(classifier.path).st_mtime_ns == mtime
    assert again.test_accuracy == classifier.test_accuracy
    assert again.weights_sha256 == classifier.weights_sha256
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.features(images), classifier.features(images), rtol=0, atol=0)


@pytest.mark.parametrize("damage", [b"not a torch file at all", "wrong-format"])
def test_an_unusable_cache_file_is_retrained_with_a_warning(classifier, tmp_path, monkeypatch, damage):
    path = feature_cache_path("mnist", "classifier", cache_dir=tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    else:
        torch.save({"format": "something else"}, path)
    trained = []

    def fake_training(kind, data, settings, **kwargs):  # the session's classifier stands in
        trained.append(kind)
        return FeatureSpace.from_payload(classifier.payload())

    monkeypatch.setattr(spaces_module, "_train", fake_training)
    monkeypatch.setattr(spaces_module, "load_eval_data", lambda *args, **kwargs: None)
    with pytest.warns(FeatureCacheWarning, match="unusable.*training it again"):
        rebuilt = domain_classifier("mnist", cache_dir=tmp_path)
    assert trained == ["classifier"]
    assert rebuilt.path == path
    fresh = domain_classifier("mnist", cache_dir=tmp_path)  # the rewritten file now loads
    assert trained == ["classifier"] and fresh.test_accuracy == classifier.test_accuracy


def test_the_cache_folder_follows_xdg_cache_home_and_names_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    default = feature_cache_path("mnist", "classifier")
    assert default == tmp_path / "genzoo" / "features" / "mnist-classifier-v2.pt"
    quick = feature_cache_path("mnist", "classifier", settings={"epochs": 1})
    assert quick.name.startswith("mnist-classifier-v2-") and quick != default


def test_folders_are_cached_by_their_contents(class_folder, tmp_path):
    import shutil

    from genzoo.metrics import load_eval_data

    first = load_eval_data(class_folder)
    copy = shutil.copytree(class_folder, tmp_path / class_folder.name)
    assert load_eval_data(copy).key == first.key  # same images, same key, wherever they are
    next(copy.rglob("*.png")).unlink()
    assert load_eval_data(copy).key != first.key


def test_a_labelled_folder_gets_a_classifier_and_an_unlabelled_one_cannot(class_folder, colour_folder,
                                                                           metrics_cache):
    space = feature_space(class_folder, cache_dir=metrics_cache)
    assert space.kind == "classifier" and space.num_classes == 4
    assert space.test_accuracy > 0.6  # four shapes, 120 training images
    assert space.data["labels"] is True and space.data["image_shape"] == [3, 16, 16]
    with pytest.raises(MetricsError, match="no labels.*contrastive"):
        domain_classifier(colour_folder, cache_dir=metrics_cache)


def test_unknown_data_and_kinds_are_refused(mnist_root):
    with pytest.raises(DataError, match="is neither a known data set"):
        feature_space("no-such-set")
    with pytest.raises(MetricsError, match="unknown feature network 'vgg'"):
        feature_space("mnist", "vgg", root=mnist_root)
    with pytest.raises(MetricsError, match="test split is the reference"):
        feature_space("mnist:test", root=mnist_root)


def test_images_with_the_wrong_channels_or_range_are_refused(classifier):
    with pytest.raises(MetricsError, match=r"3 channel\(s\) but the reference data \(mnist\) has 1"):
        classifier.features(torch.rand(4, 3, 32, 32))
    with pytest.raises(MetricsError, match=r"\[0, 1\]"):
        classifier.features(torch.randn(4, 1, 28, 28))


def test_images_of_another_size_are_resized(classifier):
    small = torch.rand(4, 1, 20, 20, generator=torch.Generator().manual_seed(0))
    features, probs = classifier.features(small)
    assert features.shape == (4, 128) and probs.shape == (4, 10)
