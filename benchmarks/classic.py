"""Baseline A: the classic hand-written training loop most tutorials use for the seed models.

torchvision MNIST through ``ToTensor()``/``Normalize`` and a shuffling ``DataLoader``, a sigmoid
output with ``BCELoss``, ``zero_grad()``, default Adam, the losses read with ``.item()`` every
step for logging. Written here as a user would, not through genzoo.
"""

from __future__ import annotations

import contextlib
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()

        def block(i: int, o: int, normalize: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Linear(i, o)]
            if normalize:
                layers.append(nn.BatchNorm1d(o))
            layers.append(nn.LeakyReLU(0.2))
            return layers

        self.model = nn.Sequential(*block(100, 128, normalize=False), *block(128, 256),
                                   *block(256, 512), *block(512, 1024), nn.Linear(1024, 784), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(z.size(0), 1, 28, 28)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                                   nn.LeakyReLU(0.2), nn.Linear(256, 1), nn.Sigmoid())

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img.view(img.size(0), -1))


class VAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(torch.relu(self.fc3(z)))), mu, logvar


def bf16_autocast(device: str, bf16: bool):
    """A factory of bfloat16 autocast contexts on ``device`` (of null contexts without bf16)."""
    if not bf16:
        return contextlib.nullcontext
    return lambda: torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def _loader(root: str, batch_size: int, normalize: bool) -> DataLoader:
    steps = [transforms.ToTensor()] + ([transforms.Normalize([0.5], [0.5])] if normalize else [])
    data = datasets.MNIST(root, train=True, download=False, transform=transforms.Compose(steps))
    return DataLoader(data, batch_size=batch_size, shuffle=True)


def train_gan(root: str, batch_size: int, max_steps: int | None, bf16: bool,
              device: str = "cpu") -> tuple[int, float]:
    """Train the classic loop for one epoch (or ``max_steps``); return images seen and seconds."""
    loader = _loader(root, batch_size, normalize=True)
    generator, discriminator = Generator().to(device), Discriminator().to(device)
    bce = nn.BCELoss()
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    cast = bf16_autocast(device, bf16)
    seen, start = 0, time.perf_counter()
    for step, (imgs, _) in enumerate(loader):
        if max_steps is not None and step >= max_steps:
            break
        imgs = imgs.to(device)
        valid = torch.ones(imgs.size(0), 1, device=device)
        fake = torch.zeros(imgs.size(0), 1, device=device)
        opt_g.zero_grad()
        z = torch.randn(imgs.size(0), 100, device=device)
        with cast():
            gen_imgs = generator(z)
            judged = discriminator(gen_imgs)
        g_loss = bce(judged.float(), valid)
        g_loss.backward()
        opt_g.step()
        opt_d.zero_grad()
        with cast():
            real_judged = discriminator(imgs)
            fake_judged = discriminator(gen_imgs.detach())
        d_loss = (bce(real_judged.float(), valid) + bce(fake_judged.float(), fake)) / 2
        d_loss.backward()
        opt_d.step()
        _log = (d_loss.item(), g_loss.item())
        seen += imgs.size(0)
    return seen, time.perf_counter() - start


def train_vae(root: str, batch_size: int, max_steps: int | None, bf16: bool,
              device: str = "cpu") -> tuple[int, float]:
    """Train the classic VAE loop for one epoch (or ``max_steps``)."""
    loader = _loader(root, batch_size, normalize=False)
    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    cast = bf16_autocast(device, bf16)
    seen, start = 0, time.perf_counter()
    for step, (data, _) in enumerate(loader):
        if max_steps is not None and step >= max_steps:
            break
        data = data.to(device)
        optimizer.zero_grad()
        with cast():
            recon, mu, logvar = model(data)
        bce = nn.functional.binary_cross_entropy(recon.float(), data.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar.float() - mu.float().pow(2) - logvar.float().exp())
        loss = bce + kld
        loss.backward()
        optimizer.step()
        _log = loss.item()
        seen += data.size(0)
    return seen, time.perf_counter() - start
