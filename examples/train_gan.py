"""Train the built-in GAN on MNIST; the runner writes sample grids and checkpoints.

Usage::

    python examples/train_gan.py                                  # 20 epochs into runs/tutorial/gan
    python examples/train_gan.py --epochs 1 --limit 2048 --out /tmp/gan   # a quick look

MNIST is read from ``$GENZOO_DATA`` when it is set, else downloaded by torchvision into
``~/.cache/genzoo/data``.
"""

from __future__ import annotations

import argparse

import genzoo
from genzoo.data import InMemoryLoader, load_images
from genzoo.runner import World, resolve_device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the built-in GAN on MNIST.")
    parser.add_argument("--epochs", type=int, default=20, help="epochs to train (default 20)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--out", default="runs/tutorial/gan", help="the run folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    args = parser.parse_args(argv)

    # 60,000 uint8 images of 1x28x28 with their labels, held in memory.
    mnist = load_images("mnist")
    device = resolve_device(args.device, World.from_env().local_rank)  # torchrun: this rank's GPU
    loader = InMemoryLoader(mnist.images[: args.limit], batch_size=args.batch_size,
                            device=device)  # the whole set on the training device, once

    model = genzoo.build("gan", seed=args.seed)  # the defaults: the seed report's MLP GAN
    result = model.fit(loader, epochs=args.epochs, out=args.out, device=str(device),
                       seed=args.seed, max_steps=args.max_steps)

    print(f"trained to epoch {result.epochs} ({result.steps} steps): "
          f"d_loss {result.metrics['d_loss']:.3f}, g_loss {result.metrics['g_loss']:.3f}")
    print("grids:", *[str(path) for path in result.grids], sep="\n  ")
    print("checkpoint:", result.checkpoint)


if __name__ == "__main__":
    main()
