"""Benchmark: bits/dim on the MNIST test split, with the training CPU time of each model.

Trains each configuration in this process (so ``time.process_time`` counts the CPU time of all
of torch's threads), logs the test bits/dim of a fixed 2,000-image subset after every epoch
(:class:`genzoo.metrics.LikelihoodEvery`) beside the CPU and wall time so far, then
scores the whole test split (10,000 images). The flow's number is exact; the VAEs' are bounds
(their ELBO, and their importance-weighted bound with ``--iw-samples`` samples). Published
numbers stand beside them for reference.

Usage::

    python benchmarks/likelihood.py --out runs/likelihood                 # the full run
    python benchmarks/likelihood.py --out runs/likelihood --only glow --threads 2
    python benchmarks/likelihood.py --out /tmp/lk --quick                 # a few steps each (CI)

The data comes from ``--data-root`` or ``$GENZOO_DATA``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import genzoo
from genzoo.data import InMemoryLoader, load_images
from genzoo.metrics import LikelihoodEvery, evaluate_likelihood


@dataclass(frozen=True)
class Shipped:
    """One configuration and the training budget it is measured with."""

    name: str
    model: str
    epochs: int
    batch_size: int
    settings: dict[str, Any] = field(default_factory=dict)
    #: Runner options of ``fit`` (``ema=``, ``lr_schedule=``, ...), beside the model's settings.
    options: dict[str, Any] = field(default_factory=dict)


#: The configurations measured, in order. The flow's budget is what fits in 20 minutes on a
#: 2-core CPU (two torch threads), its learning rate decaying to 0 over it, scored with the
#: runner's weight average.
CONFIGS = (
    Shipped("glow", "glow", epochs=4, batch_size=64,
            options={"ema": 0.999, "lr_schedule": "cosine", "warmup_steps": 200}),
    Shipped("vae", "vae", epochs=20, batch_size=128),
    Shipped("vae continuous-bernoulli", "vae", epochs=20, batch_size=128,
            settings={"likelihood": "continuous-bernoulli"}),
    Shipped("conv-vae", "conv-vae", epochs=12, batch_size=128),
)

#: Published MNIST bits/dim (long GPU training), for reference.
PUBLISHED = (
    ("RealNVP (Dinh et al., 2017; as reported by Papamakarios et al., 2017)", "1.06", "exact"),
    ("Glow (Kingma & Dhariwal, 2018)", "1.05", "exact"),
)


class CpuClock:
    """A runner callback: the process CPU time and wall time since training started, per epoch."""

    def __init__(self) -> None:
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()

    @genzoo.hookimpl
    def genzoo_epoch_end(self, model: Any, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        """Add ``cpu_seconds`` and ``wall_seconds`` so far (before this epoch's evaluation)."""
        metrics["cpu_seconds"] = round(time.process_time() - self.cpu0, 1)
        metrics["wall_seconds"] = round(time.perf_counter() - self.wall0, 1)


def measure(config: Shipped, out: Path, *, quick: bool, root: str | None, iw_samples: int) -> dict[str, Any]:
    """Train ``config`` into ``out/<name>``, then score the test split; returns one row."""
    train = load_images("mnist", root=root)
    loader = InMemoryLoader.from_image_set(train, batch_size=config.batch_size, shuffle=True)
    model = genzoo.build(config.model, seed=0, **config.settings)
    clock = CpuClock()  # after loading, so only training (and the per-epoch evaluation) counts
    every = LikelihoodEvery(1, n=200 if quick else 2000, root=root)
    result = model.fit(loader, epochs=config.epochs, out=str(out / config.name), seed=0,
                       device="cpu", progress=False, grid_every=0, checkpoint_every=1,
                       max_steps=3 if quick else None, callbacks=[clock, every], **config.options)
    train_cpu, train_wall = time.process_time() - clock.cpu0, time.perf_counter() - clock.wall0
    history = [json.loads(line) for line in (out / config.name / "metrics.jsonl").read_text().splitlines()]
    eval_cpu = sum(h.get("likelihood_seconds", 0.0) for h in history)
    n = 500 if quick else None
    scores = [evaluate_likelihood(model, n=n, root=root)]
    if not scores[0].kind == "exact":
        scores.append(evaluate_likelihood(model, n=n, root=root, samples=iw_samples))
    row = {"name": config.name, "epochs": result.epochs, "batch_size": config.batch_size,
           "settings": config.settings, "options": config.options,
           "train_cpu_seconds": round(train_cpu, 1), "train_wall_seconds": round(train_wall, 1),
           "per_epoch_eval_wall_seconds": round(eval_cpu, 1),
           "scores": [s.as_dict() for s in scores], "history": history}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--only", default="*", help="fnmatch pattern of configuration names")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--iw-samples", type=int, default=100,
                        help="importance samples of the VAEs' second bound")
    parser.add_argument("--data-root", default=os.environ.get("GENZOO_DATA"))
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--quick", action="store_true", help="a few steps each (a smoke run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    chosen = [c for c in CONFIGS if fnmatch.fnmatch(c.name, args.only)]
    if not chosen:
        print(f"no configuration matches {args.only!r}", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs; "
          f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for config in chosen:
        row = measure(config, args.out, quick=args.quick, root=args.data_root,
                      iw_samples=args.iw_samples)
        rows.append(row)
        for h in row["history"]:
            print(f"  {config.name} epoch {h['epoch']}: test bits/dim (2000 images) "
                  f"{h.get('test_bits_per_dim', float('nan')):.4f} after {h['cpu_seconds']} CPU s, "
                  f"{h['wall_seconds']} wall s", flush=True)
        print(f"{config.name}: {row['epochs']} epochs, {row['train_cpu_seconds']} CPU s, "
              f"{row['train_wall_seconds']} wall s; load average {os.getloadavg()[0]:.1f}", flush=True)
        for score in row["scores"]:
            print(f"  {score['bits_per_dim']:.4f} ± {score['stderr']:.4f} bits/dim ({score['kind']}, "
                  f"samples={score['samples']}) on {score['n']} test images", flush=True)
    print("\n| model | bits/dim on MNIST test | kind | epochs | training CPU time | wall |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        for score in row["scores"]:
            estimate = "exact" if score["kind"] == "exact" else (
                "ELBO" if score["samples"] == 1 else f"IWAE bound, K={score['samples']}")
            print(f"| {row['name']} | {score['bits_per_dim']:.3f} ± {score['stderr']:.3f} | {estimate} "
                  f"| {row['epochs']} | {row['train_cpu_seconds'] / 60:.1f} min | "
                  f"{row['train_wall_seconds'] / 60:.1f} min |")
    for name, value, kind in PUBLISHED:
        print(f"| *{name}* | {value} | {kind} | | | |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
