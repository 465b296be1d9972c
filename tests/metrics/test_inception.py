"""Inception FID: a clear message without torch-fidelity or its weights; the plumbing with a stub."""

from __future__ import annotations

import sys
import types

import pytest
import torch

import genzoo
from genzoo.metrics import MetricsError, inception_fid, inception_weights_path


def test_without_torch_fidelity_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails even if installed
    with pytest.raises(MetricsError, match=r"torch-fidelity.*pip install 'torchmetrics\[image\]'"):
        inception_fid(torch.rand(8, 1, 28, 28))


class _StubInception(torch.nn.Module):
    """Stands in for torch-fidelity's extractor: uint8 RGB in, a tuple of N×D features out."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None):
        super().__init__()
        assert features_list == ["2048"] and feature_extractor_weights_path
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        return (torch.nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1) * self.scale,)


@pytest.fixture
def stub_fidelity(monkeypatch):
    package = types.ModuleType("torch_fidelity")
    module = types.ModuleType("torch_fidelity.feature_extractor_inceptionv3")
    module.FeatureExtractorInceptionV3 = _StubInception
    monkeypatch.setitem(sys.modules, "torch_fidelity", package)
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", module)


def test_without_the_weights_the_message_says_where_to_get_them(stub_fidelity, tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_INCEPTION_WEIGHTS", str(tmp_path / "inception.pth"))
    assert inception_weights_path() == tmp_path / "inception.pth"
    with pytest.raises(MetricsError, match=r"inception\.pth does not exist.*needs the internet.*curl"):
        inception_fid(torch.rand(8, 1, 28, 28))


def test_with_weights_it_compares_with_the_test_set(stub_fidelity, tmp_path, mnist_root, mnist_test):
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"stub")
    kwargs = {"root": mnist_root, "weights": weights, "cache_dir": tmp_path, "download": False}
    real = inception_fid(mnist_test[:100], **kwargs)
    noise = inception_fid(torch.rand(100, 1, 28, 28), **kwargs)
    assert (tmp_path / "mnist-inception-v1.pt").is_file()  # the real statistics, cached
    assert real.n == noise.n == 100 and real.floor == noise.floor
    assert 0 <= real.fid < noise.fid
    assert inception_fid(mnist_test[:100], **kwargs) == real


def test_a_model_is_sampled_repeatably(stub_fidelity, tmp_path, mnist_root):
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"stub")
    model = genzoo.build("vae", hidden_dim=32, seed=0)
    kwargs = {"n": 50, "root": mnist_root, "weights": weights, "cache_dir": tmp_path, "download": False}
    assert inception_fid(model, seed=1, **kwargs) == inception_fid(model, seed=1, **kwargs)
