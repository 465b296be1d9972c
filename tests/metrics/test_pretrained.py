"""Pretrained feature networks (torch-fidelity's): clear messages without torch-fidelity or the
weights; the plumbing (resize, grey to RGB, weights hash on the card, cache) with a stand-in."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import types

import pytest
import torch
from click.testing import CliRunner

import genzoo
from genzoo.extras import MissingExtraError
from genzoo.cli import main
from genzoo.metrics import (PRETRAINED, Bootstrap, MetricsError, evaluate, feature_space,
                            inception_weights_path, pretrained_weights_path)


def test_without_torch_fidelity_the_message_says_what_to_install(monkeypatch, mnist_root):
    for module in ("torch_fidelity", "torch_fidelity.registry"):  # import fails even if installed
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=r'torch-fidelity.*pip install "genzoo\[pretrained\]"'):
        feature_space("mnist", "inception", root=mnist_root)


class _StubExtractor(torch.nn.Module):
    """Stands in for torch-fidelity's extractors: uint8 RGB in, a tuple of N×48 features out;
    records how it was built and what it read."""

    built: list[tuple[str, list[str], dict]] = []
    sizes: set[tuple[int, ...]] = set()
    read: list[bytes] = []  # the weights file it was handed, as torch-fidelity would read it

    def __init__(self, name, features_list, **options):
        super().__init__()
        _StubExtractor.built.append((name, features_list, options))
        if "feature_extractor_weights_path" in options:
            _StubExtractor.read.append(open(options["feature_extractor_weights_path"], "rb").read())
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        _StubExtractor.sizes.add(tuple(x.shape[1:]))
        return (torch.nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1) * self.scale,)  # 48


@pytest.fixture
def stub_fidelity(monkeypatch, tmp_path):
    """torch-fidelity's registry with the stand-in for every network (48 features: the real
    widths make each FID slow on a CPU), and torch.hub's folder in tmp_path."""
    import torchmetrics.image.fid  # noqa: F401 - before the stub: it checks torch-fidelity's install

    registry = types.ModuleType("torch_fidelity.registry")
    registry.FEATURE_EXTRACTORS_REGISTRY = {spec.fidelity_name: _StubExtractor for spec in PRETRAINED.values()}
    monkeypatch.setitem(sys.modules, "torch_fidelity", types.ModuleType("torch_fidelity"))
    monkeypatch.setitem(sys.modules, "torch_fidelity.registry", registry)
    for name, spec in PRETRAINED.items():
        monkeypatch.setitem(PRETRAINED, name, dataclasses.replace(spec, dim=48))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    _StubExtractor.built.clear()
    _StubExtractor.sizes.clear()
    _StubExtractor.read.clear()


