"""Write a model of your own, register it at run time, and train it through genzoo's runner.

The model is a mixture of Bernoulli images: each image comes from one of ``components``
pixel-probability maps (a classic, tiny generative model). It subclasses
:class:`genzoo.GenerativeModel`, so it needs only a config dataclass, its layers, latent
sampling, decoding, its optimizers and one training step; the runner does the rest
(device, checkpoints, grids, logs, resume). :func:`genzoo.register_plugin` makes it buildable
by name in this process, exactly as an installed plugin's model is.

Usage::

    python examples/write_a_plugin.py                     # 5 epochs into runs/examples/mixture
    python examples/write_a_plugin.py --epochs 1 --limit 2048 --out /tmp/mixture
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.utils import save_image

import genzoo
from genzoo.data import InMemoryLoader, load_images


@dataclass(frozen=True)
class MixtureConfig:
    """The model's settings; ``genzoo.build(name, **settings)`` checks them against these types."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    components: int = 32
    lr: float = 0.05


class BernoulliMixture(genzoo.GenerativeModel):
    """``components`` images of pixel probabilities, and how often each is used."""

    Config = MixtureConfig

    def __init__(self, config: MixtureConfig | None = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        k, shape = self.config.components, self.config.image_shape
        self.pixel_logits = nn.Parameter(0.1 * torch.randn(k, *shape))
        self.mixture_logits = nn.Parameter(torch.zeros(k))

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """The latent code of an image is the component it comes from (drawn on the CPU)."""
        weights = self.mixture_logits.detach().softmax(0).cpu()
        return torch.multinomial(weights, n, replacement=True, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Each component's mean image, in ``[0, 1]``."""
        return torch.sigmoid(self.pixel_logits[z])

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"mixture": torch.optim.Adam(self.parameters(), lr=self.config.lr)}

    def training_step(self, batch: genzoo.Batch, step: genzoo.StepContext) -> dict[str, torch.Tensor]:
        x = batch.images.flatten(1).round()  # binarised pixels, N x P
        logits = self.pixel_logits.flatten(1)  # K x P
        # log p(x | k) = sum over pixels of x*l - softplus(l), for every image and component
        log_p_x_given_k = x @ logits.T - F.softplus(logits).sum(1)
        log_p_x = torch.logsumexp(log_p_x_given_k + self.mixture_logits.log_softmax(0), dim=1)
        nll = -log_p_x.mean() / x.shape[1]  # negative log-likelihood per pixel, in nats
        step.optimize(nll, "mixture")  # the runner does backward and the optimizer step
        return {"nll": nll.detach()}


class MixturePlugin:
    """A plugin is any object with hook implementations; this one registers one model."""

    @genzoo.hookimpl
    def genzoo_register_models(self, register: Any) -> None:
        register("bernoulli-mixture", BernoulliMixture,
                 summary="Mixture of Bernoulli images (examples/write_a_plugin.py)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a model defined in this script.")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--components", type=int, default=32)
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--out", default="runs/examples/mixture", help="the run folder")
    args = parser.parse_args(argv)

    genzoo.register_plugin(MixturePlugin(), name="mixture-example")
    print("models:", ", ".join(genzoo.list_models()))

    model = genzoo.build("bernoulli-mixture", components=args.components, seed=0)
    loader = InMemoryLoader(load_images("mnist").images[: args.limit], batch_size=128)
    result = model.fit(loader, epochs=args.epochs, out=args.out, seed=0,
                       max_steps=args.max_steps)
    print(f"trained to epoch {result.epochs} ({result.steps} steps): "
          f"nll {result.metrics['nll']:.4f} nats per pixel")

    # The checkpoint names the model, so genzoo.load rebuilds it through the plugin.
    loaded = genzoo.load(result.checkpoint)
    components = torch.arange(args.components)
    save_image(loaded.generate(components), Path(args.out) / "components.png", nrow=8)
    print("grids:", *[str(path) for path in result.grids], sep="\n  ")
    print("components:", Path(args.out) / "components.png")


if __name__ == "__main__":
    main()
