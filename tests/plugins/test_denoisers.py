"""What the "ddpm" and "flow-matching" plugin models share: shapes, steps chosen at sample time,
repeatable seeds, class conditioning with guidance, learning, and exact resume.

Both are installed from their own distributions (``plugins/genzoo-diffusion`` and
``plugins/genzoo-flow-matching``; ``make venv`` installs them editable).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import torch

import genzoo
from genzoo.data import InMemoryLoader, load_images
from genzoo.runner import LAST_CHECKPOINT
from tests.test_benchmarks import _benchmark_module


@pytest.fixture(autouse=True)
def _only_builtin_plugins() -> Iterator[None]:
    """These tests are about the plugin distributions: unlike the core's tests (see
    ``tests/conftest.py``), they see them."""
    genzoo.reload_plugins()
    yield

NAMES = ["ddpm", "flow-matching"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models train fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mnist_labelled(mnist_root):
    images = load_images("mnist", root=mnist_root, train=True, download=False)
    return images.images[:256], images.labels[:256]


def tiny(name: str, **overrides: object) -> genzoo.GenerativeModel:
    config = {"base_width": 8, "sample_steps": 3, "lr": 3e-3, **overrides}
    if name == "ddpm":
        config.setdefault("timesteps", 100)
    return genzoo.build(name, seed=0, **config)


def perturbed(model: genzoo.GenerativeModel) -> genzoo.GenerativeModel:
    """The zero-initialised head makes an untrained model's output constant; move every weight."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return model


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs"


@pytest.mark.parametrize("name", NAMES)
def test_listed_from_their_own_distributions(name):
    info = {i.name: i for i in genzoo.model_infos()}[name]
    assert info.distribution == {"ddpm": "genzoo-diffusion", "flow-matching": "genzoo-flow-matching"}[name]
    model = tiny(name)
    assert isinstance(model, genzoo.IterativeGenerator) and isinstance(model, genzoo.Trainer)
    assert not isinstance(model, genzoo.Encoder)
    assert model.sampling_steps == 3
    assert isinstance(model.net, genzoo.nn.UNet)  # the core's UNet, not a copy


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 28, 28), (1, 32, 32)])
def test_samples_have_the_image_shape_and_unit_range(name, shape):
    model = perturbed(tiny(name, image_shape=shape))
    images = model.sample(3, seed=0)
    assert images.shape == (3, *shape) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1 and images.std() > 0
    assert model.training  # sampling leaves the mode as it was


@pytest.mark.parametrize("name", NAMES)
def test_steps_are_chosen_at_sample_time(name):
    model = perturbed(tiny(name))
    calls = []
    forward = model.net.forward
    model.net.forward = lambda *a, **k: calls.append(1) or forward(*a, **k)
    counts = {}
    for steps in (2, 5, None):  # None: the config's sample_steps (3)
        calls.clear()
        model.sample(2, seed=0, steps=steps)
        counts[steps] = len(calls)
    per_step = (counts[5] - counts[2]) / 3  # each step's calls (Heun's last step: one fewer)
    assert per_step >= 1 and counts[None] == counts[2] + per_step
    assert not torch.equal(model.sample(2, seed=0, steps=2), model.sample(2, seed=0, steps=5))
    with pytest.raises(ValueError, match="steps"):
        model.sample(2, steps=0)


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_repeats_the_images_and_leaves_global_rng_alone(name):
    model = perturbed(tiny(name))
    state = torch.get_rng_state()
    a = model.sample(4, seed=1)
    assert torch.equal(a, model.sample(4, seed=1))
    assert not torch.equal(a, model.sample(4, seed=2))
    z = model.sample_latent(2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.generate(z), model.generate(z.clone()))
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("name", NAMES)
def test_conditioning_and_guidance(name, mnist_labelled):
    model = perturbed(tiny(name, num_classes=10))
    sevens = model.sample(4, seed=0, labels=7)
    assert not torch.equal(sevens, model.sample(4, seed=0, labels=3))
    assert torch.equal(model.sample(10, seed=0), model.sample(10, seed=0, labels=torch.arange(10)))
    guided = model.sample(4, seed=0, labels=7, guidance=3.0)
    assert not torch.equal(guided, sevens)
    calls = []
    forward = model.net.forward
    model.net.forward = lambda x, *a, **k: calls.append(x.shape[0]) or forward(x, *a, **k)
    model.sample(4, seed=0, labels=7, guidance=3.0, steps=1)
    assert set(calls) == {8}  # conditional and unconditional in one batch
    with pytest.raises(ValueError, match="guidance"):
        model.sample(2, guidance=-1.0)
    with pytest.raises(ValueError, match=r"in \[0, 10\)"):
        model.sample(2, labels=10)
    with pytest.raises(ValueError, match="not class-conditional"):
        tiny(name).sample(2, labels=1)
    with pytest.raises(genzoo.BatchError, match="labelled batches"):
        model.fit([torch.rand(4, 1, 28, 28)], epochs=1, progress=False)


