"""The GAN plugin: the seed's architecture, training, sampling, save and load."""

from __future__ import annotations

import torch
from torch import nn

import genzoo
from genzoo.data import InMemoryLoader


def linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_default_gan_is_the_seed_model():
    gan = genzoo.build("gan")
    assert linear_shapes(gan.generator) == [(100, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)]
    assert linear_shapes(gan.discriminator) == [(784, 512), (512, 256), (256, 1)]
    slopes = {m.negative_slope for m in gan.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    norms = [m.num_features for m in gan.generator if isinstance(m, nn.BatchNorm1d)]
    assert norms == [256, 512, 1024]  # between the hidden layers, not after the first
    assert isinstance(gan.generator[-1], nn.Tanh)
    assert not any(isinstance(m, nn.Sigmoid) for m in gan.discriminator)  # logits: stable BCE
    optimizers = gan.configure_optimizers()
    assert set(optimizers) == {"discriminator", "generator"}
    for opt in optimizers.values():
        group = opt.param_groups[0]
        assert group["lr"] == 2e-4 and group["betas"] == (0.5, 0.999)


def test_gan_is_a_generator_and_trainer_not_an_encoder():
    gan = genzoo.build("gan")
    assert isinstance(gan, genzoo.Generator)
    assert isinstance(gan, genzoo.Trainer)
    assert not isinstance(gan, genzoo.Encoder)


def test_gan_samples_images_in_unit_range_and_configurable_shape():
    gan = genzoo.build("gan", image_shape=(3, 8, 8), latent_dim=16)
    images = gan.sample(5, seed=0)
    assert images.shape == (5, 3, 8, 8)
    assert images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert gan.training  # sampling leaves the mode as it was


def test_same_seed_same_samples_without_touching_global_rng():
    gan = genzoo.build("gan")
    state = torch.get_rng_state()
    a, b = gan.sample(8, seed=3), gan.sample(8, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, gan.sample(8, seed=4))
    assert torch.equal(state, torch.get_rng_state())


def test_gan_learns_on_real_mnist(mnist_train):
    """The generator's samples move towards the data: their mean image approaches the data's."""
    torch.manual_seed(0)
    gan = genzoo.build("gan")
    data_mean = mnist_train.float().div(255).mean(0)
    before = (gan.sample(256, seed=1).mean(0) - data_mean).abs().mean().item()
    result = gan.fit(InMemoryLoader(mnist_train, batch_size=64), epochs=3, seed=0, progress=False)
    after = (gan.sample(256, seed=1).mean(0) - data_mean).abs().mean().item()
    assert after < before / 2, (before, after)
    assert len(result.history) == 3
    assert all({"d_loss", "g_loss", "seconds", "samples_per_s"} <= set(h) for h in result.history)
    # the discriminator learned something: it is no longer at chance (2 ln 2 ≈ 1.386)
    assert result.history[-1]["d_loss"] < 1.386


def test_save_and_load_round_trip_gives_identical_samples(tmp_path, mnist_train):
    gan = genzoo.build("gan", latent_dim=32)
    gan.fit([mnist_train[:64]], epochs=1, progress=False)
    gan.save(tmp_path / "gan.pt")
    loaded = genzoo.load(tmp_path / "gan.pt")
    assert type(loaded) is type(gan) and loaded.config == gan.config
    assert torch.equal(gan.sample(16, seed=7), loaded.sample(16, seed=7))
