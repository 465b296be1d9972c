"""evaluate(): sanity of the numbers, the floor, intervals, the card, determinism and errors."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.data import load_images
from genzoo.metrics import Bootstrap, FeatureSpace, Metrics, MetricsError, evaluate
from genzoo.metrics.evaluation import class_proportional_labels

QUICK = Bootstrap(resamples=20)


@pytest.fixture(scope="module")
def n(mnist_test) -> int:
    """Images per evaluation: 1,000, or all of the generated stand-in's test images."""
    return min(1000, len(mnist_test))


@pytest.fixture(scope="module")
def good_score(real_mnist) -> float:
    """The classifier score real images beat (the most is 10: ten evenly used classes)."""
    return 7.0 if real_mnist else 4.0


@pytest.fixture(scope="module")
def real_images(mnist_test, n) -> torch.Tensor:
    """``n`` random test images (the test set's first half is by other writers than its second)."""
    return mnist_test[torch.randperm(len(mnist_test), generator=torch.Generator().manual_seed(1))[:n]]


@pytest.fixture(scope="module")
def real_metrics(classifier, real_images, mnist_root) -> Metrics:
    return evaluate(real_images, space=classifier, root=mnist_root, download=False, bootstrap=QUICK)


@pytest.fixture(scope="module")
def noise_metrics(classifier, mnist_root, n) -> Metrics:
    noise = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return evaluate(noise, space=classifier, root=mnist_root, download=False, bootstrap=QUICK)


def test_real_images_score_like_real_data(real_metrics, n, good_score):
    assert real_metrics.n == n and real_metrics.dataset == "mnist"
    assert real_metrics.card.samples == {"given": True}
    assert real_metrics.fid < 1.5 * real_metrics.floor.fid and abs(real_metrics.kid) < 0.05
    assert real_metrics.precision > 0.8 and real_metrics.recall > 0.8
    assert 0.7 < real_metrics.density < 1.3 and real_metrics.coverage > 0.8
    assert real_metrics.classifier_score > good_score


def test_noise_scores_badly(noise_metrics, real_metrics):
    assert noise_metrics.fid > 50 * max(real_metrics.fid, 1)
    assert noise_metrics.kid > 100 * max(abs(real_metrics.kid), 1e-3)
    assert noise_metrics.precision < 0.15 and noise_metrics.recall < 0.05  # precision: outliers
    assert noise_metrics.density < 0.05 and noise_metrics.coverage < 0.05


def test_every_number_has_an_interval_around_it(real_metrics, noise_metrics):
    for metrics in (real_metrics, noise_metrics):
        for scores in (metrics.scores, metrics.floor):
            assert set(scores.intervals) == set(scores.names())
            for name in scores.names():
                low, high = scores.intervals[name]
                assert low <= getattr(scores, name) <= high, name
    low, high = real_metrics.scores.intervals["precision"]
    assert 0 < high - low < 0.2 and 0 <= low and high <= 1


def test_one_repeated_image_has_a_classifier_score_of_one(classifier, mnist_test, mnist_root):
    same = mnist_test[:1].expand(200, -1, -1, -1)
    metrics = evaluate(same, space=classifier, root=mnist_root, download=False, bootstrap=QUICK)
    assert metrics.classifier_score == pytest.approx(1.0)
    assert metrics.recall < 0.05 and metrics.coverage < 0.05


def test_the_floor_is_real_training_data_and_is_cached(real_metrics, classifier, n, good_score):
    floor = real_metrics.floor
    assert real_metrics.card.floor_n == n
    assert floor.fid < 100 and floor.precision > 0.8 and floor.recall > 0.8
    assert floor.classifier_score > good_score
    reloaded = FeatureSpace.from_payload(torch.load(classifier.path, weights_only=True))
    records = [r for r in reloaded.floors.values() if r["n"] == n]
    assert records and any(r["scores"] == floor.as_record() for r in records)


def test_the_same_images_give_identical_numbers_whatever_the_batch_size(real_metrics, classifier,
                                                                      real_images, mnist_root):
    again = evaluate(real_images, space=classifier, root=mnist_root, download=False, bootstrap=QUICK,
                     batch_size=7)
    assert again == real_metrics
    record = again.as_dict()
    assert set(record) == {"scores", "floor", "card"}
    assert set(record["scores"]["fid"]) == {"value", "low", "high"}
    assert Metrics.from_dict(record) == again


