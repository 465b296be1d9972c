"""The benchmark script keeps working: CI runs it in its quick mode (a few steps per loop)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_quick_benchmark_measures_every_loop_side_by_side(mnist_root, tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--data-root", str(mnist_root),
                           "--json", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    rows = [line for line in lines if line.startswith("| gan") or line.startswith("| vae")]
    assert len(rows) == 3 * 4 + 3 * 3  # 3 configurations: 4 loops in fp32, 3 in bf16
    for variant in ("A classic", "B tuned", "genzoo", "genzoo + DataLoader"):
        assert any(f"| {variant} |" in row for row in rows)
    assert sum(line.startswith("target ") for line in lines) == 2
    results = json.loads(out.read_text())
    assert all(r["samples_per_s"] > 0 and r["peak_mb"] > 0 for r in results)
