"""Classifier score and k-NN precision/recall on cases with known answers."""

from __future__ import annotations

import pytest
import torch

from genzoo.metrics import MetricsError, classifier_score, precision_recall


def test_confident_even_predictions_score_the_number_of_classes():
    probs = torch.eye(10).repeat(7, 1)
    assert classifier_score(probs) == pytest.approx(10.0)


def test_one_repeated_prediction_scores_one():
    probs = torch.softmax(torch.tensor([[3.0, 1.0, 0.5]]), 1).repeat(50, 1)
    assert classifier_score(probs) == pytest.approx(1.0)


def test_unsure_predictions_score_lower():
    probs = torch.full((40, 10), 0.1)
    assert classifier_score(probs) == pytest.approx(1.0)
    mixed = 0.5 * torch.eye(10).repeat(4, 1) + 0.05
    assert 1.0 < classifier_score(mixed) < 10.0


def test_classifier_score_refuses_logits():
    with pytest.raises(MetricsError, match="softmax"):
        classifier_score(torch.randn(8, 10))


def test_precision_recall_of_a_set_against_itself_are_one():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    assert precision_recall(x, x) == (1.0, 1.0)


def test_far_apart_sets_have_zero_precision_and_recall():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(200, 8, generator=g), torch.randn(150, 8, generator=g) + 100
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_a_collapsed_set_is_precise_but_has_low_recall():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(400, 2, generator=g)
    fake = real[real[:, 0] > 1.0]  # one corner of the real distribution
    precision, recall = precision_recall(real, fake)
    assert precision == 1.0
    assert recall < 0.4


def test_the_order_of_points_does_not_change_the_result():
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(257, 5, generator=g), torch.randn(199, 5, generator=g) * 1.5
    assert precision_recall(real, fake) == precision_recall(real.flip(0), fake.flip(0))


def test_too_few_points_for_k_neighbours_are_refused():
    with pytest.raises(MetricsError, match="at least 4"):
        precision_recall(torch.randn(3, 2), torch.randn(10, 2))
    with pytest.raises(MetricsError, match="dimensions"):
        precision_recall(torch.randn(10, 2), torch.randn(10, 3))


def test_density_and_coverage_of_a_set_against_itself():
    from genzoo.metrics import manifold_memberships

    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(4))
    means = manifold_memberships(x, x).means()
    assert means["coverage"] == 1.0 and means["precision"] == 1.0
    assert means["density"] == pytest.approx(1 + 1 / 3, abs=0.05)  # own ball + k neighbours' balls


def test_coverage_falls_when_samples_crowd_one_region():
    from genzoo.metrics import manifold_memberships

    g = torch.Generator().manual_seed(5)
    real = torch.randn(500, 2, generator=g)
    crowded = torch.randn(500, 2, generator=g) * 0.2  # all near the centre of the data
    means = manifold_memberships(real, crowded).means()
    assert means["coverage"] < 0.5 and means["precision"] > 0.95 and means["recall"] < 0.5


def test_memberships_are_per_image():
    from genzoo.metrics import manifold_memberships

    g = torch.Generator().manual_seed(6)
    real, fake = torch.randn(200, 4, generator=g), torch.randn(150, 4, generator=g)
    members = manifold_memberships(real, fake)
    assert members.precision.shape == members.density.shape == (150,)
    assert members.recall.shape == members.coverage.shape == (200,)
    assert members.means()["precision"] == pytest.approx(precision_recall(real, fake)[0])
