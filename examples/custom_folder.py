"""Train a model on a folder of your own images (PNG, JPEG, BMP or WebP).

Images in sub-folders (``FOLDER/cat/1.png``, ``FOLDER/dog/2.png``) get the sub-folder as
their class label. ``--channels`` converts to grayscale (1) or RGB (3), ``--image-size``
resizes; without them the images must all have the size of the first one.

Usage::

    python examples/custom_folder.py ~/pictures/faces --image-size 32 --channels 3 --model vae
    python examples/custom_folder.py runs/examples/digits --demo 2000   # MNIST digits as PNGs

``--demo N`` first writes N MNIST digits as PNG files into FOLDER (one sub-folder per digit),
so that the script has a folder to read when you have none at hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

import genzoo
from genzoo.data import InMemoryLoader, load_folder, load_images


def write_demo_folder(folder: Path, count: int) -> None:
    """Save the first ``count`` MNIST training digits as ``folder/<digit>/<index>.png``."""
    mnist = load_images("mnist")
    for index in range(count):
        label = int(mnist.labels[index])
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(mnist.images[index, 0].numpy()).save(folder / str(label) / f"{index:05d}.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a model on a folder of images.")
    parser.add_argument("folder", type=Path, help="a folder of images (searched recursively)")
    parser.add_argument("--model", default="vae", help="a registered model (genzoo list)")
    parser.add_argument("--channels", type=int, choices=(1, 3), help="1: grayscale, 3: RGB")
    parser.add_argument("--image-size", type=int, help="resize every image to this size")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--out", default="runs/examples/folder", help="the run folder")
    parser.add_argument("--demo", type=int, metavar="N", help="first write N MNIST digits there")
    args = parser.parse_args(argv)

    if args.demo:
        write_demo_folder(args.folder, args.demo)

    images = load_folder(args.folder, channels=args.channels, size=args.image_size)
    print(images)  # how many images, their shape, and the classes found in sub-folders

    model = genzoo.build(args.model, image_shape=images.image_shape, seed=0)
    loader = InMemoryLoader.from_image_set(images, batch_size=args.batch_size)
    result = model.fit(loader, epochs=args.epochs, out=args.out, seed=0,
                       max_steps=args.max_steps)
    print(f"trained {args.model} to epoch {result.epochs} ({result.steps} steps)")
    print("grids:", *[str(path) for path in result.grids], sep="\n  ")
    print("checkpoint:", result.checkpoint)


if __name__ == "__main__":
    main()
