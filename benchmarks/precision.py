"""A model's training step in fp32, bf16 and ``precision="auto"``, side by side.

Builds the ``flow-matching`` model, or ``--model NAME`` (its defaults, or ``--set KEY=VALUE``
settings), and times its training step (forward, backward, optimizer step) the way the runner
takes it: under the precision's autocast, through :class:`genzoo.runner.Step`. Each precision
gets warm-up steps, then ``--steps`` timed ones; the median is reported, with what ``"auto"``
resolved to and the CPU's native bfloat16 support, so the table says why ``"auto"`` chose what
it did. On a CPU
without native bfloat16 (AVX2 only), bf16 convolutions fall back to slow reference kernels.

Usage::

    python benchmarks/precision.py                    # batch 64, 5 steps per precision
    python benchmarks/precision.py --model gan --steps 200   # the MLP GAN (short runs are noisy)
    python benchmarks/precision.py --device cuda --batch-size 256
    python benchmarks/precision.py --quick            # batch 4, one step each (seconds)
    python benchmarks/precision.py --auto-repeats 8   # also: auto's measurement in 8 processes

``--auto-repeats N`` also runs ``"auto"``'s own measurement (:func:`genzoo.devices.bf16_slowdown`)
in ``N`` fresh processes, each with an empty cache (so each measures, as the first run on a
machine does), and prints each reading with what it decided, beside the step's own bf16/fp32
ratio: how far the reading is from 1.0, where the decision would flip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def time_steps(name: str, model_settings: dict[str, str], precision: str, device: str, batch: int,
               steps: int, warmup: int) -> tuple[str, list[float]]:
    """The precision ``precision`` resolves to, and the seconds of each timed training step."""
    import torch

    import genzoo
    from genzoo.plugin import Batch
    from genzoo.runner import Precision, Step, resolve_device

    where = resolve_device(device)
    model = genzoo.build(name, seed=0, **model_settings).to(where).train()
    resolved = Precision(precision, where)
    optimizers = {name: (opt.optimizer if hasattr(opt, "optimizer") else opt)
                  for name, opt in model.configure_optimizers().items()}
    step = Step(optimizers, resolved.make_scaler(), where)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, *model.image_shape, generator=generator).to(where)
    classes = int(getattr(model.config, "num_classes", 0) or 0)
    labels = (torch.arange(batch) % classes).to(where) if classes else None
    seconds = []
    for index in range(warmup + steps):
        if where.type == "cuda":
            torch.cuda.synchronize(where)
        started = time.perf_counter()
        with resolved.autocast():
            model.training_step(Batch(images, labels), step)
        step.end_iteration()
        if where.type == "cuda":
            torch.cuda.synchronize(where)
        if index >= warmup:
            seconds.append(time.perf_counter() - started)
    return resolved.name, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="flow-matching", help="the model whose step is timed")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--precisions", default="32,bf16,auto", help="comma-separated")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per precision")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting (repeatable)")
    parser.add_argument("--quick", action="store_true", help="batch 4, one warm-up and one timed step")
    parser.add_argument("--auto-repeats", type=int, default=0, metavar="N",
                        help="also run auto's bf16 measurement in N fresh processes")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.steps, args.warmup = 4, 1, 1
    if min(args.batch_size, args.steps) < 1 or args.warmup < 0:
        parser.error("--batch-size and --steps must be at least 1, --warmup at least 0")
    settings = dict(item.split("=", 1) for item in args.settings)

    import torch

    from genzoo.devices import native_bf16

    native, what = native_bf16()
    print(f"{args.model} training step, batch {args.batch_size}, device {args.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU: {what} "
          f"({torch.backends.cpu.get_cpu_capability()})")
    print("| precision | runs as | s/step (median) | images/s | vs fp32 |")
    print("|---|---|---|---|---|")
    baseline = None
    for precision in args.precisions.split(","):
        resolved, seconds = time_steps(args.model, settings, precision, args.device, args.batch_size,
                                       args.steps, args.warmup)
        median = statistics.median(seconds)
        if resolved == "32" and baseline is None:
            baseline = median
        ratio = f"{median / baseline:.2f}x" if baseline else "-"
        print(f"| {precision} | {resolved} | {median:.3f} | {args.batch_size / median:.1f} | {ratio} |",
              flush=True)
    if args.auto_repeats > 0:
        print(f"auto's measurement (bf16/fp32 of a convolution step) in {args.auto_repeats} fresh "
              "processes, and what each chose:")
        for _ in range(args.auto_repeats):
            with tempfile.TemporaryDirectory() as cache:  # no kept reading: each one measures
                reading = subprocess.run(
                    [sys.executable, "-c", "from genzoo.devices import bf16_slowdown, "
                     "resolve_precision; import torch; "
                     "print(bf16_slowdown(), resolve_precision('auto', torch.device('cpu')))"],
                    capture_output=True, text=True, check=True,
                    env={**os.environ, "XDG_CACHE_HOME": cache}).stdout.split()
            ratio = "-" if reading[0] == "None" else f"{float(reading[0]):.2f}"
            print(f"  {ratio} -> {reading[1]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
