"""The run report: what it reads from run folders, the page it writes, in a real browser."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

import genzoo
from genzoo.data import InMemoryLoader
from genzoo.report import read_evaluation, read_run, write_report
from tests.cli import invoke, ok, user_error
from tests.report.conftest import copy_run


def test_read_run_collects_logs_grids_settings_and_evaluations(runs):
    vae = read_run(runs["vae"])
    assert (vae.name, vae.model) == ("vae", "vae")
    assert [e["epoch"] for e in vae.epochs] == [1, 2, 3]
    assert [s["step"] for s in vae.steps] == [2, 4, 6, 8, 10, 12]
    assert [g.label for g in vae.grids_of("samples")] == ["epoch 1", "epoch 2", "final"]
    assert [g.label for g in vae.grids_of("reconstructions")] == ["epoch 1", "epoch 2", "final"]
    assert vae.versions["genzoo"] == genzoo.__version__
    [evaluation] = vae.evaluations
    assert evaluation.values["fid"] == (412.5, 398.25, 427.0, 6.5)
    assert evaluation.values["precision"] == (0.5, 0.45, 0.55, 0.875)
    assert evaluation.values["recall"] == (0.25, None, None, 0.875)
    assert evaluation.details["protocol.samples"] == "1000" and evaluation.details["dataset"] == "mnist"

    gan = read_run(runs["gan"])  # step grids sit between the epoch grids, in training order
    assert [g.label for g in gan.grids_of("samples")] == ["step 3", "epoch 1", "step 6", "final"]
    assert gan.grids_of("reconstructions") == []


def test_evaluations_in_other_shapes_are_read_or_skipped(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"fid": 10.0, "fid_ci": [9.0, 11.0],
                                "recall": {"estimate": 0.5, "ci": {"lower": 0.4, "upper": 0.6}},
                                "nll": {"mean": 1.25}, "bits_per_dim": "n/a"}))
    values = read_evaluation(path).values
    assert values == {"fid": (10.0, 9.0, 11.0, None), "recall": (0.5, 0.4, 0.6, None),
                      "nll": (1.25, None, None, None)}
    notes: list[str] = []
    path.write_text("{not json")
    assert read_evaluation(path, notes) is None and "could not be read" in notes[0]


def test_a_run_with_a_damaged_line_is_still_reported(tmp_path, runs):
    run = copy_run(runs["vae"], tmp_path / "vae")
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"epoch": 4, "lo')  # a line cut short by a crash
    record = read_run(run)
    assert len(record.epochs) == 3 and record.notes == ["metrics.jsonl: 1 unreadable line(s) skipped"]
    page = write_report([run], tmp_path / "r.html").read_text()
    assert "1 unreadable line(s) skipped" in page


def test_the_page_is_self_contained(tmp_path, runs):
    page = write_report([runs["vae"], runs["gan"]], tmp_path / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert sources and all(s.startswith("data:") for s in sources)  # nothing to fetch
    for needle in ("Training curves", "Samples over training", "Reconstructions", "Evaluation",
                   "412.5", "[398.2, 427.0]", "run.json", "torch"):
        assert needle in page, needle
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(genzoo.GenzooError, match="no run.json or metrics.jsonl"):
        write_report([tmp_path], tmp_path / "r.html")
    with pytest.raises(genzoo.GenzooError, match="at least one run folder"):
        write_report([], tmp_path / "r.html")


def test_cli_writes_one_run_into_its_folder_and_several_into_their_common_one(runs, tmp_path,
                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = ok(invoke("report", runs["vae"]))
    assert result.stdout.strip() == f"wrote {runs['vae'] / 'report.html'}"
    result = ok(invoke("report", runs["vae"], runs["gan"], "--title", "VAE and GAN"))
    written = Path(result.stdout.split("wrote ", 1)[1].strip())
    assert written.resolve() == (runs["vae"].parent / "report.html").resolve()
    assert "<title>VAE and GAN</title>" in written.read_text()
    ok(invoke("report", runs["gan"], "-o", "out/g.html"))
    assert (tmp_path / "out" / "g.html").is_file()
    user_error(invoke("report", tmp_path / "missing"), "is not a run folder (no such folder)")


def test_the_runner_refreshes_the_report_when_asked(tmp_path, mnist_train):
    seen = []

    class Watch:
        @genzoo.hookimpl
        def genzoo_epoch_end(self, epoch):
            seen.append((epoch, (tmp_path / "report.html").is_file()))

    loader = InMemoryLoader(mnist_train[:128], batch_size=64)
    genzoo.build("vae", hidden_dim=16, latent_dim=2, seed=0).fit(
        loader, epochs=2, out=tmp_path, report=True, progress=False, callbacks=[Watch()])
    assert seen == [(1, False), (2, True)]  # written after epoch 1, before epoch 2 ended
    page = (tmp_path / "report.html").read_text()
    assert "final" in page and "epoch 1" in page

    other = tmp_path / "plain"
    genzoo.build("vae", hidden_dim=16, latent_dim=2, seed=0).fit(loader, epochs=1, out=other,
                                                                 progress=False)
    assert not (other / "report.html").exists()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_loads_without_errors_and_its_images_render(chromium, runs, tmp_path, width):
    path = write_report([runs["vae"], runs["gan"]], tmp_path / "report.html")
    page = chromium.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate("""() => Array.from(document.images).map(
        img => [img.alt, img.complete, img.naturalWidth, img.getBoundingClientRect().width])""")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
    page.close()
    assert errors == []
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
    assert len(images) >= 10
    broken = [alt for alt, complete, natural, shown in images if not complete or natural == 0]
    assert broken == []
    assert all(shown > 0 for *_, shown in images)
    assert overflow <= 0  # nothing runs past the right edge, on a phone either


def test_an_evaluation_with_a_scores_table_and_a_protocol_card(tmp_path):
    path = tmp_path / "eval.json"
    interval = {"value": 0.5, "low": 0.25, "high": 0.75}
    path.write_text(json.dumps({
        "model": "vae",
        "scores": {"fid": {"value": 40.0, "low": 38.5, "high": 41.5}, "kid": {"value": 0.01,
                   "low": float("nan"), "high": float("nan")}, "coverage": interval},
        "floor": {"fid": {"value": 2.0, "low": 1.5, "high": 2.5}},
        "card": {"n": 1000, "data": {"name": "mnist", "fingerprint": "ab12"},
                 "bootstrap": {"resamples": 200, "level": 0.95}}}))
    evaluation = read_evaluation(path)
    assert evaluation.values == {"fid": (40.0, 38.5, 41.5, 2.0), "kid": (0.01, None, None, None),
                                 "coverage": (0.5, 0.25, 0.75, None)}
    assert evaluation.details == {"model": "vae", "card.n": "1000", "card.data.name": "mnist",
                                  "card.data.fingerprint": "ab12", "card.bootstrap.resamples": "200",
                                  "card.bootstrap.level": "0.95"}
