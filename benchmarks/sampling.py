"""Benchmark: sampling throughput (images per second) of every registered model, side by side.

Each model is built with its default config (weights do not change the cost of sampling) and
draws ``--n`` images in batches of ``--batch`` through ``model.sample``, after one untimed
warm-up batch; the median of ``--repeat`` timings is shown. Models that sample in steps
(``genzoo.IterativeGenerator``: diffusion, flow matching) are timed at their default number of
steps and at each of ``--steps``, so the cost of quality is visible in the same table, and at
each of ``--chunks`` images per network call (``sample(n, chunk=K)``; the default row is the
model's own choice: 100 images at a time on a CPU).

Usage::

    python benchmarks/sampling.py                   # 1,000 images per model, batches of 250
    python benchmarks/sampling.py --quick           # a few images each (CI keeps it working)
    python benchmarks/sampling.py --steps 10 50 --device cuda --json sampling.json
    python benchmarks/sampling.py --models gan vae  # only these
    python benchmarks/sampling.py --models flow-matching --set num_classes=10 --set guidance=1.25 \
        --batch 500 --chunks 100 500 --steps 8   # a guided model, in chunks of 100 and 500
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time


def time_sampling(model, n: int, batch: int, steps: int | None, repeat: int,
                  chunk: int | None = None) -> float:
    """The median images per second of drawing ``n`` images in batches of ``batch`` (in chunks
    of ``chunk`` images per network call, where given)."""
    import torch

    kwargs = {} if steps is None else {"steps": steps}
    if chunk is not None:
        kwargs["chunk"] = chunk

    @torch.no_grad()  # a local switch: the benchmark runs in-process in the tests too
    def draw(count: int, seed: int) -> None:
        for start in range(0, count, batch):
            model.sample(min(batch, count - start), seed=seed + start, **kwargs)
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)

    draw(min(batch, n), seed=10_000)  # warm-up: allocations, kernels, lazy imports
    rates = []
    for attempt in range(repeat):
        started = time.perf_counter()
        draw(n, seed=attempt * n)
        rates.append(n / (time.perf_counter() - started))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per timing (default 1000)")
    parser.add_argument("--batch", type=int, default=250, help="images per sample() call")
    parser.add_argument("--steps", type=int, nargs="*", default=[],
                        help="also time models that sample in steps at these step counts")
    parser.add_argument("--chunks", type=int, nargs="*", default=[],
                        help="also time models that sample in steps at these images per call")
    parser.add_argument("--repeat", type=int, default=3, help="timings per row; the median is shown")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting for every model timed (repeatable)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", nargs="*", help="only these registered models")
    parser.add_argument("--quick", action="store_true", help="8 images, one timing, 2-step rows")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.batch, args.repeat = 8, 4, 1
        args.steps = args.steps or [2]
    if any(chunk < 1 for chunk in args.chunks):
        parser.error(f"--chunks must be positive, got {args.chunks}")
    if any("=" not in setting for setting in args.set):
        parser.error(f"--set takes KEY=VALUE, got {args.set}")
    settings = dict(setting.split("=", 1) for setting in args.set)
    for name in ("n", "batch", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")

    import torch

    import genzoo

    names = args.models or genzoo.list_models()
    unknown = sorted(set(names) - set(genzoo.list_models()))
    if unknown:
        parser.error(f"not registered: {', '.join(unknown)}; see genzoo list")
    rows = []
    print(f"sampling throughput on {args.device} ({platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads): {args.n} images per "
          f"timing, batches of {args.batch}, median of {args.repeat}"
          + (f"; settings {' '.join(args.set)}" if args.set else ""))
    print("| model | steps | chunk | images/s | s per 1,000 images |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        model = genzoo.build(name, seed=0, **settings).to(args.device)
        iterative = isinstance(model, genzoo.IterativeGenerator)
        counts: list[int | None] = [None]
        if iterative:
            counts += [k for k in args.steps if k != model.sampling_steps]
        chunks: list[int | None] = [None] + (args.chunks if iterative else [])
        for steps in counts:
            for chunk in chunks:
                rate = time_sampling(model, args.n, args.batch, steps, args.repeat, chunk)
                shown = (model.sampling_steps if steps is None else steps) if iterative else 1
                rows.append({"model": name, "steps": shown, "chunk": chunk,
                             "images_per_s": round(rate, 1),
                             "seconds_per_1000": round(1000 / rate, 2), "device": args.device})
                print(f"| {name} | {shown} | {'default' if chunk is None else chunk} | {rate:,.1f} "
                      f"| {1000 / rate:.2f} |", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