def _weights(path, seed=0):
    """A plain weights file (a table of tensors) at ``path``; its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"scale": torch.full((3,), float(seed))}, path)
    return path.read_bytes()


def test_without_the_weights_the_message_says_where_to_get_them(stub_fidelity, tmp_path, monkeypatch,
                                                                mnist_root):
    monkeypatch.setenv("GENZOO_INCEPTION_WEIGHTS", str(tmp_path / "inception.pth"))
    assert inception_weights_path() == tmp_path / "inception.pth"
    with pytest.raises(MetricsError, match=r"inception\.pth does not exist.*needs the internet.*curl"):
        feature_space("mnist", "inception", root=mnist_root)
    # the others default to where torch-fidelity downloads them; the hint names that file and URL
    expected = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    assert pretrained_weights_path("vgg16") == expected
    with pytest.raises(MetricsError, match=rf"{expected} does not exist.*curl.*download\.pytorch\.org"):
        feature_space("mnist", "vgg16", root=mnist_root)
    with pytest.raises(MetricsError, match=r"dinov2_vits14_pretrain\.pth does not exist.*torch\.hub\.load"
                                           r"\('facebookresearch/dinov2', 'dinov2_vits14'\)"):
        feature_space("mnist", "dinov2-vit-s-14", root=mnist_root)
    with pytest.raises(MetricsError, match=r"dinov2-vit-s-14 loads through torch\.hub's cache.*drop"):
        feature_space("mnist", "dinov2-vit-s-14", root=mnist_root, weights=tmp_path / "x.pth")
    with pytest.raises(MetricsError, match=r"unknown feature network 'dino'.*inception.*vgg16"):
        feature_space("mnist", "dino", root=mnist_root)


def test_with_weights_a_folder_is_scored_in_its_features(stub_fidelity, tmp_path, colour_folder):
    weights = tmp_path / "inception.pth"
    stub = _weights(weights)
    kwargs = {"data": colour_folder, "features": "inception", "weights": weights, "cache_dir": tmp_path,
              "bootstrap": Bootstrap(resamples=10)}
    noise = evaluate(torch.rand(60, 3, 16, 16, generator=torch.Generator().manual_seed(0)), **kwargs)
    assert noise.card.features["kind"] == "inception" and noise.card.features["input_shape"] == [3, 299, 299]
    assert noise.card.features["weights_sha256"] == hashlib.sha256(stub).hexdigest()
    assert noise.fid > noise.floor.fid and noise.classifier_score is None
    # torch-fidelity gets a private copy of the bytes genzoo checked, not the file named
    [(name, layers, options)] = _StubExtractor.built
    assert (name, layers) == ("inception-v3-compat", ["2048"])
    assert options["feature_extractor_weights_path"] != str(weights)
    assert _StubExtractor.read == [stub]
    assert _StubExtractor.sizes == {(3, 299, 299)}  # resized by genzoo, so torch-fidelity's resize does nothing
    assert list(tmp_path.glob("shapes-*-inception-v2-*.pt"))  # the reference features, cached


def test_dinov2_comes_from_the_hub_cache_and_grey_images_become_rgb(stub_fidelity, tmp_path, mnist_root):
    checkpoint = tmp_path / "hub" / "checkpoints" / "dinov2_vits14_pretrain.pth"
    dino = _weights(checkpoint)
    with pytest.raises(MetricsError, match=r"facebookresearch_dinov2_main does not exist"):
        feature_space("mnist", "dinov2-vit-s-14", root=mnist_root)  # the weights without the code
    (tmp_path / "hub" / "facebookresearch_dinov2_main").mkdir()
    images = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    result = evaluate(images, data="mnist", root=mnist_root, features="dinov2-vit-s-14", cache_dir=tmp_path,
                      bootstrap=Bootstrap(resamples=10))
    assert result.card.features["kind"] == "dinov2-vit-s-14"
    assert result.card.features["input_shape"] == [1, 224, 224]
    assert result.card.features["weights_sha256"] == hashlib.sha256(dino).hexdigest()
    assert _StubExtractor.built == [("dinov2-vit-s-14", ["dinov2"], {})]  # torch-fidelity takes no file for it
    assert _StubExtractor.sizes == {(3, 224, 224)}


def test_eval_refuses_an_unknown_feature_network_in_one_line(tmp_path):
    checkpoint = tmp_path / "vae.pt"
    genzoo.build("vae", hidden_dim=32).save(checkpoint)
    result = CliRunner().invoke(main, ["eval", str(checkpoint), "--features", "dino"])
    assert result.exit_code == 2 and "unknown feature network 'dino'" in result.output
    assert "dinov2-vit-s-14" in result.output and "Traceback" not in result.output


def test_the_table_matches_torch_fidelitys_extractors():
    registry = pytest.importorskip("torch_fidelity.registry").FEATURE_EXTRACTORS_REGISTRY
    for spec in PRETRAINED.values():
        extractor = registry[spec.fidelity_name]
        assert spec.feature in extractor.get_provided_features_list(), spec.name
        assert spec.feature == extractor.get_default_feature_layer_for_metric("fid"), spec.name
    clip = sys.modules[registry["clip-vit-b-32"].__module__]
    for spec in PRETRAINED.values():
        if spec.feature == "clip":
            assert spec.url == clip.MODEL_URLS[spec.name]
            assert spec.file == f"{spec.name}-{clip.MODEL_METADATA[spec.name]['hash']}.pt"
