"""The convolutional models, "dcgan" and "conv-vae", and the class-conditional VAEs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import genzoo
from genzoo.data import InMemoryLoader, load_images


@pytest.mark.parametrize("name", ["dcgan", "conv-vae"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_sample_shapes(name, shape):
    model = genzoo.build(name, image_shape=shape, seed=0)
    images = model.sample(5, seed=0)
    assert images.shape == (5, *shape) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert model.training
    assert isinstance(model, genzoo.Generator) and isinstance(model, genzoo.Trainer)
    assert isinstance(model, genzoo.Encoder) == (name == "conv-vae")


def test_dcgan_architecture():
    gan = genzoo.build("dcgan")
    convs = [m for m in gan.generator if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.stride) for m in convs] == \
        [(64, 32, (2, 2)), (32, 1, (2, 2))]
    assert isinstance(gan.generator[-1], nn.Tanh)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in gan.discriminator)
    big = genzoo.build("dcgan", image_shape=(3, 32, 32), spectral_norm=True)
    widths = [m.in_channels for m in big.generator if isinstance(m, nn.ConvTranspose2d)]
    assert widths == [128, 64, 32]
    assert any("parametrizations" in k for k in big.discriminator.state_dict())
    optimizers = gan.configure_optimizers()
    assert optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)
    assert (gan.config.loss, gan.config.ema, gan.config.num_classes) == ("hinge", 0.999, 0)


@pytest.mark.parametrize("name", ["dcgan", "conv-vae"])
def test_unsupported_image_sizes_are_refused(name):
    with pytest.raises(genzoo.ConfigError, match="divisible by 4"):
        genzoo.build(name, image_shape=(1, 30, 30))
    with pytest.raises(genzoo.ConfigError, match="at least 16 .* got 8×8"):  # too small to halve twice
        genzoo.build(name, image_shape=(1, 8, 8))
    assert genzoo.build(name, image_shape=(1, 16, 16)).sample(1).shape == (1, 1, 16, 16)
    assert genzoo.build(name, image_shape=(1, 64, 64)).sample(1).shape == (1, 1, 64, 64)


def test_dcgan_learns_on_mnist(mnist_train):
    """The generator's samples move towards the data: their mean image approaches the data's."""
    gan = genzoo.build("dcgan", seed=0, channels=16, lr=5e-4, loss="bce", ema=0.9)
    data_mean = mnist_train.float().div(255).mean(0)
    before = (gan.sample(256, seed=1).mean(0) - data_mean).abs().mean().item()
    result = gan.fit(InMemoryLoader(mnist_train, batch_size=64), epochs=2, seed=0, progress=False)
    after = (gan.sample(256, seed=1).mean(0) - data_mean).abs().mean().item()
    assert after < before / 2, (before, after)
    assert result.history[-1]["d_loss"] < 1.386  # better than chance


def test_conv_vae_loss_falls_on_mnist(mnist_train):
    vae = genzoo.build("conv-vae", seed=0)
    result = vae.fit(InMemoryLoader(mnist_train, batch_size=128), epochs=3, seed=0, progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[0] > losses[1] > losses[2]
    assert losses[-1] < 0.8 * losses[0]
    x = mnist_train[:8].float() / 255
    posterior = vae.encode(x)
    assert posterior.mean.shape == posterior.logvar.shape == (8, 16)
    assert vae.reconstruct(x).shape == (8, 1, 28, 28)


@pytest.mark.parametrize("name", ["dcgan", "conv-vae"])
def test_save_and_load_round_trip(tmp_path, name, mnist_train):
    model = genzoo.build(name, seed=0, channels=8)
    model.fit([mnist_train[:64]], epochs=1, progress=False)
    model.save(tmp_path / "model.pt")
    loaded = genzoo.load(tmp_path / "model.pt")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert torch.equal(model.sample(8, seed=7), loaded.sample(8, seed=7))


@pytest.mark.parametrize("name", ["vae", "conv-vae", "dcgan"])
def test_conditional_models_need_labels(name, mnist_train):
    model = genzoo.build(name, seed=0, num_classes=10)
    with pytest.raises(genzoo.BatchError, match="needs labelled batches"):
        model.fit([mnist_train[:32]], epochs=1, progress=False)
    model.fit([(mnist_train[:32], torch.arange(32) % 10)], epochs=1, progress=False)
    assert model.sample(4, seed=0, labels=3).shape == (4, 1, 28, 28)
    assert model.sample(10, seed=0).shape == (10, 1, 28, 28)
    with pytest.raises(ValueError):
        model.sample(2, labels=torch.tensor([0, 10]))


def test_seed_vae_becomes_a_cvae_with_num_classes():
    cvae = genzoo.build("vae", num_classes=10)
    assert cvae.encoder[0].in_features == 784 + 10
    assert cvae.decoder[0].in_features == 20 + 10
    assert list(cvae.state_dict()) == list(genzoo.build("vae").state_dict())


def test_conditional_conv_vae_draws_the_chosen_digit(mnist_root):
    data = load_images("mnist", root=mnist_root)
    images, labels = data.images[:2048], data.labels[:2048].long()
    vae = genzoo.build("conv-vae", seed=0, num_classes=10)
    vae.fit(InMemoryLoader(images, labels, batch_size=32), epochs=4, seed=0, progress=False)

    real = images.float() / 255
    class_means = torch.stack([real[labels == k].mean(0) for k in range(10)])
    hits = 0
    for k in range(10):
        drawn = vae.sample(64, seed=k, labels=k).mean(0).cpu()
        distances = (class_means - drawn).flatten(1).norm(dim=1)
        hits += int(distances.argmin() == k)
    assert hits >= 8, hits
    # without labels, the model infers each image's class (reconstruction grids need this)
    inferred = vae.infer_labels(real[:256])
    assert (inferred == labels[:256]).float().mean() > 0.5
    assert vae.reconstruct(real[:4]).shape == (4, 1, 28, 28)
