"""Benchmark: sample quality of trained runs, as a markdown table for the docs.

For each run folder (its ``checkpoints/last.pt``) or checkpoint file, draws ``-n`` samples and
measures FID, classifier score, precision and recall with :func:`genzoo.metrics.evaluate`; the
table ends with the real-data floor (as many real training images against the test set).

Usage::

    python benchmarks/quality.py runs/vae runs/gan --data mnist -n 10000
    python benchmarks/quality.py runs/gan/checkpoints/last.pt --seed 1 --json quality.json

The data comes from ``--data-root`` or ``$GENZOO_DATA``; the classifier from the cache (trained
on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def checkpoint_of(path: Path) -> Path:
    """A run folder's last checkpoint, or the file itself."""
    if path.is_dir():
        from genzoo.runner import LAST_CHECKPOINT

        return path / LAST_CHECKPOINT
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders or checkpoint files")
    parser.add_argument("--data", default="mnist", help="named data set to compare with")
    parser.add_argument("-n", type=int, default=10_000, help="samples per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=os.environ.get("GENZOO_DATA"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    import genzoo
    from genzoo.metrics import domain_classifier, evaluate, markdown_table
    from genzoo.runner import resolve_device

    device = resolve_device(args.device)
    classifier = domain_classifier(args.data, root=args.data_root, device=device,
                                   log=lambda line: print(line, file=sys.stderr))
    rows, records = [], []
    for run in args.runs:
        checkpoint = checkpoint_of(run)
        model = genzoo.load(checkpoint, device=device)
        started = time.perf_counter()
        metrics = evaluate(model, dataset=args.data, n=args.n, seed=args.seed, root=args.data_root,
                           classifier=classifier)
        seconds = time.perf_counter() - started
        print(f"{run}: FID {metrics.fid:.3f} ({seconds:.1f} s)", file=sys.stderr)
        rows.append((f"{run} ({model.registry_name})", metrics))
        records.append({"run": str(run), "checkpoint": str(checkpoint), "model": model.registry_name,
                        "seconds": round(seconds, 2), **metrics.as_dict()})
    print(markdown_table(rows))
    print(f"\n{args.data}, seed {args.seed}; classifier test accuracy "
          f"{classifier.test_accuracy:.2%}; floor: {args.n} real training images vs the test set.")
    if args.json:
        args.json.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