def test_the_same_model_and_seed_give_identical_numbers(classifier, mnist_root):
    model = genzoo.build("vae", hidden_dim=32, seed=0)
    state = torch.get_rng_state()
    kwargs = {"n": 300, "space": classifier, "root": mnist_root, "download": False, "bootstrap": QUICK}
    first = evaluate(model, seed=3, **kwargs)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is untouched
    second = evaluate(model, seed=3, batch_size=64, **kwargs)  # batch size changes nothing
    other = evaluate(model, seed=4, **kwargs)
    assert first == second and first.card.samples == {"seed": 3, "block": 500} and first.n == 300
    assert other.fid != first.fid
    reblocked = evaluate(model, seed=3, sample_block=100, **kwargs)  # other images: another card
    assert reblocked.card != first.card


def test_a_conditional_model_samples_the_training_class_frequencies(classifier, mnist_root):
    seen: dict[int, list[torch.Tensor]] = {}

    def recording(classes: int) -> genzoo.GenerativeModel:
        model = genzoo.build("vae", hidden_dim=32, num_classes=classes, seed=0)
        original, seen[classes] = model.sample, []

        def sample(n, **options):
            seen[classes].append(options.get("labels"))
            return original(n, **options)

        model.sample = sample
        return model

    kwargs = {"n": 300, "sample_block": 100, "space": classifier, "root": mnist_root,
              "download": False, "bootstrap": QUICK}
    metrics = evaluate(recording(10), **kwargs)
    assert metrics.card.samples["labels"] == "training class frequencies"
    training = load_images("mnist", root=mnist_root, download=False).labels
    expected = torch.bincount(training, minlength=10).double() * 300 / len(training)
    counts = torch.bincount(torch.cat(seen[10]), minlength=10)
    assert counts.sum() == 300 and (counts - expected).abs().max() < 1
    assert not torch.equal(torch.cat(seen[10]), torch.arange(300) % 10)  # not in turn
    other = evaluate(recording(5), **kwargs)  # the data has 10 classes: no frequencies to match
    assert other.card.samples["labels"] == "every class in turn" and seen[5] == [None] * 3


def test_class_proportional_labels():
    labels = torch.tensor([0] * 5 + [1] * 3 + [2] * 2)
    drawn = class_proportional_labels(labels, 7, 3)
    assert torch.bincount(drawn).tolist() == [4, 2, 1]  # 3.5, 2.1, 1.4: the largest remainder
    assert torch.equal(drawn, class_proportional_labels(labels, 7, 3))
    assert torch.bincount(class_proportional_labels(labels, 20, 3)).tolist() == [10, 6, 4]
    with pytest.raises(MetricsError, match=r"classes in \[0, 2\)"):
        class_proportional_labels(labels, 7, 2)


def test_the_card_says_how_the_numbers_were_made(real_metrics, classifier):
    card = real_metrics.card
    assert card.features["weights_sha256"] == classifier.weights_sha256
    assert card.features["kind"] == "classifier" and "antialias" in card.features["resize"]
    assert card.data["fingerprint"] == classifier.data["fingerprint"]
    assert card.bootstrap["resamples"] == 20 and card.bootstrap["level"] == 0.95
    assert card.metrics["k"] == 3 and card.software["genzoo"] == genzoo.__version__


def test_a_model_of_another_channel_count_is_refused(classifier):
    model = genzoo.build("vae", hidden_dim=32, image_shape=(3, 32, 32))
    with pytest.raises(MetricsError, match=r"3 channel\(s\).*has 1"):
        evaluate(model, n=100, space=classifier)


def test_bad_inputs_are_refused(classifier):
    with pytest.raises(MetricsError, match="sample"):
        evaluate([1, 2, 3], space=classifier)
    with pytest.raises(MetricsError, match="above k=3"):
        evaluate(torch.rand(10, 1, 28, 28), n=3, space=classifier)
    with pytest.raises(MetricsError, match="only 10 images"):
        evaluate(torch.rand(10, 1, 28, 28), n=20, space=classifier)
    with pytest.raises(MetricsError, match="resamples must be an integer of at least 10"):
        Bootstrap(resamples=5)


def test_a_cached_network_of_other_files_of_the_same_name_says_to_delete_it(
        classifier, mnist_test, make_idx_root):
    """A cache made from other files named mnist (an older download, a stand-in) is not used
    against these: the error names the cache file to delete."""
    other = make_idx_root("MNIST", train=64, test=16, seed=7)
    with pytest.raises(MetricsError) as caught:
        evaluate(mnist_test[:16], space=classifier, root=other, download=False, bootstrap=QUICK)
    message = str(caught.value)
    assert f"the cached network {classifier.path} was trained on other files" in message
    assert "delete it" in message and "\n" not in message
