"""Learning-rate schedules: the runner's warm-up/cosine, a model's own scheduler, resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

import genzoo
from genzoo.runner import LAST_CHECKPOINT
from genzoo.runner.optimization import warmup_factor

IMAGES = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def data():
    return [IMAGES[i:i + 16] for i in range(0, 64, 16)]  # 4 steps an epoch


def tiny_vae(**config):
    return genzoo.build("vae", seed=0, hidden_dim=8, latent_dim=2, **config)


def test_warmup_then_cosine_factor():
    f = [warmup_factor(s, warmup=2, total=6, cosine=True) for s in range(8)]
    assert f[:3] == [0.5, 1.0, 1.0]
    assert f[4] == pytest.approx(0.5) and f[6] == f[7] == 0.0
    assert [warmup_factor(s, warmup=3, total=None, cosine=False) for s in (0, 2, 50)] == [1 / 3, 1, 1]


def test_cosine_schedule_is_stepped_per_step_and_logged(tmp_path):
    vae = tiny_vae()
    result = vae.fit(data(), epochs=2, lr_schedule="cosine", warmup_steps=2, out=tmp_path,
                     progress=False, log_every=1)
    base = vae.config.lr
    opt_lr = [h["lr_vae"] for h in result.history]
    # after 4 steps: step index 4 of 8, two of warm-up: cos(pi * 2/6); after 8: 0
    assert opt_lr[0] == pytest.approx(base * 0.5 * (1 + math.cos(math.pi * 2 / 6)))
    assert opt_lr[1] == 0.0
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["lr_vae"] for line in lines] == opt_lr


def test_no_schedule_keeps_the_rate():
    vae = tiny_vae()
    result = vae.fit(data(), epochs=1, progress=False)
    assert result.metrics["lr_vae"] == vae.config.lr


def test_cosine_without_a_known_length_is_a_config_error():
    class Endless:
        def __iter__(self):
            return iter(data())

    with pytest.raises(genzoo.ConfigError, match="max_steps"):
        tiny_vae().fit(Endless(), epochs=1, lr_schedule="cosine", progress=False)


class ScheduledVAE(type(tiny_vae())):  # a model returning its own scheduler and clipping
    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=1e-4)
        return {"vae": genzoo.OptimizerSpec(
            opt, scheduler=torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5))}


def test_a_models_own_scheduler_is_stepped_and_takes_precedence():
    vae = ScheduledVAE(hidden_dim=8, latent_dim=2)
    result = vae.fit(data(), epochs=2, lr_schedule="cosine", progress=False)
    # StepLR halves every 3 steps: after 4 steps 5e-5, after 8 steps 2.5e-5
    assert [h["lr_vae"] for h in result.history] == pytest.approx([5e-5, 2.5e-5])


def test_optimizer_spec_checks_its_parts():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    other = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="its own optimizer"):
        genzoo.OptimizerSpec(opt, scheduler=torch.optim.lr_scheduler.StepLR(other, 1))
    with pytest.raises(ValueError, match="max_norm"):
        genzoo.OptimizerSpec(opt, max_norm=0)


def test_resume_with_schedule_clipping_and_ema_is_bit_for_bit(tmp_path):
    options = dict(lr_schedule="cosine", warmup_steps=3, max_norm=0.5, ema=0.9, progress=False,
                   seed=5)
    whole = tiny_vae()
    whole_result = whole.fit(data(), epochs=4, out=tmp_path / "whole", **options)

    tiny_vae().fit(data(), epochs=4, max_steps=6, out=tmp_path / "split", **options)  # mid-epoch
    resumed = tiny_vae()
    torch.manual_seed(123)
    result = resumed.fit(data(), epochs=4, out=tmp_path / "split", resume="auto", **options)

    assert result.metrics["lr_vae"] == whole_result.metrics["lr_vae"]
    assert result.metrics["grad_norm_vae"] == whole_result.metrics["grad_norm_vae"]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)  # the EMA weights, which fit leaves in the model
    one = torch.load(tmp_path / "whole" / LAST_CHECKPOINT, weights_only=True)
    two = torch.load(tmp_path / "split" / LAST_CHECKPOINT, weights_only=True)
    assert one["schedules"] == two["schedules"] and one["ema"]["updates"] == two["ema"]["updates"] == 16
    for key in one["state_dict"]:
        assert torch.equal(one["state_dict"][key], two["state_dict"][key])
        assert torch.equal(one["ema"]["state_dict"][key], two["ema"]["state_dict"][key])


def test_resume_with_a_different_schedule_is_refused(tmp_path):
    tiny_vae().fit(data(), epochs=1, out=tmp_path, warmup_steps=2, progress=False)
    with pytest.raises(genzoo.CheckpointError, match="lr_schedule and warmup_steps"):
        tiny_vae().fit(data(), epochs=2, out=tmp_path, resume="auto", progress=False)
