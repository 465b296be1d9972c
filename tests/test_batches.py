"""Batches: what the runner accepts, and the errors for what it does not."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.batches import check_range, to_batch

CPU = torch.device("cpu")
SHAPE = (1, 28, 28)


def test_float_tensor_and_tuple_and_uint8_are_accepted():
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(to_batch(x, SHAPE, CPU).images, x)
    labels = torch.arange(4)
    batch = to_batch((x, labels), SHAPE, CPU)
    assert torch.equal(batch.labels, labels)
    raw = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    converted = to_batch(raw, SHAPE, CPU).images
    assert converted.dtype == torch.float32
    assert torch.allclose(converted, raw.float() / 255)


def test_a_batch_on_the_device_is_not_copied():
    x = torch.rand(2, 1, 28, 28)
    assert to_batch(x, SHAPE, CPU).images.data_ptr() == x.data_ptr()


@pytest.mark.parametrize("bad, message", [
    (torch.rand(4, 28, 28), r"N×1×28×28, got \(4, 28, 28\) \(add the channel axis"),
    (torch.rand(4, 28, 28, 1), r"channels come last"),
    (torch.rand(4, 3, 32, 32), r"build the model with image_shape=\(3, 32, 32\)"),
    (torch.rand(4, 784), r"expected images of shape N×1×28×28, got \(4, 784\)"),
    (torch.zeros(0, 1, 28, 28), r"zero images"),
    (torch.zeros(4, 1, 28, 28, dtype=torch.int64), r"uint8 images in \[0, 255\], got dtype torch.int64"),
    ([1, 2, 3], r"got int"),
    ((), r"empty tuple"),
    ("images", r"got str"),
])
def test_bad_batches_get_clear_errors(bad, message):
    with pytest.raises(genzoo.BatchError, match=message):
        to_batch(bad, SHAPE, CPU)


@pytest.mark.parametrize("values, hint", [
    (torch.rand(2, 1, 28, 28) * 2 - 1, "normalised to \\[-1, 1\\]: drop the Normalize"),
    (torch.rand(2, 1, 28, 28) * 255, "raw pixel values: divide by 255"),
    (torch.full((2, 1, 28, 28), float("nan")), "expected image values in \\[0, 1\\]"),
])
def test_values_outside_unit_range_are_refused(values, hint):
    with pytest.raises(genzoo.BatchError, match=hint):
        check_range(values)


def test_fit_refuses_a_normalised_first_batch():
    model = genzoo.build("vae", hidden_dim=16)
    with pytest.raises(genzoo.BatchError, match=r"got values from -"):
        model.fit([torch.rand(8, 1, 28, 28) * 2 - 1], epochs=1, progress=False)


def test_fit_notices_a_later_batch_out_of_range():
    model = genzoo.build("vae", hidden_dim=16)
    batches = [torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28) + 1]
    with pytest.raises(genzoo.BatchError, match="a batch before step 3 had image values outside"):
        model.fit(batches, epochs=1, progress=False)


def test_fit_refuses_a_wrong_shape_with_the_expected_one():
    model = genzoo.build("gan")
    with pytest.raises(genzoo.BatchError, match=r"expected images of shape N×1×28×28, got \(8, 3, 32, 32\)"):
        model.fit([torch.rand(8, 3, 32, 32)], epochs=1, progress=False)


def test_fit_refuses_one_shot_iterators_and_empty_data():
    model = genzoo.build("vae", hidden_dim=16)
    with pytest.raises(genzoo.ConfigError, match="one-shot iterator"):
        model.fit(iter([torch.rand(2, 1, 28, 28)]), epochs=1, progress=False)
    with pytest.raises(genzoo.BatchError, match="yielded no batches"):
        model.fit([], epochs=1, progress=False)
