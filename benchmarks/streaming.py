"""Streaming CelebA from disk: genzoo's StreamingLoader beside the tutorial DataLoader, in one run.

Writes a CelebA-format folder of 178×218 JPEGs (smooth random images, about the size of real
aligned faces) and measures, each on the same files:

* decoding alone, images per second: the tutorial ``DataLoader`` (``CenterCrop(178)``,
  ``Resize(64)``, ``ToTensor()``; ``num_workers`` 0 and 1 processes) against genzoo's
  ``StreamingLoader`` (``workers`` 0, 1, 2, 3 threads);
* resuming mid-epoch: the time to move past half an epoch, skipped (genzoo) against decoded
  and dropped (what a loader without ``skip`` costs);
* training a 64×64 DCGAN: images per second with the data in memory (the upper bound), and
  streamed with 0, 1 and 2 decoding threads.

Usage: ``python benchmarks/streaming.py [--images 2048] [--quick]``. Figures depend on the
machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def write_faces(root: Path, n: int) -> None:
    from PIL import Image

    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        small = rng.integers(0, 256, size=(14, 11, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((178, 218), Image.Resampling.BICUBIC)
        name = f"{i + 1:06d}.jpg"
        img.save(folder / name, quality=90)
        names.append(name)
    (root / "celeba" / "list_eval_partition.txt").write_text("".join(f"{f} 0\n" for f in names))


def tutorial_loader(root: Path, workers: int, batch_size: int) -> torch.utils.data.DataLoader:
    from PIL import Image
    from torchvision import transforms

    files = sorted((root / "celeba" / "img_align_celeba").iterdir())
    prepare = transforms.Compose([transforms.CenterCrop(178), transforms.Resize(64), transforms.ToTensor()])

    class Faces(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int) -> torch.Tensor:
            with Image.open(files[i]) as img:
                return prepare(img.convert("RGB"))

    return torch.utils.data.DataLoader(Faces(), batch_size=batch_size, shuffle=True, num_workers=workers)


def images_per_s(loader, limit: int | None = None) -> float:
    count, started = 0, time.perf_counter()
    for i, batch in enumerate(loader):
        count += (batch[0] if isinstance(batch, tuple) else batch).shape[0]
        if limit is not None and i + 1 >= limit:
            break
    return count / (time.perf_counter() - started)


def train_rate(loader, steps: int) -> float:
    import genzoo

    model = genzoo.build("dcgan", image_shape=(3, 64, 64), seed=0)
    started = time.perf_counter()
    model.fit(loader, epochs=1, max_steps=steps, progress=False)
    return steps * loader.batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="256 images, fewer configurations")
    args = parser.parse_args()
    n = 256 if args.quick else args.images
    torch.set_num_threads(max(1, torch.get_num_threads()))
    from genzoo.data import InMemoryLoader, StreamingLoader, load_images

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_faces(root, n)
        faces = load_images("celeba", root=root, download=False)
        print(f"{n} CelebA-format JPEGs (178x218 -> 64x64), batch {args.batch_size}, "
              f"{torch.get_num_threads()} torch threads\n")

        print("decoding one epoch, images/s")
        for w in (0, 1):
            rate = images_per_s(tutorial_loader(root, w, args.batch_size))
            print(f"  tutorial DataLoader, num_workers={w}: {rate:8.0f}")
        for w in (0, 1, 2, 3):
            rate = images_per_s(StreamingLoader(faces, batch_size=args.batch_size, workers=w))
            print(f"  genzoo StreamingLoader, workers={w}: {rate:8.0f}")

        loader = StreamingLoader(faces, batch_size=args.batch_size, workers=0)
        half = len(loader) // 2
        started = time.perf_counter()
        it = iter(loader)
        for _ in range(half):
            next(it)
        dropped = time.perf_counter() - started
        started = time.perf_counter()
        iter(loader).skip(half)
        skipped = time.perf_counter() - started
        print(f"\nresuming at batch {half} of {len(loader)}: decoded and dropped {dropped:.2f} s, "
              f"skipped {skipped * 1000:.2f} ms")

        steps = 4 if args.quick else 16
        print(f"\ntraining a 64x64 DCGAN ({steps} steps), images/s")
        in_memory = faces.load()
        rate = train_rate(InMemoryLoader.from_image_set(in_memory, batch_size=args.batch_size), steps)
        print(f"  data in memory (upper bound):       {rate:8.1f}")
        for w in (0, 1, 2):
            rate = train_rate(StreamingLoader(faces, batch_size=args.batch_size, workers=w), steps)
            print(f"  StreamingLoader, workers={w}:         {rate:8.1f}")


if __name__ == "__main__":
    main()
