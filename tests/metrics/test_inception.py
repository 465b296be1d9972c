"""Inception features: a clear message without torch-fidelity or its weights; the plumbing with a stub."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from genzoo.metrics import Bootstrap, MetricsError, evaluate, feature_space, inception_weights_path
from genzoo.metrics.inception import InceptionNet


def test_without_torch_fidelity_the_message_says_what_to_install(monkeypatch, mnist_root):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails even if installed
    with pytest.raises(MetricsError, match=r"torch-fidelity.*pip install 'torchmetrics\[image\]'"):
        feature_space("mnist", "inception", root=mnist_root)


class _StubInception(torch.nn.Module):
    """Stands in for torch-fidelity's extractor: uint8 RGB in, a tuple of N×D features out."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None):
        super().__init__()
        assert features_list == ["2048"] and feature_extractor_weights_path
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, 299, 299)
        return (torch.nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1) * self.scale,)  # 48


@pytest.fixture
def stub_fidelity(monkeypatch):
    import torchmetrics.image.fid  # noqa: F401 - before the stub: it checks torch-fidelity's install

    package = types.ModuleType("torch_fidelity")
    module = types.ModuleType("torch_fidelity.feature_extractor_inceptionv3")
    module.FeatureExtractorInceptionV3 = _StubInception
    monkeypatch.setattr(InceptionNet, "feature_dim", 48)  # 2048 makes each FID slow on a CPU
    monkeypatch.setitem(sys.modules, "torch_fidelity", package)
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", module)


def test_without_the_weights_the_message_says_where_to_get_them(stub_fidelity, tmp_path, monkeypatch,
                                                                mnist_root):
    monkeypatch.setenv("GENZOO_INCEPTION_WEIGHTS", str(tmp_path / "inception.pth"))
    assert inception_weights_path() == tmp_path / "inception.pth"
    with pytest.raises(MetricsError, match=r"inception\.pth does not exist.*needs the internet.*curl"):
        feature_space("mnist", "inception", root=mnist_root)


def test_with_weights_a_folder_is_scored_in_its_features(stub_fidelity, tmp_path, colour_folder):
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"stub")
    kwargs = {"data": colour_folder, "features": "inception", "weights": weights, "cache_dir": tmp_path,
              "bootstrap": Bootstrap(resamples=10)}
    noise = evaluate(torch.rand(60, 3, 16, 16, generator=torch.Generator().manual_seed(0)), **kwargs)
    assert noise.card.features["kind"] == "inception" and noise.card.features["input_shape"] == [3, 299, 299]
    assert noise.card.features["weights_sha256"] == __import__("hashlib").sha256(b"stub").hexdigest()
    assert noise.fid > noise.floor.fid and noise.classifier_score is None
    assert list(tmp_path.glob("shapes-*-inception-v2-*.pt"))  # the reference features, cached
