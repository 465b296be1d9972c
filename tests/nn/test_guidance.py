"""genzoo.nn's classifier-free guidance helpers."""

from __future__ import annotations

import pytest
import torch

from genzoo.labels import class_labels, drop_labels
from genzoo.nn import guided


class _Net:
    """A network whose conditional output is the label and unconditional output is -1."""

    null_label = 10

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x, t, labels=None):
        self.calls += 1
        if labels is None:
            labels = torch.full((x.shape[0],), self.null_label)
        out = torch.where(labels == self.null_label, -1.0, labels.float())
        return out[:, None, None, None].expand_as(x)


def test_guided_mixes_conditional_and_unconditional_in_one_pass():
    net, x, t = _Net(), torch.zeros(2, 1, 2, 2), torch.rand(2)
    labels = torch.tensor([3, 5])
    out = guided(net, x, t, labels, 2.0)
    assert net.calls == 1
    assert torch.equal(out[:, 0, 0, 0], torch.tensor([-1 + 2 * 4.0, -1 + 2 * 6.0]))
    assert torch.equal(guided(net, x, t, labels, 1.0)[:, 0, 0, 0], torch.tensor([3.0, 5.0]))
    assert torch.equal(guided(net, x, t, labels, 0.0)[:, 0, 0, 0], torch.tensor([-1.0, -1.0]))
    assert torch.equal(guided(net, x, t, None, 3.0)[:, 0, 0, 0], torch.tensor([-1.0, -1.0]))


def test_drop_labels_replaces_about_the_share_asked_for():
    torch.manual_seed(0)
    labels = torch.zeros(10_000, dtype=torch.long)
    dropped = drop_labels(labels, 0.1, 10)
    assert set(dropped.unique().tolist()) == {0, 10}
    assert 0.08 < (dropped == 10).float().mean().item() < 0.12
    assert drop_labels(labels, 0.0, 10) is labels


def test_class_labels_expands_checks_and_cycles():
    assert torch.equal(class_labels(7, 3, 10), torch.tensor([7, 7, 7]))
    assert torch.equal(class_labels(None, 12, 10), torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]))
    assert class_labels(None, 3, 0) is None
    with pytest.raises(ValueError, match="not class-conditional"):
        class_labels(1, 3, 0)
    with pytest.raises(ValueError, match=r"in \[0, 10\)"):
        class_labels(10, 3, 10)
    with pytest.raises(ValueError, match="3 classes"):
        class_labels(torch.tensor([1, 2]), 3, 10)
