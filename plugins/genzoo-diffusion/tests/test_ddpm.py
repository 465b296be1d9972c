"""The diffusion plugin's own pieces: the noise schedule, the prediction types and the samplers."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch

import genzoo
from genzoo_diffusion.samplers import DDIM, DDPM, SAMPLERS, sampling_timesteps
from genzoo_diffusion.schedule import NoiseSchedule, beta_schedule


@pytest.fixture(autouse=True)
def _installed_plugins() -> Iterator[None]:
    """See the installed plugin distributions (genzoo's own tests hide them from discovery)."""
    genzoo.reload_plugins()
    yield


def perturbed(model: genzoo.GenerativeModel) -> genzoo.GenerativeModel:
    """The zero-initialised head makes an untrained model's output constant; move every weight."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return model


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_schedule_goes_from_signal_to_noise(kind):
    schedule = NoiseSchedule(kind, 1000)
    alpha_bar = schedule.alpha_bar
    assert alpha_bar[0] > 0.99 and alpha_bar[-1] < 0.01
    assert bool((alpha_bar[1:] <= alpha_bar[:-1]).all())
    assert schedule.alpha_bar_at(-1) == 1.0
    with pytest.raises(ValueError, match="unknown schedule"):
        beta_schedule("quadratic", 10)


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_split_inverts_add_noise_and_target(prediction):
    schedule = NoiseSchedule("cosine", 100)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1, torch.randn(3, 1, 4, 4, generator=g)
    t = torch.tensor([10, 10, 10])
    x_t = schedule.add_noise(x0, noise, t)
    ab = schedule.alpha_bar_at(10)
    torch.testing.assert_close(x_t, math.sqrt(ab) * x0 + math.sqrt(1 - ab) * noise)
    target = schedule.target(x0, noise, t, prediction)
    got_x0, got_eps = schedule.split(x_t, target, 10, prediction)
    torch.testing.assert_close(got_x0, x0, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_eps, noise, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(schedule.noise_of(x_t, x0, 10), noise, atol=1e-5, rtol=1e-5)


def test_sampling_timesteps_stride_the_chain():
    assert sampling_timesteps(100, 4) == [99, 66, 33, 0]
    assert sampling_timesteps(10, 10) == list(range(9, -1, -1))
    with pytest.raises(ValueError, match="between 1 and"):
        sampling_timesteps(10, 11)


def test_ddim_is_deterministic_and_ddpm_adds_noise():
    schedule = NoiseSchedule("cosine", 100)
    x, x0, eps = torch.randn(2, 1, 4, 4), torch.zeros(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    ddim, ddpm = DDIM(), DDPM()
    a = ddim.step(schedule, x, x0, eps, 50, 40, torch.Generator().manual_seed(1))
    assert torch.equal(a, ddim.step(schedule, x, x0, eps, 50, 40, torch.Generator().manual_seed(2)))
    b = ddpm.step(schedule, x, x0, eps, 50, 40, torch.Generator().manual_seed(1))
    assert not torch.equal(b, ddpm.step(schedule, x, x0, eps, 50, 40, torch.Generator().manual_seed(2)))
    assert torch.equal(ddpm.step(schedule, x, x0, eps, 0, -1, None), x0)  # the last step is clean
    assert set(SAMPLERS) == {"ddim", "ddpm"}


def test_the_model_sampler_and_prediction_options():
    ddim = genzoo.build("ddpm", base_width=8, timesteps=50, sample_steps=3, seed=0)
    perturbed(ddim)
    z = ddim.sample_latent(2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ddim.generate(z, sampler="ddpm"), ddim.generate(z, sampler="ddpm"))  # noise from z
    assert not torch.equal(ddim.generate(z), ddim.generate(z, sampler="ddpm"))
    assert not torch.equal(ddim.sample(2, seed=0, sampler="ddpm"), ddim.sample(2, seed=1, sampler="ddpm"))
    eps = genzoo.build("ddpm", base_width=8, timesteps=50, prediction="epsilon")
    eps.load_state_dict(ddim.state_dict())
    assert not torch.equal(eps.generate(z), ddim.generate(z))
    with pytest.raises(genzoo.ConfigError, match="prediction"):
        genzoo.build("ddpm", prediction="x0")
    with pytest.raises(genzoo.ConfigError, match="sample_steps"):
        genzoo.build("ddpm", timesteps=10, sample_steps=20)


def test_sampling_in_chunks_gives_the_same_ddim_images_and_classes():
    model = genzoo.build("ddpm", base_width=8, timesteps=50, sample_steps=3, num_classes=10, seed=0)
    perturbed(model)
    whole = model.sample(5, seed=0, guidance=2.0, chunk=5)
    chunked = model.sample(5, seed=0, guidance=2.0, chunk=2)  # classes 0-4 in turn, not 0 1 0 1 0
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)
    stochastic = model.sample(5, seed=0, sampler="ddpm", chunk=2)
    assert torch.equal(stochastic, model.sample(5, seed=0, sampler="ddpm", chunk=2))
