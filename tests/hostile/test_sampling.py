"""Hostile inputs: sampling options checked like training settings, NaN never saved as an image.

Non-finite and absurd sampling options (``--set guidance=nan``, ``--set temperature=inf``,
``--steps 1000000000``) are refused with one line, through ``genzoo sample`` and through
``genzoo.load(path, **overrides)``; samples with NaN pixels are never written as images.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import genzoo
from genzoo.errors import ConfigError

from . import Case, run_case
from .casework import hostile_base  # noqa: F401 (a fixture)


@pytest.fixture(autouse=True)
def _only_builtin_plugins() -> Iterator[None]:
    """Sampling options are the plugin models' (ddpm, flow-matching): unlike the core's tests
    (see ``tests/conftest.py``), these see the plugin distributions, as ``tests/plugins`` do."""
    genzoo.reload_plugins()
    yield


def _ddpm(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    """A small untrained ddpm: its samples are finite, its options checked as a trained one's."""
    genzoo.build("ddpm", base_width=8, seed=0).save(tmp / "ddpm.pt")
    return {"ckpt": tmp / "ddpm.pt"}


def _vae(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    return {"ckpt": fx["vae_run"] / "checkpoints" / "last.pt"}


def _flow_matching(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    genzoo.build("flow-matching", base_width=8, seed=0).save(tmp / "fm.pt")
    return {"ckpt": tmp / "fm.pt"}


def _nan_weights(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    """A vae whose weights are NaN: every sample is NaN whatever the options."""
    model = genzoo.build("vae", hidden_dim=8, latent_dim=2)
    with torch.no_grad():
        for weight in model.parameters():
            weight.fill_(float("nan"))
    model.save(tmp / "nan.pt")
    return {"ckpt": tmp / "nan.pt"}


def _nothing_written(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert not (tmp / "out.png").exists() and not (tmp / "out").exists()


def _sample(*args: str) -> tuple[str, ...]:
    return ("sample", "{ckpt}", "-n", "4", *args)


CASES = [
    Case("ddpm-guidance-nan", _sample("--set", "guidance=nan", "-o", "out.png"), "error",
         ("guidance", "finite"), setup=_ddpm, after=_nothing_written),
    Case("ddpm-guidance-inf", _sample("--set", "guidance=inf", "-o", "out.png"), "error",
         ("guidance", "finite"), setup=_ddpm, after=_nothing_written),
    Case("ddpm-guidance-absurd", _sample("--set", "guidance=1e12", "-o", "out.png"), "error",
         ("guidance", "between 0 and 100"), setup=_ddpm, after=_nothing_written),
    Case("ddpm-steps-a-billion", _sample("--steps", "1000000000", "-o", "out.png"), "error",
         ("--steps 1000000000", "timesteps (1000)", "fewer steps"), setup=_ddpm,
         after=_nothing_written),
    Case("ddpm-sample-steps-a-billion", _sample("--set", "sample_steps=1000000000", "-o", "out.png"),
         "error", ("sample_steps",), setup=_ddpm, after=_nothing_written),
    Case("flow-matching-steps-a-billion", _sample("--steps", "1000000000", "-o", "out.png"),
         "error", ("--steps 1000000000", "10000", "fewer steps"), setup=_flow_matching,
         after=_nothing_written),
    Case("flow-matching-time-shift-nan", _sample("--set", "time_shift=nan", "-o", "out.png"),
         "error", ("time_shift", "finite"), setup=_flow_matching, after=_nothing_written),
    Case("vae-temperature-inf", _sample("--set", "temperature=inf", "-o", "out.png"), "error",
         ("temperature", "finite"), setup=_vae, after=_nothing_written),
    Case("vae-temperature-nan-into-a-folder", _sample("--set", "temperature=nan", "-o", "out"),
         "error", ("temperature",), setup=_vae, after=_nothing_written),
    Case("vae-temperature-absurd", _sample("--set", "temperature=1e30", "-o", "out.png"), "error",
         ("temperature", "at most 100"), setup=_vae, after=_nothing_written),
    Case("nan-weights-grid", _sample("-o", "out.png"), "error",
         ("4 of 4 samples of vae have NaN", "no image was saved"), setup=_nan_weights,
         after=_nothing_written),
    Case("nan-weights-folder", _sample("-o", "out"), "error",
         ("NaN or infinite pixels",), setup=_nan_weights, after=_nothing_written),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sampling(case: Case, tmp_path: Path, hostile_base: dict[str, Any],  # noqa: F811
                  monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, tmp_path, hostile_base, monkeypatch)


@pytest.mark.parametrize(("model", "option", "value"), [
    ("ddpm", "guidance", float("nan")),
    ("flow-matching", "guidance", float("inf")),
    ("vae", "temperature", float("inf")),
    ("conv-vae", "temperature", float("inf")),
    ("glow", "temperature", float("nan")),
])
def test_load_refuses_non_finite_sampling_options(tmp_path: Path, model: str, option: str,
                                                  value: float) -> None:
    small = {"ddpm": {"base_width": 8}, "flow-matching": {"base_width": 8}}.get(model, {})
    genzoo.build(model, seed=0, **small).save(tmp_path / "m.pt")
    with pytest.raises(ConfigError, match=f"{option}"):
        genzoo.load(tmp_path / "m.pt", **{option: value})


def test_a_nan_grid_is_never_written_as_a_black_image(tmp_path: Path) -> None:
    model = genzoo.build("vae", hidden_dim=8, latent_dim=2, seed=0)
    with torch.no_grad():
        for weight in model.parameters():
            weight.fill_(float("nan"))
    from genzoo.runner.outputs import save_sample_grid
    from genzoo.sampling import NonFiniteSamplesError

    with pytest.raises(NonFiniteSamplesError):
        save_sample_grid(model, tmp_path / "grid.png", 4, 0)
    assert not (tmp_path / "grid.png").exists()
