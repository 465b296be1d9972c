"""Latent interpolation (genzoo.latent) for GANs and VAEs, and the conditional-label helpers."""

from __future__ import annotations

import pytest
import torch

import genzoo
import genzoo.sampling
from genzoo.labels import class_count, cycle_labels, one_hot
from genzoo.latent import (
    interpolate,
    interpolate_images,
    latent_path,
    lerp,
    slerp,
)

MODELS = {
    "gan": dict(latent_dim=16, generator_widths=(16, 16, 32, 32), discriminator_widths=(16, 16)),
    "dcgan": dict(channels=8, latent_dim=16),
    "vae": dict(hidden_dim=32, latent_dim=8),
    "conv-vae": dict(channels=8, hidden_dim=32, latent_dim=8),
}


def test_paths_keep_their_endpoints_and_shape():
    a, b = torch.randn(10), torch.randn(10)
    for method in ("slerp", "lerp"):
        path = latent_path(a, b, 5, method)
        assert path.shape == (5, 10)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    mid = lerp(a, b, torch.tensor([0.5]))[0]
    assert torch.allclose(mid, (a + b) / 2)
    # slerp moves along the arc: the direction turns at a constant rate, the norm interpolates
    s = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(s[2].norm(), (a.norm() + b.norm()) / 2, atol=1e-5)
    cos = [torch.nn.functional.cosine_similarity(s[i], s[i + 1], dim=0) for i in range(4)]
    assert torch.allclose(torch.stack(cos), cos[0].expand(4), atol=1e-5)
    assert torch.allclose(slerp(a, 2 * a, torch.tensor([0.5]))[0], 1.5 * a)  # parallel: lerp
    with pytest.raises(ValueError, match="at least 2"):
        latent_path(a, b, 1)
    with pytest.raises(ValueError, match="slerp"):
        latent_path(a, b, 3, "cubic")


@pytest.mark.parametrize("name", list(MODELS))
def test_interpolate_decodes_the_path_between_two_latents(name):
    model = genzoo.build(name, seed=0, **MODELS[name])
    frames = interpolate(model, 6, seed=1)
    assert frames.shape == (6, 1, 28, 28)
    assert frames.min() >= 0 and frames.max() <= 1
    assert model.training  # the mode is restored
    start, end = model.sample_latent(2, generator=torch.Generator().manual_seed(1))
    with genzoo.sampling.eval_mode(model), torch.no_grad():
        ends = model.generate(torch.stack([start, end])).clamp(0, 1)
    assert torch.allclose(frames[0], ends[0], atol=1e-5)
    assert torch.allclose(frames[-1], ends[1], atol=1e-5)
    assert torch.equal(frames, interpolate(model, 6, seed=1))
    # a given endpoint replaces the drawn one; the other stays the seed's
    given = interpolate(model, 3, seed=1, start=end, method="lerp")
    assert torch.allclose(given[0], ends[1], atol=1e-5)
    assert torch.allclose(given[-1], ends[1], atol=1e-5)


def test_interpolate_with_conditional_models_keeps_one_class():
    model = genzoo.build("dcgan", seed=0, num_classes=10, **MODELS["dcgan"])
    frames = interpolate(model, 4, seed=0, labels=7)
    start = model.sample_latent(2, generator=torch.Generator().manual_seed(0))[0]
    with genzoo.sampling.eval_mode(model), torch.no_grad():
        first = model.generate(start[None], labels=torch.tensor([7]))
    assert torch.allclose(frames[0], first[0].clamp(0, 1), atol=1e-5)
    assert interpolate(model, 4, seed=0).shape == (4, 1, 28, 28)  # a class drawn from the seed
    with pytest.raises(ValueError):
        interpolate(genzoo.build("vae"), 3, labels=1)


@pytest.mark.parametrize("name", ["vae", "conv-vae"])
def test_interpolate_images_goes_from_one_reconstruction_to_the_other(name, mnist_train):
    model = genzoo.build(name, seed=0, **MODELS[name])
    a, b = mnist_train[0], mnist_train[1]
    frames = interpolate_images(model, a, b, 5)
    assert frames.shape == (5, 1, 28, 28)
    pair = torch.stack([a, b]).float() / 255
    model.eval()
    recon = model.reconstruct(pair)
    model.train()
    assert torch.allclose(frames[0], recon[0], atol=1e-5)
    assert torch.allclose(frames[-1], recon[1], atol=1e-5)


def test_interpolate_images_with_a_conditional_vae(mnist_train):
    model = genzoo.build("conv-vae", seed=0, num_classes=10, **MODELS["conv-vae"])
    a, b = mnist_train[0].float() / 255, mnist_train[1].float() / 255
    assert interpolate_images(model, a, b, 4).shape == (4, 1, 28, 28)  # classes inferred
    frames = interpolate_images(model, a, b, 4, labels=3)
    model.eval()
    recon = model.reconstruct(torch.stack([a, b]), torch.tensor([3, 3]))
    assert torch.allclose(frames[0], recon[0], atol=1e-5)
    assert torch.allclose(frames[-1], recon[1], atol=1e-5)


def test_label_helpers():
    assert class_count(genzoo.build("vae", hidden_dim=8, latent_dim=2, num_classes=10)) == 10
    assert class_count(genzoo.build("vae", hidden_dim=8, latent_dim=2)) == 0
    assert class_count(object()) == 0  # a model without a config (a third-party one, say)
    assert torch.equal(cycle_labels(5, 3), torch.tensor([0, 1, 2, 0, 1]))
    assert torch.equal(one_hot(torch.tensor([2, 0]), 3, torch.float32),
                       torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    soft = torch.tensor([[0.5, 0.5, 0.0]])
    assert torch.equal(one_hot(soft, 3, torch.float32), soft)
