"""The VAE plugin: the seed's architecture, losses, encoding, training, save and load."""

from __future__ import annotations

import math

import torch
from torch import nn

import genzoo
from genzoo.data import InMemoryLoader
from genzoo_vae.losses import kl_divergence, reconstruction_loss


def test_default_vae_is_the_seed_model():
    vae = genzoo.build("vae")
    assert (vae.encoder[0].in_features, vae.encoder[0].out_features) == (784, 400)
    assert isinstance(vae.encoder[1], nn.ReLU)
    assert (vae.mean_head.in_features, vae.mean_head.out_features) == (400, 20)
    assert (vae.logvar_head.in_features, vae.logvar_head.out_features) == (400, 20)
    decoder = [(m.in_features, m.out_features) for m in vae.decoder if isinstance(m, nn.Linear)]
    assert decoder == [(20, 400), (400, 784)]
    (opt,) = vae.configure_optimizers().values()
    assert opt.param_groups[0]["lr"] == 1e-3
    assert vae.config.beta == 1.0


def test_vae_is_generator_encoder_and_trainer():
    vae = genzoo.build("vae")
    assert isinstance(vae, genzoo.Generator)
    assert isinstance(vae, genzoo.Encoder)
    assert isinstance(vae, genzoo.Trainer)


def test_encode_decode_reconstruct_shapes(mnist_train):
    vae = genzoo.build("vae")
    x = mnist_train[:10].float() / 255
    posterior = vae.encode(x)
    assert posterior.mean.shape == posterior.logvar.shape == (10, 20)
    decoded = vae.decode(posterior.mean)
    assert decoded.shape == (10, 1, 28, 28)
    assert decoded.min() >= 0 and decoded.max() <= 1
    assert torch.equal(vae.reconstruct(x), decoded.detach())


def test_losses_match_their_definitions():
    logits, target = torch.randn(4, 6), torch.rand(4, 6)
    expected = -(target * torch.log(torch.sigmoid(logits)) + (1 - target) * torch.log(1 - torch.sigmoid(logits)))
    assert torch.allclose(reconstruction_loss(logits, target), expected.sum() / 4, atol=1e-5)
    mean, logvar = torch.zeros(3, 5), torch.zeros(3, 5)
    assert kl_divergence(mean, logvar).item() == 0  # the posterior equals the prior
    mean = torch.ones(3, 5)
    assert math.isclose(kl_divergence(mean, logvar).item(), 0.5 * 5, rel_tol=1e-6)
    huge = torch.full((2, 3), 200.0)  # stable from logits: no inf or nan
    assert torch.isfinite(reconstruction_loss(huge, torch.zeros(2, 3)))


def test_beta_weights_the_kl_term(mnist_train):
    x = mnist_train[:32].float() / 255

    class Recorder:
        def optimize(self, loss, optimizer):
            self.loss = loss

    for beta in (0.0, 4.0):
        torch.manual_seed(0)
        vae = genzoo.build("vae", beta=beta)
        step = Recorder()
        torch.manual_seed(1)
        out = vae.training_step(genzoo.Batch(x), step)
        assert torch.allclose(out["loss"], out["reconstruction"] + beta * out["kl"])


def test_vae_loss_falls_on_real_mnist(mnist_train):
    torch.manual_seed(0)
    vae = genzoo.build("vae")
    result = vae.fit(InMemoryLoader(mnist_train, batch_size=128), epochs=3, seed=0, progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[0] > losses[1] > losses[2]
    assert losses[-1] < 0.8 * losses[0]


def test_save_and_load_round_trip_gives_identical_samples(tmp_path, mnist_train):
    vae = genzoo.build("vae", latent_dim=8, beta=0.5)
    vae.fit([mnist_train[:64]], epochs=1, progress=False)
    vae.save(tmp_path / "vae.pt")
    loaded = genzoo.load(tmp_path / "vae.pt")
    assert loaded.config == vae.config
    assert torch.equal(vae.sample(16, seed=7), loaded.sample(16, seed=7))
    x = mnist_train[:8].float() / 255
    assert torch.equal(vae.reconstruct(x), loaded.reconstruct(x))
