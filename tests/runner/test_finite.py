"""A NaN or infinite loss stops the run with a clear error and leaves the last checkpoint alone."""

from __future__ import annotations

import json

import pytest
import torch

import genzoo
from genzoo.runner import LAST_CHECKPOINT
from genzoo.runner.loop import FiniteWatch

IMAGES = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def data():
    return [IMAGES[i:i + 16] for i in range(0, 64, 16)]  # 4 steps an epoch


class BreaksAtStep:
    """Wraps a VAE whose loss turns NaN from training step ``at`` (counting from 1) on."""

    def __init__(self, at):
        self.at = at

    def __call__(self, **config):
        at = self.at
        base = type(genzoo.build("vae", hidden_dim=8, latent_dim=2))

        class Breaking(base):
            def training_step(self, batch, step):
                losses = super().training_step(batch, step)
                if step.index + 1 >= at:
                    with torch.no_grad():
                        for p in self.parameters():
                            p.fill_(float("nan"))
                    losses["loss"] = losses["loss"] * float("nan")
                return losses

        return Breaking(hidden_dim=8, latent_dim=2, **config)


def test_nan_loss_stops_the_run_naming_step_loss_and_value(tmp_path):
    genzoo.build("vae", seed=0, hidden_dim=8, latent_dim=2).fit(
        data(), epochs=1, out=tmp_path, progress=False)
    before = (tmp_path / LAST_CHECKPOINT).read_bytes()
    model = BreaksAtStep(7)()
    with pytest.raises(genzoo.NonFiniteLossError) as caught:
        model.fit(data(), epochs=3, out=tmp_path, resume="auto", progress=False, log_every=50)
    err = caught.value
    assert (err.step, err.name) == (7, "loss") and str(err.value) == "nan"
    message = str(err)
    assert "step 7" in message and "'loss'" in message and "nan" in message
    assert "learning rate" in message and 'precision="32"' in message and "max_norm" in message
    # the epoch ending at step 8 was not checkpointed: the file is the one written before
    assert (tmp_path / LAST_CHECKPOINT).read_bytes() == before
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert last == {"event": "stopped", "reason": "non-finite loss", "step": 7, "loss": "loss",
                    "value": "nan"}


def test_nan_is_caught_at_the_next_log_interval_not_only_at_epoch_end():
    model = BreaksAtStep(2)()
    seen = []
    model.training_step = _counting(model.training_step, seen)
    with pytest.raises(genzoo.NonFiniteLossError, match="step 2"):
        model.fit(data() * 4, epochs=1, progress=False, log_every=3)
    assert len(seen) == 3  # stopped at the first read-back after the NaN, not after 16 steps


def _counting(fn, seen):
    def step(batch, ctx):
        seen.append(ctx.index)
        return fn(batch, ctx)
    return step


def test_watch_reports_the_first_bad_step_and_which_loss():
    watch = FiniteWatch()
    watch.observe({"a": torch.tensor(1.0), "b": torch.tensor(2.0)}, 0)
    watch.check()
    watch.observe({"a": torch.tensor(1.0), "b": torch.tensor(float("inf"))}, 1)
    watch.observe({"a": torch.tensor(float("nan")), "b": torch.tensor(1.0)}, 2)
    with pytest.raises(genzoo.NonFiniteLossError, match="'b' became inf at step 2"):
        watch.check()


def test_cli_train_whose_loss_becomes_nan_exits_2_with_one_line(tmp_path, mnist_root, monkeypatch):
    from click.testing import CliRunner

    from genzoo.cli import main

    monkeypatch.setenv("GENZOO_DATA", str(mnist_root))
    # a learning rate of 1e30 passes the settings' checks and makes the loss nan at step 2
    # (beta=nan no longer gets that far: genzoo.build refuses non-finite settings)
    result = CliRunner().invoke(main, ["train", "vae", "--set", "lr=1e30", "--set", "hidden_dim=8",
                                       "--max-steps", "5", "--log-every", "1",
                                       "--out", str(tmp_path / "run"), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "became nan at step 2" in lines[0]
    assert not (tmp_path / "run" / LAST_CHECKPOINT).exists()
    stopped = [line for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
               if "stopped" in line]
    assert stopped and "nan" in stopped[-1]