@pytest.mark.parametrize("name", NAMES)
def test_training_lowers_the_loss(name, mnist_labelled):
    images, labels = mnist_labelled
    model = tiny(name, num_classes=10)
    g = torch.Generator().manual_seed(0)
    x = images[:128].float() / 255
    t = (torch.randint(0, 100, (128,), generator=g) if name == "ddpm" else torch.rand(128, generator=g))
    noise = torch.randn(x.shape, generator=g)
    with torch.no_grad():
        before = model.loss(x, t, noise, labels[:128].long()).item()
    model.fit(InMemoryLoader(images, labels, batch_size=32), epochs=2, seed=0, progress=False)
    with torch.no_grad():
        after = model.loss(x, t, noise, labels[:128].long()).item()
    assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize("name", NAMES)
def test_two_plus_two_epochs_equal_four(name, mnist_labelled, tmp_path):
    images, labels = mnist_labelled[0][:96], mnist_labelled[1][:96]

    def run(model, epochs, out, **options):
        return model.fit(InMemoryLoader(images, labels, batch_size=32), epochs=epochs, out=out,
                         grid_size=4, progress=False, **options)

    whole = tiny(name, num_classes=10)
    run(whole, 4, tmp_path / "whole", seed=11)
    run(tiny(name, num_classes=10), 2, tmp_path / "split", seed=11)
    resumed = tiny(name, num_classes=10)
    torch.manual_seed(12345)
    result = run(resumed, 4, tmp_path / "split", resume="auto")
    assert result.epochs == 4 and [h["epoch"] for h in result.history] == [3, 4]
    assert_same_weights(whole, resumed)
    loaded = genzoo.load(tmp_path / "split" / LAST_CHECKPOINT)
    assert type(loaded) is type(whole) and loaded.config == whole.config
    assert torch.equal(loaded.sample(3, seed=4), whole.sample(3, seed=4))
    # sampling options change after training; what the weights mean does not
    guided = genzoo.load(tmp_path / "split" / LAST_CHECKPOINT, guidance=2.5, sample_steps=2)
    assert (guided.config.guidance, guided.sampling_steps) == (2.5, 2)
    assert torch.equal(guided.sample(3, seed=4), whole.sample(3, seed=4, guidance=2.5, steps=2))
    with pytest.raises(genzoo.ConfigError, match="base_width"):
        genzoo.load(tmp_path / "split" / LAST_CHECKPOINT, base_width=16)
    assert (tmp_path / "split" / "grids" / "samples_final.png").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_bad_options_are_refused(name):
    with pytest.raises(genzoo.ConfigError, match="sampler"):
        genzoo.build(name, sampler="rk45")
    with pytest.raises(genzoo.ConfigError, match="divisible by 4"):
        genzoo.build(name, image_shape=(1, 30, 30))
    with pytest.raises(ValueError, match="unknown sampler"):
        tiny(name).sample(1, sampler="rk45")


def test_the_sampling_benchmark_times_chunk_sizes_side_by_side(tmp_path, capsys):
    out = tmp_path / "sampling.json"
    assert _benchmark_module("sampling").main(
        ["--quick", "--models", "flow-matching", "--set", "num_classes=10", "--set", "guidance=2",
         "--chunks", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["steps"], r["chunk"]) for r in rows] == [(10, None), (10, 2), (2, None), (2, 2)]
    assert "| flow-matching | 2 | 2 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _benchmark_module("sampling").main(["--quick", "--chunks", "0"])
