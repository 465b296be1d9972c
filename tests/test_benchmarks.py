"""The benchmark scripts keep working: CI runs them in their quick modes (a few steps each)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
QUALITY = SCRIPT.with_name("quality.py")


def test_quick_benchmark_measures_every_loop_side_by_side(mnist_root, tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    table = tmp_path / "speed.csv"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--data-root", str(mnist_root),
                           "--json", str(out), "--csv", str(table)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    rows = [line for line in lines if line.startswith("| gan") or line.startswith("| vae")]
    assert len(rows) == 3 * 4 + 3 * 3  # 3 configurations: 4 loops in fp32, 3 in bf16
    for variant in ("A classic", "B tuned", "genzoo", "genzoo + DataLoader"):
        assert any(f"| {variant} |" in row for row in rows)
    assert sum(line.startswith("target ") for line in lines) == 2
    results = json.loads(out.read_text())
    assert all(r["samples_per_s"] > 0 and r["peak_mb"] > 0 for r in results)
    written = list(csv.reader(table.open(encoding="utf-8")))
    assert written[0][:4] == ["model", "batch", "precision", "variant"]
    assert ["| " + " | ".join(row) + " |" for row in written[1:]] == rows


def _benchmark_module(name):
    """A script of ``benchmarks/`` imported as a module."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", SCRIPT.with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_repeated_runs_report_the_median_try():
    median = _benchmark_module("run")._median
    tries = [{"samples_per_s": v, "peak_mb": v / 10} for v in (300.0, 100.0, 200.0)]
    assert median(tries) == {"samples_per_s": 200.0, "peak_mb": 20.0, "tries": [300.0, 100.0, 200.0]}
    assert median(tries[:2])["samples_per_s"] == 100.0  # an even count: the slower middle one
    assert median(tries[:1])["samples_per_s"] == 300.0


