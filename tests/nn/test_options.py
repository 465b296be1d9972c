"""genzoo.nn.UNetOptions: the UNet families' shared config fields, their checks, the network
they describe, the fields that fix it and the training labels they draw; genzoo.nn.UNetSampling:
their models' shared sampling defaults."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genzoo import Batch, BatchError, GenerativeModel, IterativeGenerator
from genzoo.nn import UNet, UNetOptions, UNetSampling
from genzoo.sampling import sampling_option

SHARED = ["image_shape", "base_width", "channel_mults", "blocks_per_level", "patch_size",
          "dropout", "num_classes", "label_dropout"]


@dataclasses.dataclass(frozen=True)
class FamilyConfig(UNetOptions):
    """A model family's config as a plugin writes one: the shared options, then its own."""

    steps: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")


def test_a_subclass_inherits_the_fields_first_and_both_checks_run():
    assert [f.name for f in dataclasses.fields(FamilyConfig)] == [*SHARED, "steps"]
    assert FamilyConfig().patch_size == 2 and FamilyConfig().label_dropout == 0.1
    with pytest.raises(ValueError, match="steps"):
        FamilyConfig(steps=0)
    with pytest.raises(ValueError, match="label_dropout"):
        FamilyConfig(label_dropout=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        FamilyConfig().base_width = 8  # type: ignore[misc]


@pytest.mark.parametrize("option, value, message", [
    ("image_shape", (1, 28), "image_shape"),
    ("image_shape", (1, 30, 30), "divisible by 4 .* got 30x30"),
    ("base_width", 1, "base_width"),
    ("channel_mults", (), "channel_mults"),
    ("blocks_per_level", 0, "blocks_per_level"),
    ("patch_size", 3, "patch_size"),
    ("dropout", 1.0, "dropout"),
    ("num_classes", -1, "num_classes"),
    ("label_dropout", 1.0, "label_dropout"),
    ("label_dropout", -0.1, "label_dropout"),
])
def test_a_bad_option_is_refused_by_name(option, value, message):
    with pytest.raises(ValueError, match=message):
        UNetOptions(**{option: value})


def test_build_unet_gives_the_configured_unet():
    opts = UNetOptions(image_shape=(3, 32, 32), base_width=8, channel_mults=(1, 2, 2),
                       blocks_per_level=2, patch_size=1, dropout=0.1, num_classes=10)
    net = opts.build_unet()
    assert isinstance(net, UNet)
    assert (net.channels, net.levels, net.patch_size, net.num_classes, net.time_inputs) == (3, 3, 1, 10, 1)
    same = UNet(3, base_width=8, channel_mults=(1, 2, 2), blocks_per_level=2, num_classes=10,
                patch_size=1, dropout=0.1)
    assert {k: v.shape for k, v in net.state_dict().items()} == {
        k: v.shape for k, v in same.state_dict().items()}
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.1 for m in net.modules())
    assert opts.build_unet(time_inputs=2).time_inputs == 2
    assert UNetOptions().build_unet().patch_size == 2  # the config's default, not the UNet's (1)


def test_training_labels_drop_to_the_null_class_at_the_rate_asked_for():
    n = 20_000
    batch = Batch(torch.zeros(n, 1, 28, 28), torch.full((n,), 3))
    torch.manual_seed(0)
    labels = UNetOptions(num_classes=10, label_dropout=0.3).training_labels(batch, "my-model")
    assert labels.dtype == torch.long and labels.shape == (n,)
    assert set(labels.unique().tolist()) == {3, 10}  # kept, or the null class (num_classes)
    assert (labels == 10).float().mean().item() == pytest.approx(0.3, abs=0.02)
    kept = UNetOptions(num_classes=10, label_dropout=0.0).training_labels(batch, "my-model")
    assert torch.equal(kept, batch.labels)


def test_training_labels_are_none_unconditional_and_checked_conditional():
    labelled = Batch(torch.zeros(4, 1, 28, 28), torch.arange(4))
    assert UNetOptions().training_labels(labelled, "my-model") is None
    with pytest.raises(BatchError, match="my-model is class-conditional"):
        UNetOptions(num_classes=10).training_labels(Batch(torch.zeros(4, 1, 28, 28)), "my-model")


def _weight_shapes(options: UNetOptions) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in options.build_unet().state_dict().items()}


def test_architecture_fields_name_the_options_that_fix_the_network():
    """A class attribute, not a config field: every shared option but the two that only change
    training; each of them changes the network (its weights' shapes, or for ``image_shape`` also
    the images it takes), the other two leave its weights loadable."""
    assert UNetOptions.architecture_fields == tuple(s for s in SHARED
                                                    if s not in ("dropout", "label_dropout"))
    assert FamilyConfig.architecture_fields == UNetOptions.architecture_fields
    assert "architecture_fields" not in {f.name for f in dataclasses.fields(UNetOptions)}
    base = UNetOptions(image_shape=(1, 16, 16), base_width=8, num_classes=2)
    changed = {"image_shape": (3, 16, 16), "base_width": 16, "channel_mults": (1, 2, 2),
               "blocks_per_level": 2, "patch_size": 1, "num_classes": 3}
    assert set(changed) == set(UNetOptions.architecture_fields)
    for name, value in changed.items():
        other = dataclasses.replace(base, **{name: value})
        assert _weight_shapes(other) != _weight_shapes(base), name
    same = dataclasses.replace(base, dropout=0.3, label_dropout=0.5)
    same.build_unet().load_state_dict(base.build_unet().state_dict())


@dataclasses.dataclass(frozen=True)
class NoiseConfig(UNetOptions):
    sample_steps: int = sampling_option(7, minimum=1)


class NoiseModel(UNetSampling, GenerativeModel):
    """The smallest model on the mixin: it writes only ``generate``."""

    Config = NoiseConfig

    def __init__(self, config: NoiseConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.scale = torch.nn.Parameter(torch.ones(()))

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, *,
                 steps: int | None = None) -> torch.Tensor:
        self.steps_taken = steps
        return (z * self.scale).sigmoid()


def test_the_sampling_mixin_gives_the_configs_steps_and_cpu_noise_of_the_image_shape():
    model = NoiseModel(image_shape=(3, 16, 16))
    assert model.sampling_steps == 7 and isinstance(model, IterativeGenerator)
    model.set_sampling_options(sample_steps=2)
    assert model.sampling_steps == 2
    z = model.sample_latent(5, generator=torch.Generator().manual_seed(3))
    assert z.shape == (5, 3, 16, 16) and z.device.type == "cpu" and z.dtype == torch.float32
    assert torch.equal(z, torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(3)))
    state = torch.get_rng_state()
    model.sample_latent(2, generator=torch.Generator())
    assert torch.equal(torch.get_rng_state(), state)  # a generator leaves the global state alone
    # sample() draws its latent here and takes the config's steps by default.
    images = model.sample(4, seed=0)
    assert images.shape == (4, 3, 16, 16) and model.steps_taken == 2
    assert torch.equal(model.sample(4, seed=0), images)
    model.sample(1, steps=5)
    assert model.steps_taken == 5


def test_the_sampling_mixin_is_stateless_and_goes_before_the_base_class():
    assert "__init__" not in vars(UNetSampling) and UNetSampling.__bases__ == (object,)
    assert NoiseModel.__mro__.index(UNetSampling) < NoiseModel.__mro__.index(GenerativeModel)
    assert isinstance(vars(UNetSampling)["sampling_steps"], property)
    assert (UNetSampling.__doc__ or "").strip()
    assert (UNetSampling.sample_latent.__doc__ or "").strip()
