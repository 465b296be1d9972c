"""Train the built-in VAE on MNIST; the runner writes sample and reconstruction grids.

Usage::

    python examples/train_vae.py                                  # 20 epochs into runs/tutorial/vae
    python examples/train_vae.py --epochs 1 --limit 2048 --out /tmp/vae   # a quick look

MNIST is read from ``$GENZOO_DATA`` when it is set, else downloaded by torchvision into
``~/.cache/genzoo/data``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from torchvision.utils import save_image

import genzoo
from genzoo.data import InMemoryLoader, load_images
from genzoo.runner import World, resolve_device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the built-in VAE on MNIST.")
    parser.add_argument("--epochs", type=int, default=20, help="epochs to train (default 20)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--out", default="runs/tutorial/vae", help="the run folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--latent-dim", type=int, default=20, help="size of the latent code")
    args = parser.parse_args(argv)

    mnist = load_images("mnist")
    device = resolve_device(args.device, World.from_env().local_rank)  # torchrun: this rank's GPU
    loader = InMemoryLoader(mnist.images[: args.limit], batch_size=args.batch_size, device=device)

    model = genzoo.build("vae", seed=args.seed, latent_dim=args.latent_dim)
    result = model.fit(loader, epochs=args.epochs, out=args.out, device=str(device),
                       seed=args.seed, max_steps=args.max_steps)
    print(f"trained to epoch {result.epochs} ({result.steps} steps): "
          f"loss {result.metrics['loss']:.1f} = reconstruction "
          f"{result.metrics['reconstruction']:.1f} + KL {result.metrics['kl']:.1f}")

    if result.checkpoint is None:
        return  # another process of a torchrun launch: rank 0 writes the files
    # Load the checkpoint back, as a later session would, and use the model directly.
    vae = genzoo.load(result.checkpoint)
    test = load_images("mnist", train=False).images[:32]
    real = test.float() / 255
    save_image(real, Path(args.out) / "test_real.png", nrow=8)
    save_image(vae.reconstruct(real), Path(args.out) / "test_reconstructed.png", nrow=8)
    save_image(vae.sample(64, seed=1), Path(args.out) / "samples_seed1.png", nrow=8)
    print("grids:", *[str(path) for path in result.grids], sep="\n  ")
    print("checkpoint:", result.checkpoint)


if __name__ == "__main__":
    main()
