"""Check mixed precision on every installed model: a few training steps and a sample each.

For every model ``genzoo.list_models()`` finds and every precision asked for, build the model
with its defaults, ``fit`` it for ``--steps`` steps on random images of its shape, and check that
the losses and the samples are finite and the samples in ``[0, 1]``. Prints one line per
model and precision, and exits with status 1 if any failed.

Usage::

    python benchmarks/amp_check.py --device cuda                   # bf16 and fp16 on the GPU
    python benchmarks/amp_check.py --device cpu --precisions bf16  # what a CPU can check
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback


def check(name: str, precision: str, device: str, steps: int) -> str:
    """Train ``name`` for ``steps`` steps in ``precision``; return ``""`` or what went wrong."""
    import torch

    import genzoo
    from genzoo.data import InMemoryLoader

    model = genzoo.build(name, seed=0)
    c, h, w = model.image_shape
    images = torch.randint(0, 256, (8 * steps, c, h, w), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    classes = getattr(model.config, "num_classes", 0)
    labels = torch.arange(images.shape[0]) % classes if classes else None
    result = model.fit(InMemoryLoader(images, labels, batch_size=8), epochs=1, device=device,
                       precision=precision, progress=False, grid_every=0, max_steps=steps)
    bad = {k: v for k, v in result.metrics.items() if isinstance(v, float) and not math.isfinite(v)}
    if bad:
        return f"non-finite metrics {bad}"
    samples = model.sample(4, seed=0)
    if not torch.isfinite(samples).all() or samples.min() < 0 or samples.max() > 1:
        return "samples not finite or outside [0, 1]"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precisions", default="bf16,16", help="comma-separated: 32, bf16, 16")
    parser.add_argument("--models", default="*", help="a pattern of model names")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    import genzoo

    failures = 0
    for name in genzoo.list_models(args.models):
        for precision in args.precisions.split(","):
            started = time.perf_counter()
            try:
                problem = check(name, precision, args.device, args.steps)
            except Exception:  # report every model, not only the first failure
                problem = traceback.format_exc().strip().splitlines()[-1]
            failures += bool(problem)
            status = "FAIL " + problem if problem else "ok"
            print(f"{name:>16} {precision:>5} {args.device:>6} {time.perf_counter() - started:6.1f} s  "
                  f"{status}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
