"""Batches: what the runner accepts, and the errors for what it does not."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.batches import RangeWatch, check_range, to_batch

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
    batches = [torch.full((8, 1, 28, 28), v) for v in (0.25, 0.75, 1.5)]
    with pytest.raises(genzoo.BatchError, match=r"a batch up to step 3: expected image values in "
                       r"\[0, 1\] .*, got values from 0.25 to 1.5\. genzoo models"):
        model.fit(batches, epochs=1, progress=False)


def test_fit_notices_a_nan_in_a_later_batch():
    model = genzoo.build("vae", hidden_dim=16)
    bad = torch.rand(8, 1, 28, 28)
    bad[3, 0, 5, 5] = float("nan")
    with pytest.raises(genzoo.BatchError, match=r"up to step 2: .* to nan"):
        model.fit([torch.rand(8, 1, 28, 28), bad], epochs=1, progress=False)


def test_range_watch_checks_the_first_batch_at_once_and_later_ones_on_check():
    watch = RangeWatch()
    with pytest.raises(genzoo.BatchError, match="normalised to"):
        watch.observe(torch.rand(2, 1, 28, 28) * 2 - 1)
    watch = RangeWatch()
    watch.observe(torch.rand(2, 1, 28, 28))
    watch.observe(torch.rand(2, 1, 28, 28) * 255)  # no error yet: nothing read back
    watch.observe(torch.rand(2, 1, 28, 28))
    with pytest.raises(genzoo.BatchError, match=r"a batch so far: .*raw pixel values"):
        watch.check(" so far")
    clean = RangeWatch()
    clean.observe(torch.zeros(2, 1, 28, 28))
    clean.observe(torch.ones(2, 1, 28, 28))
    clean.check()  # in range: no error


def test_uint8_batches_are_not_watched():
    watch = RangeWatch()
    to_batch(torch.full((2, 1, 28, 28), 255, dtype=torch.uint8), SHAPE, CPU, watch=watch)
    # uint8 images cannot leave [0, 1], so the watch saw nothing: the float batch is its first
    with pytest.raises(genzoo.BatchError, match="raw pixel values"):
        to_batch(torch.rand(2, 1, 28, 28) * 200, SHAPE, CPU, watch=watch)


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


@pytest.mark.parametrize("model_name", ["vae", "gan"])
@pytest.mark.parametrize("bad", [-1, 3, 10])
def test_fit_names_a_label_outside_the_models_classes(model_name, bad):
    model = genzoo.build(model_name, num_classes=3, hidden_dim=16) if model_name == "vae" else \
        genzoo.build(model_name, num_classes=3)
    labels = torch.tensor([0, 1, 2, bad])
    with pytest.raises(genzoo.BatchError, match=rf"label {bad}, outside 0 to 2 \(num_classes=3\)"):
        model.fit([(torch.rand(4, 1, 28, 28), labels)], epochs=1, progress=False)


@pytest.mark.parametrize("good", [0, 2])
def test_labels_at_the_class_boundaries_train(good):
    model = genzoo.build("vae", num_classes=3, hidden_dim=16)
    result = model.fit([(torch.rand(4, 1, 28, 28), torch.tensor([good] * 4))], epochs=1, progress=False)
    assert result.steps == 1
