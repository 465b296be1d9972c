"""Benchmark: multi-process training speed, DDP (and FSDP) beside the old hand-written averaging.

Samples per second (all processes together) of the seed GAN and of the convolutional models,
trained by ``fit`` on MNIST-sized images, in one process and in two, side by side in one run:

* **1 process**: the plain model, no averaging (the reference for scaling);
* **2 × flat**: the averaging genzoo had before it moved to torch's engines, kept here only as
  the baseline: after each backward, every gradient of the optimizer copied into one flat
  buffer, one blocking all-reduce, copied back (``torch._utils._flatten_dense_tensors``);
* **2 × DDP**: ``strategy="ddp"``: DDP's bucketed all-reduce, overlapping backward;
* **2 × FSDP**: ``strategy="fsdp"`` (with ``--fsdp``, and always on GPUs).

On the CPU the processes talk through gloo, each with one thread (``OMP_NUM_THREADS=1``, so one
process is one core). With ``--device cuda`` and at least two GPUs they use NCCL, one GPU each;
with one GPU, two processes cannot share it under NCCL, so only the 1-process column is
measured there and the table says so.

Every configuration is a fresh launch (``torchrun`` for two processes) training
``--images`` random images (speed does not depend on the pixels) for ``--epochs`` epochs; the
last epoch is timed (the first pays for warm-up and DDP's bucket rebuild). ``--repeat`` runs
each configuration several times in turn and shows the median.

Usage::

    python benchmarks/parallel.py                  # gan, dcgan, conv-vae on the CPU
    python benchmarks/parallel.py --quick          # a smoke run
    python benchmarks/parallel.py --device cuda    # NCCL and FSDP when there are 2+ GPUs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
MODELS = [("gan", 64), ("dcgan", 64), ("conv-vae", 64)]


def _flat_averaging_optimize(self, loss, optimizer):  # the baseline: genzoo's former Step.optimize
    import torch
    import torch.distributed as dist

    opt = self.optimizers[optimizer]
    params = self._params[optimizer]
    opt.zero_grad(set_to_none=True)
    scaled = self.scaler.scale(loss) if self.scaler is not None else loss
    scaled.backward(inputs=params)
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        flat = torch._utils._flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat.div_(dist.get_world_size())
        for grad, averaged in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
            grad.copy_(averaged)
    if self.scaler is not None:
        self.scaler.step(opt)
    else:
        opt.step()


def _worker(args: argparse.Namespace) -> None:
    """One configuration, in this process (a rank under torchrun): print rank 0's figures."""
    import torch

    import genzoo
    from genzoo.data import InMemoryLoader
    from genzoo.runner import parallel, step

    torch.set_num_threads(1) if args.device == "cpu" else None
    if args.engine == "flat":
        parallel.Parallel.prepare_optimizers = lambda self, optimizers: None
        step.Step.optimize = _flat_averaging_optimize
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.images, 1, 28, 28), dtype=torch.uint8, generator=generator)
    device = "cpu" if args.device == "cpu" else f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    loader = InMemoryLoader(images, batch_size=args.batch, device=device)
    model = genzoo.build(args.model, seed=0)
    result = model.fit(loader, epochs=args.epochs, device=device, progress=False, grid_every=0,
                       strategy="fsdp" if args.engine == "fsdp" else "auto",
                       precision=args.precision)
    if int(os.environ.get("RANK", "0")) == 0:
        print("RESULT " + json.dumps({"samples_per_s": result.history[-1]["samples_per_s"]}),
              flush=True)
    sys.stdout.flush()
    os._exit(0)  # no C++ teardown: gloo's can abort a finished rank


def _launch(model: str, batch: int, engine: str, nproc: int, args: argparse.Namespace) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    command = [sys.executable, *(launcher if nproc > 1 else []), str(HERE), "--worker",
               "--model", model, "--batch", str(batch), "--engine", engine,
               "--images", str(args.images), "--epochs", str(args.epochs),
               "--device", args.device, "--precision", args.precision]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return float(json.loads(line[7:])["samples_per_s"])
    raise SystemExit(f"{model} {engine} x{nproc} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="gan")
    parser.add_argument("--batch", type=int, default=64, help="images per step per process")
    parser.add_argument("--engine", choices=("single", "flat", "ddp", "fsdp"), default="ddp")
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", default="32")
    parser.add_argument("--fsdp", action="store_true", help="also FSDP on the CPU")
    parser.add_argument("--models", default=",".join(m for m, _ in MODELS))
    parser.add_argument("--quick", action="store_true", help="few images: a smoke run")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.quick:
        args.images, args.epochs = 1024, 2
    gpus = 0
    if args.device == "cuda":
        import torch

        gpus = torch.cuda.device_count()
        if gpus == 0:
            parser.error("--device cuda: no CUDA device here")
    several = args.device == "cpu" or gpus >= 2
    engines = ["single"] + (["flat", "ddp"] + (["fsdp"] if args.fsdp or args.device == "cuda" else [])
                            if several else [])
    backend = "gloo, 1 thread per process" if args.device == "cpu" else f"NCCL, {gpus} GPU(s)"
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, device "
          f"{args.device} ({backend}), precision {args.precision}, {args.images} random 28x28 "
          f"images, the last of {args.epochs} epochs timed, median of {args.repeat}")
    if not several:
        print("# one GPU: two NCCL processes cannot share it, so only one process is measured")
    rows = []
    for model, batch in MODELS:
        if model not in args.models.split(","):
            continue
        runs: dict[str, list[float]] = {e: [] for e in engines}
        for _ in range(args.repeat):
            for engine in engines:
                runs[engine].append(_launch(model, batch, engine, 1 if engine == "single" else 2, args))
        rows.append({"model": model, "batch_per_process": batch,
                     **{e: statistics.median(v) for e, v in runs.items()}})
        _print(rows[-1], engines)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "args": vars(args),
                                               "time": time.time()}, indent=2))


_HEADERS = {"single": "1 process", "flat": "2 x flat (old)", "ddp": "2 x DDP", "fsdp": "2 x FSDP"}


def _print(row: dict, engines: list[str]) -> None:
    if not hasattr(_print, "done"):
        head = ["model", "batch/proc"] + [_HEADERS[e] for e in engines]
        if "flat" in engines:
            head.append("DDP / flat")
        print(" | ".join(f"{h:>14}" for h in head))
        _print.done = True  # type: ignore[attr-defined]
    cells = [row["model"], str(row["batch_per_process"])] + [f"{row[e]:,.0f}" for e in engines]
    if "flat" in engines:
        cells.append(f"{row['ddp'] / row['flat']:.2f}x")
    print(" | ".join(f"{c:>14}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
