"""Benchmark: the seed models' training speed and memory, genzoo beside two hand-written loops.

Every configuration runs in a fresh subprocess (so that peak memory is its own), on the same
machine, one after the other:

* **A, the classic loop** (``classic.py``): torchvision MNIST with ``ToTensor``/``Normalize``
  through a shuffling ``DataLoader``, sigmoid + ``BCELoss``, ``zero_grad()``, default Adam.
* **B, the tuned loop** (``tuned.py``): the fastest hand-written loop we could write.
* **genzoo** (``through_genzoo.py``): ``genzoo.build(name).fit(InMemoryLoader(...))``.
* **genzoo + DataLoader**: the same ``fit`` fed by the classic ``DataLoader`` (fp32 only).

Usage::

    python benchmarks/run.py                 # full: one epoch of MNIST per configuration
    python benchmarks/run.py --quick         # a few steps each (CI keeps it working)
    python benchmarks/run.py --json out.json

The data comes from ``--data-root`` or ``$GENZOO_DATA``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = [("gan", 64), ("gan", 100), ("vae", 128)]
VARIANTS = ["A classic", "B tuned", "genzoo", "genzoo + DataLoader"]
TARGETS = {("gan", 64): 1.6, ("vae", 128): 1.5}  # genzoo ÷ A, fp32


def _child(variant: str, model: str, batch: int, bf16: bool, steps: int | None, root: str) -> None:
    """Run one configuration in this process and print one JSON line."""
    sys.path.insert(0, str(HERE))
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # pay torch's one-time imports untimed

    if variant == "A classic":
        import classic as impl

        seen, seconds = getattr(impl, f"train_{model}")(root, batch, steps, bf16)
    elif variant == "B tuned":
        import tuned as impl

        seen, seconds = getattr(impl, f"train_{model}")(root, batch, steps, bf16)
    else:
        import through_genzoo

        loader = "dataloader" if variant.endswith("DataLoader") else "in-memory"
        seen, seconds = through_genzoo.train(model, root, batch, steps, bf16, loader)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"images": seen, "seconds": seconds, "peak_mb": peak_mb,
                      "threads": torch.get_num_threads()}))


def _measure(variant: str, model: str, batch: int, bf16: bool, steps: int | None, root: str) -> dict:
    command = [sys.executable, __file__, "--child", variant, model, str(batch), str(int(bf16)),
               str(steps or 0), root]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{variant} {model} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["samples_per_s"] = result["images"] / result["seconds"]
    result["epoch_s"] = 60000 / result["samples_per_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per configuration")
    parser.add_argument("--data-root", default=os.environ.get("GENZOO_DATA"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, model, batch, bf16, steps, root = args.child
        _child(variant, model, int(batch), bool(int(bf16)), int(steps) or None, root)
        return
    if not args.data_root:
        raise SystemExit("set GENZOO_DATA or --data-root to a folder holding MNIST/raw/")
    steps = 20 if args.quick else None
    print(f"# genzoo training benchmark ({'quick: 20 steps' if args.quick else 'one MNIST epoch'} "
          f"per run) on {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, CPU only")
    rows = []
    header = ("model", "batch", "precision", "variant", "samples/s", "s/epoch", "peak MB", "÷ A", "÷ B")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for model, batch in CONFIGS:
        for bf16 in (False, True):
            found = {}
            for variant in VARIANTS:
                if variant.endswith("DataLoader") and bf16:
                    continue
                r = _measure(variant, model, batch, bf16, steps, args.data_root)
                found[variant] = r
                rel_a = r["samples_per_s"] / found["A classic"]["samples_per_s"]
                rel_b = r["samples_per_s"] / found["B tuned"]["samples_per_s"] if "B tuned" in found else float("nan")
                row = dict(model=model, batch=batch, precision="bf16" if bf16 else "fp32",
                           variant=variant, **r, vs_a=rel_a, vs_b=rel_b)
                rows.append(row)
                print(f"| {model} | {batch} | {row['precision']} | {variant} | {r['samples_per_s']:,.0f} | "
                      f"{r['epoch_s']:.1f} | {r['peak_mb']:,.0f} | {rel_a:.2f}× | {rel_b:.2f}× |", flush=True)
    print()
    for (model, batch), target in TARGETS.items():
        row = next(r for r in rows if (r["model"], r["batch"], r["precision"], r["variant"])
                   == (model, batch, "fp32", "genzoo"))
        ok = row["vs_a"] >= target and row["vs_b"] >= 0.9
        print(f"target {model} batch {batch} fp32: genzoo ≥ {target}× A and ≥ 0.9× B: "
              f"{row['vs_a']:.2f}× A, {row['vs_b']:.2f}× B -> {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
