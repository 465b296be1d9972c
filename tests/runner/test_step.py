"""The runner's optimisation step: gradients only where asked, and a correct fp16 scaler."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.runner import Step


def make_step(model, scaler=None):
    return Step(model.configure_optimizers(), scaler, torch.device("cpu"))


def test_generator_step_computes_no_discriminator_weight_gradients():
    gan = genzoo.build("gan", seed=0)
    step = make_step(gan)
    z = torch.randn(8, 100)
    loss = -gan.discriminator(gan.generator(z)).mean()
    step.optimize(loss, "generator")
    assert all(p.grad is not None for p in gan.generator.parameters())
    assert all(p.grad is None for p in gan.discriminator.parameters())


def test_gradients_are_zeroed_to_none_before_each_backward():
    vae = genzoo.build("vae", hidden_dim=8, seed=0)
    step = make_step(vae)
    for p in vae.parameters():
        p.grad = torch.full_like(p, 1e6)  # stale gradients must not leak into the step
    before = [p.detach().clone() for p in vae.parameters()]
    x = torch.rand(4, 1, 28, 28)
    vae.training_step(genzoo.Batch(x), step)
    moved = max((p - b).abs().max().item() for p, b in zip(vae.parameters(), before))
    assert moved < 0.01  # Adam with lr 1e-3 moves each weight by about lr, not by 1e6 * lr


def test_unknown_optimizer_name_is_a_clear_error():
    vae = genzoo.build("vae", hidden_dim=8)
    step = make_step(vae)
    with pytest.raises(genzoo.GenzooError, match="optimize with 'generator', but configure_optimizers returned only 'vae'"):
        step.optimize(torch.zeros((), requires_grad=True), "generator")


def test_scaler_skips_only_the_optimizer_with_inf_gradients_and_updates_once():
    """The GAN pattern under fp16: D step, G step, one scaler.update per iteration."""
    gan = genzoo.build("gan", seed=0, generator_widths=(8, 8, 8, 8), discriminator_widths=(8, 8))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    step = make_step(gan, scaler)
    d_before = [p.detach().clone() for p in gan.discriminator.parameters()]
    g_before = [p.detach().clone() for p in gan.generator.parameters()]
    fake = gan.generator(torch.randn(4, 100))
    d_loss = gan.discriminator(fake.detach()).mean() * float("inf")
    step.optimize(d_loss, "discriminator")
    g_loss = -gan.discriminator(fake).mean()
    step.optimize(g_loss, "generator")
    step.end_iteration()
    assert all(torch.equal(p, b) for p, b in zip(gan.discriminator.parameters(), d_before))
    assert any(not torch.equal(p, b) for p, b in zip(gan.generator.parameters(), g_before))
    assert scaler.get_scale() == 2.0**9  # backed off once, not twice
    assert step.index == 1


def test_scaler_grows_after_clean_iterations():
    vae = genzoo.build("vae", hidden_dim=8, seed=0)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=2)
    step = make_step(vae, scaler)
    for _ in range(2):
        vae.training_step(genzoo.Batch(torch.rand(4, 1, 28, 28)), step)
        step.end_iteration()
    assert scaler.get_scale() == 8.0


def _clip_setup(scaler=None, max_norm=0.1):
    net = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    step = Step({"net": opt}, scaler, torch.device("cpu"), max_norms={"net": max_norm})
    loss = net(torch.ones(2, 4)).sum() * 10
    expected = torch.nn.utils.get_total_norm(
        torch.autograd.grad(loss, list(net.parameters()), retain_graph=True))
    before = [p.detach().clone() for p in net.parameters()]
    return net, step, loss, expected, before


@pytest.mark.parametrize("scale", [None, 2.0**12])
def test_clipping_limits_the_update_and_reports_the_unscaled_pre_clip_norm(scale):
    scaler = torch.amp.GradScaler("cpu", init_scale=scale) if scale else None
    net, step, loss, expected, before = _clip_setup(scaler)
    step.optimize(loss, "net")
    # the norm before clipping, of the true gradients (unscaled first under the fp16 scaler)
    assert step.grad_norms["net"].item() == pytest.approx(expected.item(), rel=1e-5)
    moved = torch.cat([(p - b).flatten() for p, b in zip(net.parameters(), before)])
    assert moved.norm().item() == pytest.approx(0.1, rel=1e-4)  # SGD lr 1: the clipped norm


def test_without_max_norm_no_clipping_and_no_norm():
    net = torch.nn.Linear(4, 1)
    step = Step({"net": torch.optim.SGD(net.parameters(), lr=1.0)}, None, torch.device("cpu"))
    before = [p.detach().clone() for p in net.parameters()]
    step.optimize(net(torch.ones(2, 4)).sum() * 10, "net")
    moved = torch.cat([(p - b).flatten() for p, b in zip(net.parameters(), before)])
    assert moved.norm().item() > 1.0 and not step.grad_norms


def test_run_option_max_norm_logs_grad_norm_per_optimizer():
    gan = genzoo.build("gan", seed=0, generator_widths=(8, 8, 8, 8), discriminator_widths=(8, 8))
    result = gan.fit([torch.rand(8, 1, 28, 28)] * 2, epochs=1, max_norm=1.0, progress=False)
    assert result.metrics["grad_norm_generator"] > 0 and result.metrics["grad_norm_discriminator"] > 0
    plain = genzoo.build("gan", seed=0, generator_widths=(8, 8, 8, 8), discriminator_widths=(8, 8))
    assert "grad_norm_generator" not in plain.fit([torch.rand(8, 1, 28, 28)], progress=False).metrics


def test_fit_trains_inside_a_no_grad_block():
    model = genzoo.build("vae", hidden_dim=8, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        model.fit([torch.rand(4, 1, 28, 28)], epochs=1, progress=False)
        assert not torch.is_grad_enabled()  # the caller's mode is back
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
