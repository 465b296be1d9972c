"""EvaluateEvery: the runner callback that adds the metrics to an epoch's log."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

import genzoo
from genzoo.data import InMemoryLoader
from genzoo.metrics import EvaluateEvery, MetricsError

KEYS = {"fid", "kid", "classifier_score", "precision", "recall", "density", "coverage"}


class Recorder:
    """Keeps the metrics dict each epoch hands to callbacks (the dict itself, not a copy)."""

    def __init__(self):
        self.seen = {}

    @genzoo.hookimpl
    def genzoo_epoch_end(self, epoch, metrics):
        self.seen[epoch] = metrics


@pytest.fixture(scope="module")
def fitted(classifier, mnist_train, mnist_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    recorder = Recorder()
    evaluator = EvaluateEvery(2, n=200, space=classifier, root=mnist_root)
    model = genzoo.build("vae", hidden_dim=32, seed=0)
    result = model.fit(InMemoryLoader(mnist_train[:256], batch_size=64), epochs=3, out=out,
                       callbacks=[evaluator, recorder], progress=False, grid_every=0)
    return result, recorder, out


def test_metrics_are_added_on_every_kth_epoch_only(fitted):
    result, recorder, _ = fitted
    assert [sorted(KEYS & set(m)) for m in result.history] == [[], sorted(KEYS), []]
    second = result.history[1]
    assert second["fid"] > 0 and 0 <= second["precision"] <= 1 and 0 <= second["recall"] <= 1
    assert second["fid_floor"] < second["fid"] and second["eval_seconds"] > 0
    assert recorder.seen[2] is second  # other callbacks see the same dict, numbers included


def test_metrics_reach_the_metrics_log(fitted):
    _, _, out = fitted
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [KEYS <= set(line) for line in lines] == [False, True, False], (
        "the runner must call genzoo_epoch_end before it writes the epoch's line to metrics.jsonl")


def test_evaluating_every_epoch_from_the_start(classifier, mnist_train, mnist_root):
    model = genzoo.build("vae", hidden_dim=32, seed=0)
    result = model.fit(InMemoryLoader(mnist_train[:256], batch_size=64), epochs=2, progress=False,
                       callbacks=[EvaluateEvery(1, n=200, space=classifier, root=mnist_root,
                                                floor=False)])
    assert all(KEYS <= set(m) and "fid_floor" not in m for m in result.history)


def test_other_ranks_do_not_evaluate(classifier):
    metrics = {"epoch": 1}
    EvaluateEvery(1, n=200, space=classifier).genzoo_epoch_end(
        model=None, run=SimpleNamespace(rank=1), epoch=1, metrics=metrics)
    assert metrics == {"epoch": 1}


def test_bad_intervals_are_refused():
    with pytest.raises(MetricsError, match="every must be a positive integer"):
        EvaluateEvery(0)


def test_evaluation_refuses_a_sharded_run_instead_of_hanging():
    with pytest.raises(MetricsError, match="strategy='fsdp'"):
        EvaluateEvery(1).genzoo_fit_start(model=None, run=SimpleNamespace(strategy="fsdp"))
    EvaluateEvery(1).genzoo_fit_start(model=None, run=SimpleNamespace(strategy="ddp"))
