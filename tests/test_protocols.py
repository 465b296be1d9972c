"""The protocols are runtime-checkable: models are told apart by what they can do."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

import genzoo
from genzoo.sampling import sampling_fields, sampling_option, sampling_progress


class _StandardNormal:
    def log_likelihood(self, images: torch.Tensor, *, samples: int = 1,
                       generator: torch.Generator | None = None) -> genzoo.LogLikelihood:
        flat = images.flatten(1)
        values = -0.5 * (flat**2).sum(1) - 0.5 * flat.shape[1] * torch.log(torch.tensor(2 * torch.pi))
        return genzoo.LogLikelihood(values, exact=True)


def test_a_model_with_log_likelihood_is_a_density_model() -> None:
    assert isinstance(_StandardNormal(), genzoo.DensityModel)
    result = _StandardNormal().log_likelihood(torch.zeros(2, 1, 2, 2))
    assert result.exact and result.values.shape == (2,)


def test_a_model_without_log_likelihood_is_not_a_density_model() -> None:
    assert not isinstance(genzoo.build("gan"), genzoo.DensityModel)



@dataclass(frozen=True)
class TinyConfig:
    image_shape: tuple[int, int, int] = (1, 4, 4)
    sampling_steps: int = sampling_option(3)
    temperature: float = sampling_option(1.0)
    width: int = 2


class SampleOnly(genzoo.GenerativeModel):
    """A generator that cannot be trained (no configure_optimizers, no training_step)."""

    Config = TinyConfig

    def __init__(self, config=None, /, **overrides):
        super().__init__(config, **overrides)
        self.scale = torch.nn.Parameter(torch.ones(()))

    def sample_latent(self, n, *, generator=None):
        return torch.rand(n, 1, 4, 4, generator=generator)

    def generate(self, z, labels=None):
        return z * self.scale


class Iterative(SampleOnly):
    """Samples in steps: each halves the distance to 0.5, ``steps`` times."""

    @property
    def sampling_steps(self):
        return self.config.sampling_steps

    def generate(self, z, labels=None, *, steps):
        for _ in sampling_progress(range(steps), enabled=False):
            z = 0.5 + (z - 0.5) * 0.5 * self.config.temperature
        return z


def test_a_model_without_a_training_step_is_not_a_trainer():
    model = SampleOnly()
    assert isinstance(model, genzoo.Generator)
    assert not isinstance(model, genzoo.Trainer)
    assert not isinstance(model, genzoo.IterativeGenerator)
    with pytest.raises(genzoo.GenzooError, match="configure_optimizers"):
        model.fit([torch.rand(2, 1, 4, 4)])


def test_built_in_models_satisfy_what_they_should():
    for name in ("gan", "dcgan", "vae", "conv-vae"):
        model = genzoo.build(name)
        assert isinstance(model, genzoo.Generator) and isinstance(model, genzoo.Trainer), name
        assert not isinstance(model, genzoo.IterativeGenerator), name
        assert isinstance(model, genzoo.Encoder) == ("vae" in name), name


def test_a_generative_model_without_sampling_methods_says_so():
    class Bare(genzoo.GenerativeModel):
        Config = TinyConfig

    with pytest.raises(NotImplementedError, match="sample_latent and generate"):
        Bare().sample(2)


def test_iterative_sampling_takes_steps_at_sample_time():
    model = Iterative()
    assert isinstance(model, genzoo.IterativeGenerator)
    z = SampleOnly().sample_latent(2, generator=torch.Generator().manual_seed(0))
    default = model.sample(2, seed=0)
    assert torch.allclose(default, 0.5 + (z - 0.5) * 0.5**3)
    assert torch.allclose(model.sample(2, seed=0, steps=1), 0.5 + (z - 0.5) * 0.5)
    with pytest.raises(ValueError, match="positive number of sampling steps"):
        model.sample(2, steps=0)
    with pytest.raises(ValueError, match="samples in one step"):
        SampleOnly().sample(2, steps=4)


def test_sample_takes_the_options_generate_declares_and_refuses_others():
    with pytest.raises(genzoo.ConfigError, match=r"has no sampling option 'guidance'; its options: steps$"):
        Iterative().sample(2, guidance=2.0)
    with pytest.raises(genzoo.ConfigError, match="'temperature'; it takes none besides seed"):
        SampleOnly().sample(2, temperature=0.5)

    class Noisy(SampleOnly):
        """Adds noise while decoding, from the generator sample() hands on."""

        def generate(self, z, labels=None, *, gain=1.0, generator=None):
            return z * gain + torch.rand(z.shape, generator=generator)

    g = torch.Generator().manual_seed(3)
    z = SampleOnly().sample_latent(2, generator=g)
    expected = (z * 0.5 + torch.rand(z.shape, generator=g)).clamp(0, 1)
    assert torch.equal(Noisy().sample(2, seed=3, gain=0.5), expected)


def test_sampling_options_can_change_others_cannot():
    model = Iterative()
    assert sampling_fields(model.config) == {"sampling_steps", "temperature"}
    assert sampling_fields(TinyConfig) == {"sampling_steps", "temperature"}
    model.set_sampling_options(temperature="0.5", sampling_steps=1)
    assert model.config.temperature == 0.5 and model.sampling_steps == 1
    with pytest.raises(genzoo.ConfigError, match="'width' is a training setting.*sampling_steps, temperature"):
        model.set_sampling_options(width=3)
    with pytest.raises(genzoo.ConfigError, match="'depth' is not one of its options"):
        model.set_sampling_options(depth=3)
    with pytest.raises(genzoo.ConfigError, match="temperature"):
        model.set_sampling_options(temperature="warm")


def test_sampling_progress_shows_a_bar_only_when_asked_or_on_a_terminal(capsys):
    assert list(sampling_progress(range(3))) == [0, 1, 2]  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    assert list(sampling_progress(range(3), enabled=True, desc="denoising")) == [0, 1, 2]
    assert "denoising" in capsys.readouterr().err
