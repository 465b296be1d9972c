"""Weight EMA as a run option: averaged weights for sampling, grids, save and load; raw ones train."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.runner import LAST_CHECKPOINT
from genzoo.runner.optimization import WeightEMA, ema_decay

IMAGES = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def data():
    return [IMAGES[i:i + 16] for i in range(0, 64, 16)]  # 4 steps an epoch


def tiny_vae():
    return genzoo.build("vae", seed=0, hidden_dim=8, latent_dim=2)


def test_update_follows_the_warmed_up_decay():
    net = torch.nn.Linear(2, 1)
    start = net.weight.detach().clone()
    ema = WeightEMA(net, 0.99)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update()  # decay min(0.99, 1/10): 0.1 of the old average, 0.9 of the new weights
    assert torch.allclose(ema.averages[0], start + 0.9)
    assert ema_decay(0.99, 0) == 0.1 and ema_decay(0.99, 10_000) == 0.99
    assert ema_decay(0.5, 0, warmup=False) == 0.5


def test_applied_swaps_without_touching_the_optimizers_parameters():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = WeightEMA(net, 0.9)
    param = net[0].weight
    raw = param.detach().clone()
    ema.averages[0].fill_(3.0)
    with ema.applied():
        assert net[0].weight is param and torch.all(param == 3.0)
    assert torch.equal(param, raw)
    assert len(ema.averages) == 4 + 2  # four parameters and batch norm's two float statistics


def test_fit_with_ema_samples_grids_and_evaluates_with_the_average(tmp_path):
    seen = []

    class Spy:
        @genzoo.hookimpl
        def genzoo_epoch_end(self, model, run, epoch, metrics):
            seen.append(model.sample(4, seed=1))

    vae = tiny_vae()
    vae.fit(data(), epochs=2, ema=0.9, out=tmp_path, progress=False, callbacks=[Spy()])
    checkpoint = torch.load(tmp_path / LAST_CHECKPOINT, weights_only=True)
    assert checkpoint["ema"]["updates"] == 8 and checkpoint["ema"]["decay"] == 0.9
    averaged, raw = checkpoint["ema"]["state_dict"], checkpoint["state_dict"]
    assert not torch.equal(averaged["decoder.0.weight"], raw["decoder.0.weight"])
    # after fit the model holds the averaged weights; the epoch-end hook saw them too
    for key, value in vae.state_dict().items():
        assert torch.equal(value, averaged[key])
    assert torch.equal(seen[-1], vae.sample(4, seed=1))
    # load: the average by default, the raw weights on request
    assert torch.equal(genzoo.load(tmp_path / LAST_CHECKPOINT).sample(4, seed=1), seen[-1])
    as_raw = genzoo.load(tmp_path / LAST_CHECKPOINT, weights="raw")
    assert torch.equal(as_raw.state_dict()["decoder.0.weight"], raw["decoder.0.weight"])
    assert not torch.equal(as_raw.sample(4, seed=1), seen[-1])
    # save() after fit writes the averaged weights
    vae.save(tmp_path / "saved.pt")
    assert torch.equal(genzoo.load(tmp_path / "saved.pt").sample(4, seed=1), seen[-1])


def test_the_raw_weights_keep_training(tmp_path):
    with_ema, without = tiny_vae(), tiny_vae()
    with_ema.fit(data(), epochs=1, ema=0.5, seed=1, out=tmp_path / "a", progress=False)
    without.fit(data(), epochs=1, seed=1, out=tmp_path / "b", progress=False)
    a = torch.load(tmp_path / "a" / LAST_CHECKPOINT, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / LAST_CHECKPOINT, weights_only=True)["state_dict"]
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_load_ema_of_a_run_without_one_is_an_error(tmp_path):
    tiny_vae().fit(data(), epochs=1, out=tmp_path, progress=False)
    with pytest.raises(genzoo.CheckpointError, match="no weight EMA"):
        genzoo.load(tmp_path / LAST_CHECKPOINT, weights="ema")
    with pytest.raises(genzoo.ConfigError, match="weights"):
        genzoo.load(tmp_path / LAST_CHECKPOINT, weights="best")


def test_bad_ema_option_is_a_config_error():
    with pytest.raises(genzoo.ConfigError, match="ema"):
        tiny_vae().fit(data(), epochs=1, ema=1.0)


def test_ema_added_on_resume_starts_from_the_restored_weights(tmp_path):
    tiny_vae().fit(data(), epochs=1, out=tmp_path, progress=False)
    restored = torch.load(tmp_path / LAST_CHECKPOINT, weights_only=True)["state_dict"]
    # max_steps=4: the resumed run takes no further step, so its average is where it started
    tiny_vae().fit(data(), epochs=2, out=tmp_path, resume="auto", ema=0.5, max_steps=4,
                   progress=False)
    checkpoint = torch.load(tmp_path / LAST_CHECKPOINT, weights_only=True)
    assert checkpoint["ema"]["updates"] == 0
    for key, value in checkpoint["ema"]["state_dict"].items():
        assert torch.equal(value, restored[key]), key  # not the fresh model's initial weights


def test_frozen_modules_keep_their_own_buffers():
    gan = genzoo.build("gan", seed=0, generator_widths=(8, 8, 8, 8), discriminator_widths=(8, 8),
                       ema=0.9)  # the GAN's own averaged generator: frozen, with batch norm
    ema = WeightEMA(gan, 0.9)
    names = set(ema._names)
    assert "generator.3.running_mean" in names
    assert not any(name.startswith("ema_generator.") for name in names)
