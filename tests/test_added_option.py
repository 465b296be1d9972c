"""Config options added after models were saved without them (``genzoo.plugin.added_option``):
a checkpoint or model folder whose saved config lacks such a field loads with the value the
field declares for it (``absent``), while a model built now gets the default."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import genzoo
from genzoo.config import saved_config
from genzoo.hub import CONFIG_FILE
from genzoo.plugin import Batch, GenerativeModel, StepContext, added_option, sampling_option
from genzoo.runner.state import read_checkpoint_state
from genzoo.sampling import sampling_fields
from tests.cli import FAST, invoke, ok, tiny_root  # noqa: F401


@dataclass(frozen=True)
class CriticConfig:
    image_shape: tuple[int, int, int] = (1, 2, 2)
    width: int = 3  # there from the start
    adversarial: float = added_option(2.0, absent=0.0)  # added later; non-zero adds a critic
    temperature: float = added_option(sampling_option(1.0, minimum=0.0), absent=0.5)


class CriticModel(GenerativeModel):
    Config = CriticConfig

    def __init__(self, config: CriticConfig | None = None, /, **overrides: object) -> None:
        super().__init__(config, **overrides)
        pixels = math.prod(self.config.image_shape)
        self.net = torch.nn.Linear(self.config.width, pixels)
        self.critic = torch.nn.Linear(pixels, 1) if self.config.adversarial else None

    def sample_latent(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.config.width, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.net(z) / self.config.temperature).view(-1, *self.image_shape)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"net": torch.optim.SGD(self.parameters(), lr=0.1)}

    def training_step(self, batch: Batch, step: StepContext) -> dict[str, torch.Tensor]:
        z = torch.ones(batch.images.shape[0], self.config.width)
        loss = (self.generate(z) - batch.images).pow(2).mean()
        if self.critic is not None:
            loss = loss + self.config.adversarial * self.critic(self.net(z)).mean().pow(2)
        step.optimize(loss, "net")
        return {"loss": loss.detach()}


class _Plugin:
    @genzoo.hookimpl
    def genzoo_register_models(self, register):  # type: ignore[no-untyped-def]
        register("critic-test", CriticModel, summary="a test model with an option added later")


@pytest.fixture(autouse=True)
def _critic_model():
    genzoo.register_plugin(_Plugin(), name="critic-test")
    try:
        yield
    finally:
        genzoo.unregister_plugin("critic-test")


#: The fields a config saved before the options were added lacks (``width`` stands for a field
#: declared without ``absent``: missing, it takes its default).
NEWER = ("adversarial", "temperature", "width")


def old_checkpoint(tmp_path: Path, newer: tuple[str, ...] = NEWER) -> tuple[Path, GenerativeModel]:
    """A checkpoint as genzoo wrote it before the fields ``newer`` existed."""
    model = genzoo.build("critic-test", seed=0, adversarial=0.0, temperature=0.5)
    path = tmp_path / "old.pt"
    model.save(path)
    payload = torch.load(path, weights_only=True)
    for key in newer:
        del payload["config"][key]
    torch.save(payload, path)
    return path, model


def assert_as_trained(loaded: GenerativeModel, model: GenerativeModel) -> None:
    assert loaded.config == model.config == CriticConfig(adversarial=0.0, temperature=0.5)
    assert loaded.critic is None
    assert torch.equal(loaded.sample(3, seed=1), model.sample(3, seed=1))


def test_a_checkpoint_saved_before_the_options_existed_loads_as_it_was_trained(tmp_path):
    path, model = old_checkpoint(tmp_path)
    assert_as_trained(genzoo.load(path), model)
    assert genzoo.load(path, temperature=0.7).config.temperature == 0.7  # still a sampling option
    built = genzoo.build("critic-test")  # a model built now: the defaults
    assert (built.config.adversarial, built.config.temperature) == (2.0, 1.0)
    assert built.critic is not None


def test_a_model_folder_saved_before_the_options_existed_loads_as_it_was_trained(tmp_path):
    model = genzoo.build("critic-test", seed=0, adversarial=0.0, temperature=0.5)
    folder = model.save_pretrained(tmp_path / "old", grid=0)
    written = json.loads((folder / CONFIG_FILE).read_text())
    for key in NEWER:
        del written["config"][key]
    (folder / CONFIG_FILE).write_text(json.dumps(written))
    assert_as_trained(genzoo.from_pretrained(folder), model)
    assert genzoo.build("critic-test", width="3").config.adversarial == 2.0  # as --set gives it


def test_a_run_saved_before_the_options_existed_resumes_with_them_as_they_were(tmp_path):
    path, _ = old_checkpoint(tmp_path, ("adversarial", "temperature"))
    same = genzoo.build("critic-test", adversarial=0.0)
    read_checkpoint_state(path, same)  # no complaint: the checkpoint's adversarial is 0.0
    with pytest.raises(genzoo.CheckpointError,
                       match=r"config differs \(adversarial: checkpoint 0\.0, model 2\.0\)"):
        read_checkpoint_state(path, genzoo.build("critic-test"))


def test_a_run_folder_from_before_the_option_resumes_from_the_command_line(tmp_path, tiny_root):
    out = tmp_path / "run"
    train = ("train", "critic-test", "--data", "mnist", "--data-root", tiny_root, *FAST,
             "--set", "image_shape=1x28x28", "--out", out)
    ok(invoke(*train, "--set", "adversarial=0", "--epochs", "1"))
    # as the run was written before the option existed: neither its checkpoint nor its
    # train.toml names adversarial (train.toml records only the options a user set)
    last = out / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    del payload["config"]["adversarial"]
    torch.save(payload, last)
    toml = (out / "train.toml").read_text()
    (out / "train.toml").write_text(toml.replace("adversarial = 0.0\n", ""))
    assert "adversarial" not in (out / "train.toml").read_text()
    ok(invoke("train", "--resume", out, "--epochs", "2", "--no-progress"))
    assert genzoo.load(last).config.adversarial == 0.0
    assert json.loads((out / "run.json").read_text())["config"]["adversarial"] == 0.0


def test_saved_config_fills_only_the_fields_declared_with_absent():
    assert saved_config(CriticConfig, {"image_shape": (1, 2, 2)}) == {
        "image_shape": (1, 2, 2), "adversarial": 0.0, "temperature": 0.5}
    assert saved_config(CriticConfig, {"adversarial": 1.0}) == {"adversarial": 1.0,
                                                                  "temperature": 0.5}
    assert saved_config(None, {"a": 1}) == {"a": 1}  # a factory without a config class
    # wrapping sampling_option keeps it a sampling option, with its bounds
    fields = {f.name: f for f in dataclasses.fields(CriticConfig)}
    assert sampling_fields(CriticConfig()) == {"temperature"}
    assert fields["temperature"].default == 1.0
    with pytest.raises(genzoo.ConfigError, match="temperature must be at least 0"):
        genzoo.build("critic-test", temperature=-1.0)
