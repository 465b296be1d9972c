"""The training script ``tests/runner/test_distributed.py`` launches with ``torchrun``.

Every rank builds the same small model, trains it with ``fit`` on a slice of MNIST and then
writes, into ``--record`` (a side folder, not the run folder), ``rank{r}.pt`` with its final
weights, the initial weights, what ``fit`` returned and, for every training step, the per-image
pixel sums of the batch it trained on (which identify the images a rank saw).

Several jobs, separated by ``--then``, run one after the other in the same processes (each with
a model, loader, run folder and record folder of its own), so that the tests pay the start of
torch once for runs that need no fresh process. The script then joins the process group itself,
once, and each ``fit`` finds it joined: a process group that ``fit`` creates it also destroys, and
creating the default group again in a process that ``torchrun`` started can meet the last
group's addresses, left in the launcher's store (gloo: "Connection refused", then a hang).

Usage::

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/runner/ddp_train.py \
        --model vae --data ROOT --out RUN --record SIDE --epochs 2 --loader in-memory [--resume] \
        [--then --model gan --data ROOT --out RUN2 --record SIDE2 --epochs 1 ...]
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset

import genzoo
from genzoo.data import InMemoryLoader, load_images
from genzoo.runner import LAST_CHECKPOINT

BATCH = 64


class Unsized:
    """A re-iterable over batches with no ``__len__`` (like a generator-backed stream)."""

    def __init__(self, batches: list[torch.Tensor]) -> None:
        self.batches = batches

    def __iter__(self):
        yield from self.batches


def build(name: str) -> genzoo.GenerativeModel:
    if name == "gan":
        return genzoo.build("gan", seed=0, generator_widths=(32, 64, 64, 128),
                            discriminator_widths=(64, 32))
    if name == "cgan":  # its critic calls the discriminator's layers one by one; EMA; 2 critic steps
        return genzoo.build("gan", seed=0, generator_widths=(32, 64, 64, 128),
                            discriminator_widths=(64, 32), num_classes=10, ema=0.9, d_steps=2)
    return genzoo.build("vae", seed=0, hidden_dim=64)


def make_loader(kind: str, images: torch.Tensor, labels: torch.Tensor | None = None):
    if kind == "in-memory":
        return InMemoryLoader(images, labels, batch_size=BATCH)  # shuffled; World.shard calls its shard()
    if kind == "dataloader":  # shuffled from the global RNG; sharded round-robin
        return DataLoader(TensorDataset(images.float() / 255), batch_size=BATCH, shuffle=True)
    batches = list(images.split(BATCH))
    if kind == "list":
        return batches
    if kind == "iterable":
        return Unsized(batches)
    raise SystemExit(f"unknown loader kind {kind!r}")


def final_weights(model: genzoo.GenerativeModel, args: argparse.Namespace) -> dict[str, torch.Tensor]:
    """The weights after fit: the model's own, or for FSDP (whose model stays sharded, its
    process group closed) the consolidated checkpoint rank 0 wrote."""
    if args.strategy != "fsdp" or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return genzoo.load(Path(args.out) / LAST_CHECKPOINT).state_dict()


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("gan", "cgan", "vae"), required=True)
    parser.add_argument("--data", required=True, help="data root holding MNIST/raw")
    parser.add_argument("--out", required=True, help="the run folder")
    parser.add_argument("--record", required=True, help="side folder for rank{r}.pt")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--loader", default="in-memory",
                        choices=("in-memory", "dataloader", "list", "iterable"))
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--resume", action="store_true", help="fit(..., resume='auto')")
    parser.add_argument("--strategy", default="auto", choices=("auto", "ddp", "fsdp"))
    parser.add_argument("--device", default="cpu", help="cpu (gloo), or cuda (NCCL, a GPU each)")
    parser.add_argument("--rank-seeds", action="store_true",
                        help="seed torch differently on each rank and call fit without seed=")
    parser.add_argument("--ema", type=float, default=0.0)
    parser.add_argument("--max-norm", type=float, default=None)
    parser.add_argument("--lr-schedule", default="constant")
    parser.add_argument("--nan-on-rank", type=int, default=None,
                        help="this rank's losses turn NaN from --nan-at-step (counting from 1)")
    parser.add_argument("--nan-at-step", type=int, default=1)
    return parser


def run(args: argparse.Namespace) -> None:
    """Train one job and write this rank's record."""
    rank = int(os.environ.get("RANK", "0"))
    data = load_images("mnist", root=args.data, download=False)
    images = data.images[: args.images]
    labels = data.labels[: args.images] if args.model == "cgan" else None
    model = build(args.model)
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    seen: list[torch.Tensor] = []
    train_step = model.training_step

    def recording_step(batch, step):
        seen.append(batch.images.detach().double().flatten(1).sum(1).cpu())
        losses = train_step(batch, step)
        if rank == args.nan_on_rank and step.index + 1 >= args.nan_at_step:
            losses = {k: v * float("nan") for k, v in losses.items()}
        return losses

    model.training_step = recording_step  # what this rank trains on, after sharding

    if args.rank_seeds:  # the ranks' global random states now differ, as in many user scripts
        torch.manual_seed(1000 + rank)
    record = Path(args.record)
    record.mkdir(parents=True, exist_ok=True)
    try:
        result = model.fit(make_loader(args.loader, images, labels), epochs=args.epochs,
                           seed=None if args.rank_seeds else 0, out=args.out,
                           progress=False, resume="auto" if args.resume else None,
                           max_steps=args.max_steps, ema=args.ema, max_norm=args.max_norm,
                           lr_schedule=args.lr_schedule, strategy=args.strategy,
                           device=args.device)
    except genzoo.NonFiniteLossError as err:  # every rank must stop, none left waiting
        torch.save({"rank": rank, "error": str(err), "step": err.step}, record / f"rank{rank}.pt")
        return
    if dist.is_initialized():  # the script's own group (see main), which fit leaves as it is:
        dist.barrier()  # wait, as fit does before it ends a group of its own, for rank 0's files
    torch.save({
        "rank": rank,
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "initial": initial,
        "state_dict": final_weights(model, args),
        "seen": seen,
        "result_epochs": result.epochs,
        "result_steps": result.steps,
        "result_out": None if result.out is None else str(result.out),
        "history_epochs": [h["epoch"] for h in result.history],
    }, record / f"rank{rank}.pt")


def main() -> None:
    faulthandler.enable(all_threads=True)  # a crash in a rank prints its Python stacks
    torch.set_num_threads(1)
    jobs: list[list[str]] = [[]]
    for arg in sys.argv[1:]:
        if arg == "--then":
            jobs.append([])
        else:
            jobs[-1].append(arg)
    parsed = [make_parser().parse_args(job) for job in jobs]  # every job's arguments checked first
    own_group = len(jobs) > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1
    if own_group:
        if parsed[0].device.startswith("cuda"):
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if parsed[0].device.startswith("cuda") else "gloo")
    for number, (job, args) in enumerate(zip(jobs, parsed), 1):
        if len(jobs) > 1:
            print(f"ddp_train.py: job {number} of {len(jobs)}: {' '.join(job)}", file=sys.stderr,
                  flush=True)
        run(args)
    if own_group:
        dist.barrier()  # no rank leaves while another still talks to it
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
    # Leave without running C++ destructors: under load, gloo's exit-time teardown sometimes
    # aborts a rank ("terminate called without an active exception") after all work is done.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
