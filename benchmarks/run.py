"""Benchmark: the seed models' training speed and memory, genzoo beside two hand-written loops.

Every configuration runs in a fresh subprocess (so that peak memory is its own), on the same
machine, one after the other, ``--repeat`` times in turn (the median is shown: on a shared
machine one run can be slowed by its neighbours). ``--quick`` runs each loop for a few steps, all
of them in one subprocess (so that the test suite pays torch's start once, not 21 times): its
peak memory is then the process's so far, not each loop's own.

* **A, the classic loop** (``classic.py``): torchvision MNIST with ``ToTensor``/``Normalize``
  through a shuffling ``DataLoader``, sigmoid + ``BCELoss``, ``zero_grad()``, default Adam.
* **B, the tuned loop** (``tuned.py``): the fastest hand-written loop we could write.
* **genzoo** (``through_genzoo.py``): ``genzoo.build(name).fit(InMemoryLoader(...))``.
* **genzoo + DataLoader**: the same ``fit`` fed by the classic ``DataLoader`` (fp32 only).

Usage::

    python benchmarks/run.py                 # full: one epoch of MNIST per configuration
    python benchmarks/run.py --quick         # a few steps each, in one process (CI keeps it working)
    python benchmarks/run.py --json out.json
    python benchmarks/run.py --csv docs/guide/speed.csv   # the table the docs show
    python benchmarks/run.py --device cuda                # every loop on the GPU

The data comes from ``--data-root`` or ``$GENZOO_DATA``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = [("gan", 64), ("gan", 100), ("vae", 128)]
VARIANTS = ["A classic", "B tuned", "genzoo", "genzoo + DataLoader"]
TARGETS = {("gan", 64): 1.6, ("vae", 128): 1.5}  # genzoo ÷ A, fp32, on the CPU


#: Steps of each loop with ``--quick``.
QUICK_STEPS = 5


def _child(measurements: list[list], root: str, device: str) -> None:
    """Run each measurement ``[variant, model, batch, bf16, steps]`` in this process, one after
    the other, and print one JSON line for each."""
    sys.path.insert(0, str(HERE))
    import torch

    warm = torch.zeros(1, requires_grad=True, device=device)
    torch.optim.Adam([warm]).step()  # pay torch's one-time imports (and CUDA's start) untimed
    for variant, model, batch, bf16, steps in measurements:
        if warm.is_cuda:
            torch.cuda.reset_peak_memory_stats()
        if variant == "A classic":
            import classic as impl

            seen, seconds = getattr(impl, f"train_{model}")(root, batch, steps, bf16, device)
        elif variant == "B tuned":
            import tuned as impl

            seen, seconds = getattr(impl, f"train_{model}")(root, batch, steps, bf16, device)
        else:
            import through_genzoo

            loader = "dataloader" if variant.endswith("DataLoader") else "in-memory"
            seen, seconds = through_genzoo.train(model, root, batch, steps, bf16, loader, device)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if warm.is_cuda else 0.0
        print(json.dumps({"images": seen, "seconds": seconds, "peak_mb": peak_mb,
                          "gpu_peak_mb": gpu_mb, "threads": torch.get_num_threads()}), flush=True)


def _measure(measurements: list[list], root: str, device: str) -> list[dict]:
    """The results of ``measurements`` (see :func:`_child`), run in one fresh subprocess."""
    command = [sys.executable, __file__, "--child", json.dumps(measurements), root, device]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        what = ", ".join(f"{variant} {model}" for variant, model, *_ in measurements)
        raise SystemExit(f"{what} failed:\n{done.stderr}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(measurements):
        raise SystemExit(f"expected {len(measurements)} results, got:\n{done.stdout}")
    for result in results:
        result["samples_per_s"] = result["images"] / result["seconds"]
        result["epoch_s"] = 60000 / result["samples_per_s"]
    return results


def _results(plan: list[list], root: str, device: str, one_process: bool) -> Iterator[dict]:
    """The results of the measurements of ``plan``, in order: each in a fresh subprocess, or
    (``one_process``) all in the same one."""
    for batch in [plan] if one_process else [[m] for m in plan]:
        yield from _measure(batch, root, device)


def _median(tries: list[dict]) -> dict:
    """The try with the median speed (the slower middle one for an even count), with every
    try's samples/s beside it."""
    ordered = sorted(tries, key=lambda r: r["samples_per_s"])
    return {**ordered[(len(ordered) - 1) // 2], "tries": [r["samples_per_s"] for r in tries]}


def _gpu_name(device: str) -> str:
    if not device.startswith("cuda"):
        return ""
    import torch

    return f" ({torch.cuda.get_device_name(torch.device(device))})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per configuration")
    parser.add_argument("--data-root", default=os.environ.get("GENZOO_DATA"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--csv", type=Path, help="also write the table here")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N: where every loop "
                        "trains (each loop's peak GPU memory is shown too on CUDA)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each loop, the median "
                        "shown (default 3; 1 with --quick)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measurements, root, device = args.child
        _child(json.loads(measurements), root, device)
        return
    if not args.data_root:
        raise SystemExit("set GENZOO_DATA or --data-root to a folder holding MNIST/raw/")
    steps = QUICK_STEPS if args.quick else None
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    on_gpu = args.device.startswith("cuda")
    quick = f"quick: {steps} steps per run, all runs in one process" if args.quick else ""
    print(f"# genzoo training benchmark ({quick or 'one MNIST epoch per run'}, "
          f"median of {args.repeat}) on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, device {args.device}{_gpu_name(args.device)}")
    rows = []
    header = ("model", "batch", "precision", "variant", "samples/s", "s/epoch", "peak MB",
              *(("GPU peak MB",) if on_gpu else ()), "÷ A", "÷ B")
    table = [header]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    def variants(bf16: bool) -> list[str]:
        return [v for v in VARIANTS if not (bf16 and v.endswith("DataLoader"))]

    # round robin, so that a slow spell hits every loop
    plan = [[variant, model, batch, bf16, steps] for model, batch in CONFIGS for bf16 in (False, True)
            for _ in range(args.repeat) for variant in variants(bf16)]
    results = _results(plan, args.data_root, args.device, one_process=args.quick)
    for model, batch in CONFIGS:
        for bf16 in (False, True):
            tries: dict[str, list[dict]] = {v: [] for v in variants(bf16)}
            for _ in range(args.repeat):
                for variant in variants(bf16):
                    tries[variant].append(next(results))
            found = {}
            for variant in variants(bf16):
                r = found[variant] = _median(tries[variant])
                rel_a = r["samples_per_s"] / found["A classic"]["samples_per_s"]
                rel_b = r["samples_per_s"] / found["B tuned"]["samples_per_s"] if "B tuned" in found else None
                row = dict(model=model, batch=batch, precision="bf16" if bf16 else "fp32",
                           variant=variant, **r, vs_a=rel_a, vs_b=rel_b)
                rows.append(row)
                table.append((model, str(batch), row["precision"], variant, f"{r['samples_per_s']:,.0f}",
                              f"{r['epoch_s']:.1f}", f"{r['peak_mb']:,.0f}",
                              *((f"{r['gpu_peak_mb']:,.0f}",) if on_gpu else ()), f"{rel_a:.2f}×",
                              f"{rel_b:.2f}×" if rel_b is not None else ""))
                print("| " + " | ".join(table[-1]) + " |", flush=True)
    print()
    for (model, batch), target in (TARGETS.items() if not on_gpu else ()):
        row = next(r for r in rows if (r["model"], r["batch"], r["precision"], r["variant"])
                   == (model, batch, "fp32", "genzoo"))
        ok = row["vs_a"] >= target and row["vs_b"] >= 0.9
        print(f"target {model} batch {batch} fp32: genzoo ≥ {target}× A and ≥ 0.9× B: "
              f"{row['vs_a']:.2f}× A, {row['vs_b']:.2f}× B -> {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(table)


if __name__ == "__main__":
    main()
