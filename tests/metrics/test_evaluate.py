"""evaluate(): sanity of the numbers, the floor, determinism and errors."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.metrics import DomainClassifier, Metrics, MetricsError, evaluate


@pytest.fixture(scope="module")
def n(mnist_test) -> int:
    """Images per evaluation: 2,000, or all of the generated stand-in's test images."""
    return min(2000, len(mnist_test))


@pytest.fixture(scope="module")
def good_score(real_mnist) -> float:
    """The classifier score real images beat (the most is 10: ten evenly used classes)."""
    return 7.0 if real_mnist else 4.0


@pytest.fixture(scope="module")
def real_metrics(classifier, mnist_test, mnist_root, n) -> Metrics:
    return evaluate(mnist_test[:n], classifier=classifier, root=mnist_root, download=False)


@pytest.fixture(scope="module")
def noise_metrics(classifier, mnist_root, n) -> Metrics:
    noise = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return evaluate(noise, classifier=classifier, root=mnist_root, download=False)


def test_real_images_score_like_real_data(real_metrics, n, good_score):
    assert real_metrics.n == n and real_metrics.dataset == "mnist" and real_metrics.seed is None
    assert real_metrics.fid < 20
    assert real_metrics.precision > 0.8 and real_metrics.recall > 0.8
    assert real_metrics.classifier_score > good_score


def test_noise_scores_badly(noise_metrics, real_metrics):
    assert noise_metrics.fid > 50 * max(real_metrics.fid, 1)
    assert noise_metrics.precision < 0.05 and noise_metrics.recall < 0.05


def test_one_repeated_image_has_a_classifier_score_of_one(classifier, mnist_test, mnist_root):
    same = mnist_test[:1].expand(200, -1, -1, -1)
    metrics = evaluate(same, classifier=classifier, root=mnist_root, download=False)
    assert metrics.classifier_score == pytest.approx(1.0)
    assert metrics.recall < 0.05


def test_the_floor_is_real_training_data_and_is_cached(real_metrics, classifier, n, good_score):
    floor = real_metrics.floor
    assert floor.fid < 20 and floor.precision > 0.8 and floor.recall > 0.8
    assert floor.classifier_score > good_score
    assert classifier.floors[n] == floor.as_dict()
    reloaded = DomainClassifier.from_payload(torch.load(classifier.path, weights_only=True))
    assert reloaded.floors[n] == floor.as_dict()


def test_the_same_images_give_identical_numbers(real_metrics, classifier, mnist_test, mnist_root, n):
    again = evaluate(mnist_test[:n], classifier=classifier, root=mnist_root, download=False)
    assert again == real_metrics
    record = again.as_dict()
    assert set(record) >= {"fid", "classifier_score", "precision", "recall", "n", "dataset", "floor"}
    assert set(record["floor"]) == {"fid", "classifier_score", "precision", "recall"}


def test_the_same_model_and_seed_give_identical_numbers(classifier, mnist_root):
    model = genzoo.build("vae", hidden_dim=32, seed=0)
    state = torch.get_rng_state()
    first = evaluate(model, n=300, seed=3, batch_size=128, classifier=classifier, root=mnist_root,
                     download=False)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is untouched
    second = evaluate(model, n=300, seed=3, batch_size=128, classifier=classifier, root=mnist_root,
                      download=False)
    other = evaluate(model, n=300, seed=4, batch_size=128, classifier=classifier, root=mnist_root,
                     download=False)
    assert first == second and first.seed == 3 and first.n == 300
    assert other.fid != first.fid


def test_a_model_of_another_image_shape_is_refused(classifier):
    model = genzoo.build("vae", hidden_dim=32, image_shape=(3, 32, 32))
    with pytest.raises(MetricsError, match=r"makes images of shape \(3, 32, 32\).*\(1, 28, 28\)"):
        evaluate(model, n=100, classifier=classifier)


def test_bad_inputs_are_refused(classifier):
    with pytest.raises(MetricsError, match="classifier given is of mnist"):
        evaluate(torch.rand(10, 1, 28, 28), dataset="fashion-mnist", classifier=classifier)
    with pytest.raises(MetricsError, match="sample"):
        evaluate([1, 2, 3], classifier=classifier)
    with pytest.raises(MetricsError, match="above k=3"):
        evaluate(torch.rand(10, 1, 28, 28), n=3, classifier=classifier)
    with pytest.raises(MetricsError, match="only 10 images"):
        evaluate(torch.rand(10, 1, 28, 28), n=20, classifier=classifier)
