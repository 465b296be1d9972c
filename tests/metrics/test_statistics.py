"""KID against torchmetrics, the bootstrap's intervals, and images resized and run in fixed blocks."""

from __future__ import annotations

import pytest
import torch

from genzoo.metrics import Bootstrap, MetricsError
from genzoo.metrics.images import FEATURE_BLOCK, blockwise, feature_input_size, prepare_images
from genzoo.metrics.scoring import kid_terms, percentile_interval


def test_kid_is_torchmetrics_unbiased_mmd_and_splits_into_per_image_terms():
    from torchmetrics.image.kid import poly_mmd

    g = torch.Generator().manual_seed(0)
    real = torch.randn(150, 12, generator=g, dtype=torch.float64)
    fake = torch.randn(150, 12, generator=g, dtype=torch.float64) + 0.4
    terms = kid_terms(fake, real)
    assert terms.kid == pytest.approx(float(poly_mmd(real, fake)), rel=1e-10)
    assert terms.a.shape == (150,) and terms.b.shape == (150,)
    assert kid_terms(fake, real[:90]).kid == pytest.approx(  # sizes may differ
        float(_unbiased_mmd(fake, real[:90])), rel=1e-10)


def _unbiased_mmd(x, y):
    from torchmetrics.image.kid import poly_kernel

    kxx, kyy, kxy = poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y)
    n, m = len(x), len(y)
    return ((kxx.sum() - kxx.trace()) / (n * (n - 1)) + (kyy.sum() - kyy.trace()) / (m * (m - 1))
            - 2 * kxy.mean())


def test_kid_of_samples_of_one_distribution_is_near_zero_even_at_small_n():
    g = torch.Generator().manual_seed(1)
    values = [kid_terms(torch.randn(30, 8, generator=g), torch.randn(40, 8, generator=g)).kid
              for _ in range(40)]
    mean = sum(values) / len(values)
    assert abs(mean) < 0.02 and min(values) < 0 < max(values)  # unbiased: as often below as above


def test_the_bootstrap_is_deterministic_and_covers_the_estimate():
    boot = Bootstrap(resamples=100, level=0.9, seed=3)
    first, again = boot.indices((50, 20)), boot.indices((50, 20))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert first[0].shape == (100, 50) and first[1].shape == (100, 20)
    values = torch.randn(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    estimate = float(values.mean())
    low, high = percentile_interval(estimate, values[first[0]].mean(1), 0.9)
    assert low < estimate < high
    assert high - low == pytest.approx(2 * 1.645 * float(values.std()) / 50**0.5, rel=0.3)


def test_a_biased_statistic_gets_an_interval_around_its_estimate():
    replicates = torch.linspace(48.0, 52.0, 200)  # every resample above the estimate, as FID's
    low, high = percentile_interval(10.0, replicates, 0.95)
    assert low < 10.0 < high and high - low == pytest.approx(3.8, abs=0.1)
    assert percentile_interval(0.99, torch.linspace(0.97, 1.01, 50), 0.95, bounds=(0, 1)).high == 1.0


def test_bad_bootstrap_settings_are_refused():
    with pytest.raises(MetricsError, match="strictly between 0 and 1"):
        Bootstrap(level=1.0)


def test_one_documented_resize_filter_for_every_size_change():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(3, 3, 40, 30, generator=g) * 255).to(torch.uint8)
    resized = prepare_images(images, (20, 15))
    expected = torch.nn.functional.interpolate(images.float() / 255, size=(20, 15), mode="bicubic",
                                               antialias=True, align_corners=False).clamp(0, 1)
    torch.testing.assert_close(resized, expected, rtol=0, atol=0)
    floats = torch.rand(2, 1, 8, 8, generator=g)
    assert torch.equal(prepare_images(floats, (8, 8)) * 255, (floats * 255).round())  # 8 bits, same size
    assert feature_input_size(28, 28) == (28, 28) and feature_input_size(96, 96) == (64, 64)
    assert feature_input_size(128, 96) == (64, 48)


def test_networks_run_on_fixed_blocks_whatever_the_batch():
    sizes = []

    def fn(block):
        sizes.append(len(block))
        return block.sum((1, 2, 3)), None

    out = blockwise(fn, torch.ones(FEATURE_BLOCK + 7, 1, 2, 2))
    assert sizes == [FEATURE_BLOCK, FEATURE_BLOCK] and sum(len(o[0]) for o in out) == FEATURE_BLOCK + 7
