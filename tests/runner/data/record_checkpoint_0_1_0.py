"""Records tests/runner/data/checkpoint_0_1_0/: a run checkpoint written by genzoo 0.1.0 as it was
before the run state got its type (commit 0ec05af), and the weights (the EMA's, as fit leaves them) the same run reaches
uninterrupted, so that tests/runner/test_old_checkpoints.py shows that such a checkpoint still
loads and resumes exactly. Run from a checkout of that commit:

    python tests/runner/data/record_checkpoint_0_1_0.py OUT_FOLDER

A conditional VAE with a weight EMA and a warmed-up cosine schedule, stopped mid-epoch (so the
checkpoint holds the epoch's start random states and a position in it).
"""

import shutil
import sys
import tempfile
from pathlib import Path

import torch

import genzoo
from genzoo.data import InMemoryLoader

CONFIG = dict(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=4, num_classes=3)
RUN = dict(seed=5, ema=0.9, lr_schedule="cosine", warmup_steps=2, progress=False, grid_size=4)


def loader() -> InMemoryLoader:
    """40 images in 5 batches of 8, shuffled (the order comes from the saved random states)."""
    gen = torch.Generator().manual_seed(11)
    images = torch.rand(40, 1, 8, 8, generator=gen)
    labels = torch.randint(0, 3, (40,), generator=gen)
    return InMemoryLoader(images, labels, batch_size=8, shuffle=True)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stopped = genzoo.build("vae", seed=0, **CONFIG)
        stopped.fit(loader(), epochs=3, out=f"{tmp}/stopped", max_steps=7, **RUN)
        shutil.copy(f"{tmp}/stopped/checkpoints/last.pt", target / "last.pt")
        whole = genzoo.build("vae", seed=0, **CONFIG)
        whole.fit(loader(), epochs=3, out=f"{tmp}/whole", **RUN)
        torch.save({"weights": whole.state_dict(), "version": genzoo.__version__},
                   target / "uninterrupted.pt")
    print(sorted(torch.load(target / "last.pt", weights_only=True)))
