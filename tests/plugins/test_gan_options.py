"""The GAN options: hinge and WGAN-GP losses, critic steps, weight EMA, class conditioning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from genzoo_gan.losses import (
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    per_example_gradient_norms,
    wasserstein_critic_loss,
)
from torch import nn

import genzoo
from genzoo.data import InMemoryLoader
from genzoo.protocols import Batch

SEED_GAN_KEYS = [
    "generator.0.weight", "generator.0.bias", "generator.2.weight", "generator.2.bias",
    "generator.3.weight", "generator.3.bias", "generator.3.running_mean", "generator.3.running_var",
    "generator.3.num_batches_tracked", "generator.5.weight", "generator.5.bias",
    "generator.6.weight", "generator.6.bias", "generator.6.running_mean", "generator.6.running_var",
    "generator.6.num_batches_tracked", "generator.8.weight", "generator.8.bias",
    "generator.9.weight", "generator.9.bias", "generator.9.running_mean", "generator.9.running_var",
    "generator.9.num_batches_tracked", "generator.11.weight", "generator.11.bias",
    "discriminator.0.weight", "discriminator.0.bias", "discriminator.2.weight",
    "discriminator.2.bias", "discriminator.4.weight", "discriminator.4.bias",
]
SEED_VAE_KEYS = [
    "encoder.0.weight", "encoder.0.bias", "mean_head.weight", "mean_head.bias",
    "logvar_head.weight", "logvar_head.bias", "decoder.0.weight", "decoder.0.bias",
    "decoder.2.weight", "decoder.2.bias",
]


def tiny_gan(**options) -> genzoo.GenerativeModel:
    return genzoo.build("gan", seed=0, latent_dim=16, generator_widths=(32, 32, 64, 64),
                        discriminator_widths=(64, 32), **options)


class Recorder:
    """The runner's own step context, driven by hand: one training step per call."""

    def __init__(self, model) -> None:
        from genzoo.runner.loop import Step

        self.step = Step(model.configure_optimizers(), None, torch.device("cpu"))

    def run(self, model, batch: Batch):
        out = model.training_step(batch, self.step)
        self.step.end_iteration()
        return out


def test_seed_defaults_and_state_dict_keys_are_unchanged():
    gan, vae = genzoo.build("gan"), genzoo.build("vae")
    assert list(gan.state_dict()) == SEED_GAN_KEYS
    assert list(vae.state_dict()) == SEED_VAE_KEYS
    cfg = gan.config
    assert (cfg.loss, cfg.ema, cfg.num_classes, cfg.d_steps) == ("bce", 0.0, 0, 1)
    assert vae.config.num_classes == 0
    assert not hasattr(gan, "ema_generator") and not hasattr(gan, "label_projection")


def test_hinge_and_wasserstein_losses_match_their_definitions():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.5])
    expected = (max(0, 1 - 2.0) + max(0, 1 - 0.5) + max(0, 1 + 1.0)) / 3 + \
               (max(0, 1 - 2.0) + max(0, 1 + 0.0) + max(0, 1 + 1.5)) / 3
    assert math.isclose(hinge_discriminator_loss(real, fake).item(), expected, rel_tol=1e-6)
    assert math.isclose(hinge_generator_loss(fake).item(), -fake.mean().item(), rel_tol=1e-6)
    assert math.isclose(wasserstein_critic_loss(real, fake).item(),
                        (fake.mean() - real.mean()).item(), rel_tol=1e-6)


def test_gradient_penalty_is_per_example():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)

    norms = per_example_gradient_norms(critic, real)
    by_hand = []
    for x in real:  # one example at a time: its own input gradient
        x = x.unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x)
        by_hand.append(grad.norm())
    assert torch.allclose(norms, torch.stack(by_hand), atol=1e-6)

    torch.manual_seed(1)
    penalty = gradient_penalty(critic, real, fake)
    torch.manual_seed(1)
    eps = torch.rand(5, 1, 1, 1)  # the same per-example mixing weights
    mixed = eps * real + (1 - eps) * fake
    expected = (per_example_gradient_norms(critic, mixed) - 1).pow(2).mean()
    assert torch.allclose(penalty, expected, atol=1e-6)
    # not the norm of the whole batch's gradient
    whole = per_example_gradient_norms(critic, mixed).pow(2).sum().sqrt()
    assert not torch.allclose(penalty, (whole - 1).pow(2), atol=1e-3)
    # and it trains the critic: gradients reach its weights
    penalty.backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp"])
