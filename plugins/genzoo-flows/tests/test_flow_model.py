"""The flows: invertible, an exact likelihood with a known answer, sampling at a temperature,
training and resuming through genzoo's runner, and the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import genzoo
from genzoo.cli import main
from genzoo.metrics.likelihood import evaluate_likelihood

TINY = {"levels": 2, "steps": 2, "hidden": 8}


def _trained_looking(model: genzoo.GenerativeModel) -> genzoo.GenerativeModel:
    """Perturb every weight (zero-initialised couplings and priors would hide bugs)."""
    torch.manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.mark.parametrize(("name", "shape", "levels"), [("glow", (1, 28, 28), 2),
                                                      ("realnvp", (1, 28, 28), 2),
                                                      ("glow", (3, 32, 32), 3)])
def test_encode_then_decode_gives_the_images_back_in_fp32(name, shape, levels) -> None:
    model = _trained_looking(genzoo.build(name, seed=0, image_shape=shape, steps=2, hidden=8,
                                          levels=levels))
    x = torch.rand(4, *shape) * 0.98 + 0.01
    z = model.encode(x)
    assert z.shape == (4, math.prod(shape)) and z.dtype == torch.float32
    assert (model.decode(z) - x).abs().max() < 1e-4


def test_an_untrained_flow_has_the_analytic_density_of_its_logit_gaussian() -> None:
    """At initialisation every layer is the identity or a rotation and the split priors are
    standard normal, so ``log p(x) = Σ log N(logit(s); 0, 1) + log |d logit(s) / dx|`` with
    ``s = α + (1 - 2α) x``: computed here independently, in float64."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = genzoo.build("glow", seed=0, steps=3, hidden=8).eval()
    finally:
        torch.set_default_dtype(default)
    x = torch.rand(5, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    alpha = model.config.alpha
    s = alpha + (1 - 2 * alpha) * x
    y = torch.log(s / (1 - s))
    expected = (-0.5 * y**2 - 0.5 * math.log(2 * math.pi)
                + math.log(1 - 2 * alpha) - torch.log(s * (1 - s))).flatten(1).sum(1)
    result = model.log_likelihood(x)
    assert result.exact is True
    assert torch.allclose(result.values, expected, rtol=0, atol=1e-4)
    assert isinstance(model, genzoo.DensityModel) and not isinstance(model, genzoo.Encoder)


def test_sampling_decodes_standard_normal_latents_scaled_by_the_temperature() -> None:
    model = _trained_looking(genzoo.build("glow", seed=0, **TINY))
    cold = model.sample(6, seed=4, temperature=0.7)
    z = torch.randn(6, 784, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(cold, model.decode(0.7 * z).clamp(0, 1), atol=1e-6)
    assert torch.equal(model.sample(6, seed=4, temperature=0.7), cold)
    assert not torch.allclose(model.sample(6, seed=4), cold)
    assert cold.shape == (6, 1, 28, 28) and 0 <= cold.min() and cold.max() <= 1
    with pytest.raises(ValueError, match="temperature must be positive"):
        model.sample(2, temperature=0)
    warm = genzoo.build("glow", seed=0, temperature=0.5, **TINY)
    assert warm.sample_latent(4000).std().item() == pytest.approx(0.5, abs=0.02)


def test_bad_settings_get_one_line_errors() -> None:
    with pytest.raises(genzoo.ConfigError, match="not divisible by 8"):
        genzoo.build("glow", levels=3)
    with pytest.raises(genzoo.ConfigError, match="mixing"):
        genzoo.build("glow", mixing="shuffle")
    assert genzoo.build("realnvp", **TINY).config.mixing == "reverse"


def _loader(root: Path):
    from genzoo.data import InMemoryLoader, load_images

    return InMemoryLoader.from_image_set(load_images("mnist", root=root, download=False),
                                         batch_size=16, shuffle=True)


def test_training_lowers_bits_per_dim_and_resumes_bit_for_bit(tiny_mnist: Path, tmp_path: Path) -> None:
    test = evaluate_likelihood(genzoo.build("glow", seed=0, **TINY), root=tiny_mnist,
                               download=False)
    straight = genzoo.build("glow", seed=0, **TINY)
    result = straight.fit(_loader(tiny_mnist), epochs=3, out=str(tmp_path / "a"), seed=1,
                          device="cpu", progress=False, grid_every=0)
    assert result.metrics["bits_per_dim"] < 8
    trained = evaluate_likelihood(straight, root=tiny_mnist, download=False)
    assert trained.kind == "exact" and trained.bits_per_dim < test.bits_per_dim - 0.5

    first = genzoo.build("glow", seed=0, **TINY)
    first.fit(_loader(tiny_mnist), epochs=2, out=str(tmp_path / "b"), seed=1, device="cpu",
              progress=False, grid_every=0)
    resumed = genzoo.load(tmp_path / "b" / "checkpoints" / "last.pt")
    resumed.fit(_loader(tiny_mnist), epochs=3, out=str(tmp_path / "b"), seed=1, device="cpu",
                progress=False, grid_every=0, resume="auto")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_the_command_line_trains_samples_and_evaluates_a_flow(tiny_mnist: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    runner = CliRunner()
    trained = runner.invoke(main, ["train", "glow", "--data", "mnist", "--data-root", str(tiny_mnist),
                                   "--epochs", "1", "--batch-size", "32", "--set", "steps=1",
                                   "--set", "hidden=8", "--out", str(tmp_path / "run"), "--seed", "0"])
    assert trained.exit_code == 0, trained.output
    checkpoint = tmp_path / "run" / "checkpoints" / "last.pt"
    sampled = runner.invoke(main, ["sample", str(checkpoint), "-n", "4", "-o", str(tmp_path / "g.png")])
    assert sampled.exit_code == 0, sampled.output
    assert (tmp_path / "g.png").stat().st_size > 0
    evaluated = runner.invoke(main, ["eval", str(checkpoint), "--data", "mnist", "-n", "16",
                                     "--data-root", str(tiny_mnist), "--no-download"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "bits/dim" in evaluated.output and "exact" in evaluated.output
    assert "uniform dequantization" in evaluated.output
    record = json.loads((checkpoint.parent / "eval.json").read_text())
    assert record["bits_per_dim"]["kind"] == "exact" and record["bits_per_dim"]["n"] == 32
    assert record["bits_per_dim"]["bits_per_dim"] == pytest.approx(
        evaluate_likelihood(genzoo.load(checkpoint), root=tiny_mnist, download=False).bits_per_dim)
