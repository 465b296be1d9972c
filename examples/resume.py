"""Stop a run part-way and resume it: the resumed run ends exactly where an uninterrupted one does.

The runner writes ``checkpoints/last.pt`` every epoch, at the end, and when the run stops early
(``max_steps``, Ctrl-C or SIGTERM). ``resume="auto"`` continues from the run folder's last
checkpoint, mid-epoch included: weights, optimizer state, step counters, random states and the
position in the epoch's data order are all restored.

Usage::

    python examples/resume.py                            # VAE, 3 epochs, stopped after 500 steps
    python examples/resume.py --limit 2048 --epochs 2 --stop-after 20 --check --out /tmp/resume
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

import genzoo
from genzoo.data import InMemoryLoader, load_images


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Stop a VAE run part-way, then resume it.")
    parser.add_argument("--epochs", type=int, default=3, help="epochs the run trains up to")
    parser.add_argument("--stop-after", type=int, default=500, help="steps before the stop")
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    parser.add_argument("--out", default="runs/examples/resume", help="the run folder")
    parser.add_argument("--check", action="store_true",
                        help="also train without a stop and compare the final weights")
    args = parser.parse_args(argv)

    loader = InMemoryLoader(load_images("mnist").images[: args.limit], batch_size=128)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)  # start afresh: resume="auto" would continue it

    # 1. A run that stops early. max_steps stands in for Ctrl-C: either way the runner
    #    writes a checkpoint before it returns.
    model = genzoo.build("vae", seed=0)
    first = model.fit(loader, epochs=args.epochs, out=out / "run", seed=0,
                      max_steps=args.stop_after)
    print(f"stopped after step {first.steps} ({first.epochs} epochs complete): {first.checkpoint}")

    # 2. Later, perhaps in another process: build the same model and resume.
    model = genzoo.build("vae", seed=0)
    resumed = model.fit(loader, epochs=args.epochs, out=out / "run", seed=0, resume="auto")
    print(f"resumed to epoch {resumed.epochs} ({resumed.steps} steps)")

    if args.check:  # 3. The same run without a stop, for comparison.
        reference = genzoo.build("vae", seed=0)
        reference.fit(loader, epochs=args.epochs, out=out / "uninterrupted", seed=0)
        same = all(torch.equal(a, b) for a, b in
                   zip(model.state_dict().values(), reference.state_dict().values()))
        print("identical to the uninterrupted run:", same)
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