def test_each_loss_trains_with_finite_losses(loss, mnist_train):
    gan = tiny_gan(loss=loss)
    before = {k: v.clone() for k, v in gan.state_dict().items()}
    result = gan.fit(InMemoryLoader(mnist_train[:256], batch_size=64), epochs=1, seed=0,
                     progress=False)
    metrics = result.history[-1]
    assert all(math.isfinite(metrics[k]) for k in ("d_loss", "g_loss"))
    assert ("gp" in metrics) == (loss == "wgan-gp")
    after = gan.state_dict()
    assert not torch.equal(before["generator.0.weight"], after["generator.0.weight"])
    assert not torch.equal(before["discriminator.0.weight"], after["discriminator.0.weight"])


def test_d_steps_steps_the_generator_every_nth_batch(mnist_train):
    gan = tiny_gan(loss="wgan-gp", d_steps=3)
    runner = Recorder(gan)
    batch = Batch(mnist_train[:32].float() / 255)
    changed = []
    for _ in range(6):
        g_before = gan.generator[0].weight.clone()
        d_before = gan.discriminator[0].weight.clone()
        runner.run(gan, batch)
        changed.append(not torch.equal(g_before, gan.generator[0].weight))
        assert not torch.equal(d_before, gan.discriminator[0].weight)  # every batch
    assert changed == [False, False, True, False, False, True]


def test_ema_generator_is_an_average_used_for_sampling_and_saved(tmp_path, mnist_train):
    gan = tiny_gan(ema=0.9)
    assert not gan.ema_generator.training
    gan.fit(InMemoryLoader(mnist_train[:256], batch_size=64), epochs=1, seed=0, progress=False)
    assert not gan.ema_generator.training  # stays in inference mode while the model trains
    raw, avg = gan.generator[0].weight, gan.ema_generator[0].weight
    assert not torch.equal(raw, avg) and not avg.requires_grad
    # the average keeps batch-norm statistics of its own: one pass per generator step
    ema_norm, raw_norm = gan.ema_generator[3], gan.generator[3]
    assert int(ema_norm.num_batches_tracked) == int(raw_norm.num_batches_tracked) == 4
    assert not torch.equal(ema_norm.running_mean, raw_norm.running_mean)
    keys = gan.state_dict().keys()
    mirrored = {"ema_" + k for k in keys if k.startswith("generator.")}
    assert mirrored <= set(keys)
    # sampling decodes with the average, not the raw weights
    z = gan.sample_latent(8, generator=torch.Generator().manual_seed(5))
    gan.eval()
    with torch.no_grad():
        expected = gan.ema_generator(z).add(1).mul(0.5).reshape(8, 1, 28, 28).clamp(0, 1)
        raw_images = gan.generator(z).add(1).mul(0.5).reshape(8, 1, 28, 28).clamp(0, 1)
    gan.train()
    assert torch.allclose(gan.sample(8, seed=5), expected)
    assert not torch.allclose(gan.sample(8, seed=5), raw_images)
    # optimizers never step the average
    params = {id(p) for opt in gan.configure_optimizers().values()
              for g in opt.param_groups for p in g["params"]}
    assert not params & {id(p) for p in gan.ema_generator.parameters()}
    gan.save(tmp_path / "gan.pt")
    loaded = genzoo.load(tmp_path / "gan.pt")
    assert torch.equal(loaded.sample(8, seed=5), gan.sample(8, seed=5))


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs"