def test_benchmark_refuses_a_repeat_below_one(mnist_root):
    done = subprocess.run([sys.executable, str(SCRIPT), "--repeat", "0", "--data-root", str(mnist_root)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--repeat must be at least 1, got 0" in done.stderr
    assert "| gan" not in done.stdout


def _quality(*args, mnist_root, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(QUALITY), "--data-root", str(mnist_root),
                           "--cache-dir", str(tmp_path / "classifiers"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_quick_zoo_trains_and_scores_every_shipped_configuration(mnist_root, tmp_path):
    ZOO = _benchmark_module("quality").ZOO
    zoo, table = tmp_path / "zoo", tmp_path / "quality.csv"
    done = _quality("--zoo", zoo, "--quick", "--csv", table, "--json", tmp_path / "q.json",
                    "--figures", tmp_path / "figures",
                    mnist_root=mnist_root, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.reader(table.open(encoding="utf-8")))
    assert rows[0][:3] == ["configuration", "settings", "epochs"]
    assert [row[0] for row in rows[1:-1]] == [config.name for config in ZOO]
    assert rows[-1][0] == "*real data (train vs test)*"
    assert {row[2] for row in rows[1:-1]} == {"3 steps"}
    records = json.loads((tmp_path / "q.json").read_text())
    for config, record in zip(ZOO, records, strict=True):
        assert (config.folder(zoo) / "checkpoints" / "last.pt").is_file()
        assert record["train_seconds"] > 0 and record["fid"] > 0 and record["model"] == config.model
        assert (tmp_path / "figures" / f"{config.folder(zoo).name}.png").is_file()
    # A second run scores the finished runs (--only: some of them) without training them again;
    # --steps: a steps-vs-quality table of the models that sample in steps (the shipped count too)
    steps = _quality("--zoo", zoo, "--quick", "--only", "[fv]*", "--steps", "1,2", "--steps-csv",
                     tmp_path / "steps.csv", mnist_root=mnist_root, tmp_path=tmp_path)
    assert steps.returncode == 0, steps.stderr[-3000:]
    assert "vae: trained before" in steps.stderr and "| vae conditional |" in steps.stdout
    assert "flow-matching conditional: trained before" in steps.stderr
    assert "trained in" not in steps.stderr
    assert "| gan |" not in steps.stdout
    sweep = list(csv.reader((tmp_path / "steps.csv").open(encoding="utf-8")))
    assert sweep[0][:2] == ["configuration", "sampling steps"] and sweep[0][3] == "sampling 200"
    assert [row[:2] for row in sweep[1:]] == [["flow-matching-conditional", "1"],
                                              ["flow-matching-conditional", "2"],
                                              ["flow-matching-conditional", "6 (shipped)"]]
    shipped_fid = next(row[7] for row in rows if row[0] == "flow-matching conditional")
    assert sweep[3][4].split()[0] == shipped_fid  # the shipped row is the zoo table's evaluation


def test_zoo_refuses_to_overwrite_a_foreign_folder(mnist_root, tmp_path):
    zoo = tmp_path / "zoo"
    (zoo / "vae").mkdir(parents=True)
    (zoo / "vae" / "mine.txt").write_text("a user's file")
    done = _quality("--zoo", zoo, "--quick", "--only", "vae", mnist_root=mnist_root, tmp_path=tmp_path)
    assert done.returncode != 0
    assert "holds no finished run of 'vae'" in done.stderr and "move it away" in done.stderr
    assert (zoo / "vae" / "mine.txt").read_text() == "a user's file"
    bad = _quality("--zoo", zoo, "--only", "nothing*", mnist_root=mnist_root, tmp_path=tmp_path)
    assert bad.returncode == 2 and "no configuration matches 'nothing*'" in bad.stderr


def test_sampling_benchmark_times_every_model_and_each_step_count(tmp_path, capsys):
    import genzoo

    class ToyPlugin:
        @genzoo.hookimpl
        def genzoo_register_models(self, register):
            register("iterative-toy", "tests.test_protocols:Iterative", summary="samples in steps")

    name = genzoo.register_plugin(ToyPlugin(), "iterative-toy-plugin")
    try:
        out = tmp_path / "sampling.json"
        assert _benchmark_module("sampling").main(
            ["--quick", "--models", "iterative-toy", "vae", "--json", str(out)]) == 0
    finally:
        genzoo.unregister_plugin(name)
    rows = json.loads(out.read_text())
    assert [(r["model"], r["steps"]) for r in rows] == [("iterative-toy", 3), ("iterative-toy", 2),
                                                        ("vae", 1)]
    assert all(r["images_per_s"] > 0 for r in rows)
    printed = capsys.readouterr().out
    assert "| iterative-toy | 2 |" in printed and "| vae | 1 |" in printed



def test_amp_check_trains_and_samples_each_model_and_reports_failures(capsys):
    amp_check = _benchmark_module("amp_check")
    assert amp_check.main(["--device", "cpu", "--precisions", "bf16", "--models", "vae",
                           "--steps", "1"]) == 0
    words = capsys.readouterr().out.split()
    assert words[:3] == ["vae", "bf16", "cpu"] and words[-1] == "ok"
    # float16 needs CUDA: on the CPU the model fails, and the check says so and exits 1
    assert amp_check.main(["--device", "cpu", "--precisions", "16", "--models", "vae",
                           "--steps", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "precision '16'" in out


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the no-GPU exit")
def test_gpu_check_says_when_there_is_no_gpu(tmp_path):
    log = tmp_path / "check.log"
    script = SCRIPT.with_name("gpu_check.sh")
    done = subprocess.run(["bash", str(script), str(log)], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=120)
    assert done.returncode == 2
    assert "no usable CUDA device: nothing to check" in log.read_text()


def test_likelihood_benchmark_prints_bits_per_dim_beside_cpu_time(mnist_root, tmp_path, capsys):
    likelihood = _benchmark_module("likelihood")
    threads = torch.get_num_threads()
    try:
        assert likelihood.main(["--out", str(tmp_path / "runs"), "--quick", "--only", "vae",
                                "--threads", "1", "--iw-samples", "5", "--data-root", str(mnist_root),
                                "--json", str(tmp_path / "rows.json")]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "| vae |" in out and "ELBO" in out and "IWAE bound, K=5" in out and "1.05" in out
    (row,) = json.loads((tmp_path / "rows.json").read_text())
    assert row["train_cpu_seconds"] > 0 and [s["kind"] for s in row["scores"]] == ["bound", "bound"]


def test_precision_benchmark_times_a_training_step_in_each_precision(capsys):
    precision = _benchmark_module("precision")  # (flow-matching, its default, is a separate plugin)
    assert precision.main(["--quick", "--model", "vae", "--precisions", "32,auto"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 32 ") or line.startswith("| auto ")]
    assert len(rows) == 2 and rows[0].startswith("| 32 | 32 |") and rows[0].endswith("| 1.00x |")
    assert "native bf16" in out  # the CPU's bf16 support, which explains what auto chose


def test_precision_benchmark_shows_autos_own_measurement_in_fresh_processes(capsys):
    precision = _benchmark_module("precision")
    assert precision.main(["--quick", "--model", "vae", "--precisions", "32",
                           "--auto-repeats", "2"]) == 0
    readings = [line.split() for line in capsys.readouterr().out.splitlines()
                if line.startswith("  ") and "->" in line]
    assert len(readings) == 2  # one line per process: the reading, then what auto chose
    assert all(arrow == "->" and choice in ("32", "bf16") for _, arrow, choice in readings)
