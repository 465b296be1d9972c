"""Hostile inputs: evaluation keeps what it computed and says what it could not.

A metric that fails (bits/dim of a 28×28 model on 40×40 images) does not lose the others: they
are printed and written, and the failure is named. Mixed-size folders get advice ``genzoo eval``
can follow; more samples than the data has real images for the floor are said; an absurd
``--likelihood-samples`` is refused up front; an unwritable cache keeps the freshly trained
feature network for the evaluation and names ``XDG_CACHE_HOME``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import genzoo
from genzoo.metrics import feature_cache_path, feature_space
from genzoo.metrics.features import write_cache
from tests.metrics.folders import write_shape_folder

from . import Case, run_case

QUICK = ("--bootstrap", "10")


@pytest.fixture(scope="module")
def eval_base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A folder of 40 colour 40×40 shape images (20 per half), and a user cache holding its
    quickly trained contrastive feature network (users' train for about a minute)."""
    base = tmp_path_factory.mktemp("hostile_eval")
    shapes = write_shape_folder(base / "shapes40", 40, 40, seed=1)
    space = feature_space(shapes, cache_dir=base / "quick", steps=20)
    cache = base / "xdg"
    key = space.path.name.split("-contrastive")[0]
    write_cache(feature_cache_path(key, "contrastive", cache_dir=cache / "genzoo" / "features"),
                space.payload())
    return {"shapes40": shapes, "cache": cache}


def _model(shape: tuple[int, int, int]) -> Any:
    def setup(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
        genzoo.build("vae", image_shape=shape, hidden_dim=16, latent_dim=2, seed=0).save(tmp / "m.pt")
        return {"shapes40": fx["shapes40"], "cache": fx["cache"]}
    return setup


def _kept_metrics(tmp: Path, values: dict[str, Any], result: Any) -> None:
    record = json.loads((tmp / "eval.json").read_text())
    assert set(record["scores"]) >= {"fid", "kid", "precision", "recall"}
    assert "(3, 28, 28)" in record["bits_per_dim"]["error"]
    assert "bits/dim" in result.stdout and "failed" in result.stdout


def _mixed_sizes(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    from PIL import Image

    write_shape_folder(tmp / "mixed", 20, 16, seed=2)
    Image.new("RGB", (30, 20)).save(tmp / "mixed" / "odd.png")
    return _model((3, 16, 16))(tmp, fx)


def _no_size_option(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert "size=N" not in result.stderr


def _unwritable_cache(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    """XDG_CACHE_HOME under a file; the feature network trains in 20 steps (not 600)."""
    import genzoo.metrics.features as spaces

    (tmp / "afile").write_text("not a folder")
    fx["monkeypatch"].setattr(spaces.feature_space, "__kwdefaults__",
                              {**spaces.feature_space.__kwdefaults__, "steps": 20})
    return _model((3, 40, 40))(tmp, fx)


def _evaluated_anyway(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert json.loads((tmp / "eval.json").read_text())["scores"]["fid"]["value"] > 0
    assert result.stderr.count("cannot write the feature network cache") == 1


_EVAL = ("eval", "m.pt", "--json", "eval.json", *QUICK)

CASES = [
    Case("28x28-model-on-40x40-images", (*_EVAL, "--data", "{shapes40}", "-n", "10"), "ok",
         ("bits/dim was not computed", "(3, 28, 28)", "(3, 40, 40)", "wrote eval.json"),
         setup=_model((3, 28, 28)), after=_kept_metrics, env={"XDG_CACHE_HOME": "{cache}"}),
    Case("n-above-the-floor-half", (*_EVAL, "--data", "{shapes40}", "-n", "100"), "ok",
         ("Warning: n=100 samples", "only 20 real images for the floor", "-n 20"),
         setup=_model((3, 40, 40)), env={"XDG_CACHE_HOME": "{cache}"}),
    Case("likelihood-samples-a-hundred-million",
         (*_EVAL, "--data", "{shapes40}", "-n", "10", "--likelihood-samples", "100000000"),
         "error", ("--likelihood-samples", "at most 10,000"), setup=_model((3, 40, 40)),
         env={"XDG_CACHE_HOME": "{cache}"}),
    Case("mixed-size-folder", (*_EVAL, "--data", "mixed", "-n", "10"), "error",
         ("differ in size", "resize the files to one size"), setup=_mixed_sizes,
         after=_no_size_option, env={"XDG_CACHE_HOME": "{cache}"}),
    Case("unwritable-cache-folder", (*_EVAL, "--data", "{shapes40}", "-n", "10"), "ok",
         ("XDG_CACHE_HOME", "not kept"), setup=_unwritable_cache, after=_evaluated_anyway,
         env={"XDG_CACHE_HOME": "{tmp}/afile"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_eval(case: Case, tmp_path: Path, eval_base: dict[str, Any],
              monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, tmp_path, eval_base, monkeypatch)


def test_evaluate_warns_when_n_exceeds_the_floor_half(eval_base: dict[str, Any], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from genzoo.metrics import SampleCountWarning, evaluate

    monkeypatch.setenv("XDG_CACHE_HOME", str(eval_base["cache"]))
    model = genzoo.build("vae", image_shape=(3, 40, 40), hidden_dim=16, latent_dim=2, seed=0)
    with pytest.warns(SampleCountWarning, match="floor is scored on 20 images, not 30"):
        evaluate(model, data=eval_base["shapes40"], n=30, bootstrap=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SampleCountWarning)
        evaluate(model, data=eval_base["shapes40"], n=20)


def test_evaluate_likelihood_refuses_absurd_sample_counts() -> None:
    from genzoo.metrics import MetricsError, evaluate_likelihood

    model = genzoo.build("vae", hidden_dim=16, latent_dim=2, seed=0)
    with pytest.raises(MetricsError, match="at most 10,000"):
        evaluate_likelihood(model, genzoo.build("vae").sample(2, seed=0).mul(255).byte(),
                            samples=100_000_000)