@pytest.mark.parametrize("name, options", [
    ("gan", dict(ema=0.99)),
    ("dcgan", dict(channels=4, latent_dim=8, loss="wgan-gp", ema=0.99, num_classes=10,
                   spectral_norm=True)),
])
def test_resume_is_exact_with_the_options_on(tmp_path, mnist_root, name, options):
    from genzoo.data import load_images

    data = load_images("mnist", root=mnist_root)
    images, labels = data.images[:256], data.labels[:256]

    def build():
        if name == "gan":
            return tiny_gan(**options)
        return genzoo.build(name, seed=0, **options)

    def loader():
        return InMemoryLoader(images, labels, batch_size=64)

    whole = build()
    whole.fit(loader(), epochs=4, seed=11, out=tmp_path / "whole", progress=False)
    build().fit(loader(), epochs=2, seed=11, out=tmp_path / "split", progress=False)
    resumed = build()
    torch.manual_seed(12345)
    result = resumed.fit(loader(), epochs=4, out=tmp_path / "split", resume="auto", progress=False)
    assert [h["epoch"] for h in result.history] == [3, 4]
    assert any(k.startswith("ema_generator.") for k in resumed.state_dict())
    assert_same_weights(whole, resumed)
    assert torch.equal(whole.sample(4, seed=1), resumed.sample(4, seed=1))


def test_conditional_gan_needs_labels_and_samples_chosen_classes(mnist_train):
    gan = tiny_gan(num_classes=10)
    assert gan.generator[0].in_features == 16 + 10
    with pytest.raises(genzoo.BatchError, match="class-conditional"):
        gan.fit([mnist_train[:64]], epochs=1, progress=False)
    labels = torch.arange(64) % 10
    gan.fit([(mnist_train[:64], labels)], epochs=1, progress=False)
    assert gan.sample(6, seed=0, labels=7).shape == (6, 1, 28, 28)
    assert gan.sample(3, seed=0, labels=torch.tensor([1, 2, 3])).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError):
        gan.sample(2, labels=10)
    # without labels, image i shows class i mod 10
    z = gan.sample_latent(12, generator=torch.Generator().manual_seed(0))
    gan.eval()
    assert torch.equal(gan.generate(z), gan.generate(z, labels=torch.arange(12) % 10))
    with pytest.raises(ValueError, match="^model 'gan' is not class-conditional"):  # the name typed
        tiny_gan().sample(2, labels=1)


def test_option_values_are_checked():
    for bad in (dict(loss="lsgan"), dict(ema=1.0), dict(ema=-0.1), dict(d_steps=0),
                dict(num_classes=1), dict(gp_weight=-1.0)):
        with pytest.raises(genzoo.ConfigError):
            genzoo.build("gan", **bad)
    assert genzoo.build("gan", loss="wgan-gp", d_steps="5", ema="0.999").config.d_steps == 5


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_ema_on_the_runners_update_gives_the_numbers_of_the_old_implementation(one_thread):
    """Samples and EMA weights equal those the GAN's own EMA code produced before it moved onto
    genzoo.runner.optimization (recorded by tests/plugins/data/record_gan_ema.py, in one thread: CPU
    kernels sum in another order with more threads, which changes the last bits; in float32, as
    recorded, where precision="auto" would pick bfloat16 on a CPU with native bfloat16). Equal to
    within 1e-6: another CPU's kernels (AVX-512 against AVX2) change the last bit of a few
    values, while the GAN without its EMA is 7e-4 away and the DCGAN 0.04."""
    reference = torch.load(Path(__file__).parent / "data" / "gan_ema_reference.pt", weights_only=True)
    torch.manual_seed(0)
    images = torch.rand(96, 1, 28, 28)
    for name, config in [("gan", dict(generator_widths=(16, 32, 32, 64),
                                      discriminator_widths=(32, 16), ema=0.9)),
                         ("dcgan", dict(channels=4, latent_dim=8, ema=0.99, d_steps=2))]:
        model = genzoo.build(name, seed=0, **config)
        model.fit([images[i:i + 32] for i in range(0, 96, 32)], epochs=2, seed=3, progress=False,
                  precision="32")
        torch.testing.assert_close(model.sample(4, seed=1), reference[name]["samples"], rtol=0,
                                   atol=1e-6, msg=name)
        state = model.state_dict()
        for key, value in reference[name]["ema"].items():
            torch.testing.assert_close(state[key], value, rtol=0, atol=1e-6, msg=f"{name} {key}")
