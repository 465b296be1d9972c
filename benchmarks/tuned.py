"""Baseline B: the fastest hand-written loop we could write for the seed models on a CPU.

The data set as one ``uint8`` tensor, shuffled by index and converted per batch; losses from
logits; one discriminator pass over real and generated images together; the generator's
backward restricted to its own weights; fused Adam; no host synchronisation per step.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from classic import VAE, bf16_autocast


def _images(root: str) -> torch.Tensor:
    from torchvision import datasets

    return datasets.MNIST(root, train=True, download=False).data.unsqueeze(1)  # uint8 N×1×28×28


def _generator() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(100, 128), nn.LeakyReLU(0.2),
        nn.Linear(128, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.2),
        nn.Linear(512, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),
        nn.Linear(1024, 784), nn.Tanh())


def _discriminator() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                         nn.LeakyReLU(0.2), nn.Linear(256, 1))


def _batches(images: torch.Tensor, batch_size: int):
    for index in torch.randperm(images.shape[0], device=images.device).split(batch_size):
        yield images[index]


def train_gan(root: str, batch_size: int, max_steps: int | None, bf16: bool,
              device: str = "cpu") -> tuple[int, float]:
    images = _images(root).to(device)
    g, d = _generator().to(device), _discriminator().to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    g_params = list(g.parameters())
    cast = bf16_autocast(device, bf16)
    seen, start = 0, time.perf_counter()
    for step, raw in enumerate(_batches(images, batch_size)):
        if max_steps is not None and step >= max_steps:
            break
        n = raw.shape[0]
        real = raw.view(n, -1).float().mul_(2 / 255).sub_(1)
        with cast():
            fake = g(torch.randn(n, 100, device=device))
            logits = d(torch.cat([real, fake.detach()]))
            d_loss = F.softplus(-logits[:n]).mean() + F.softplus(logits[n:]).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with cast():
            g_loss = F.softplus(-d(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward(inputs=g_params)
        opt_g.step()
        seen += n
    float(d_loss.detach())  # one synchronisation at the end
    return seen, time.perf_counter() - start


def train_vae(root: str, batch_size: int, max_steps: int | None, bf16: bool,
              device: str = "cpu") -> tuple[int, float]:
    images = _images(root).to(device)
    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    cast = bf16_autocast(device, bf16)
    seen, start = 0, time.perf_counter()
    for step, raw in enumerate(_batches(images, batch_size)):
        if max_steps is not None and step >= max_steps:
            break
        x = raw.view(raw.shape[0], -1).float().div_(255)
        with cast():
            h = torch.relu(model.fc1(x))
            mu, logvar = model.fc21(h), model.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            logits = model.fc4(torch.relu(model.fc3(z)))
        loss = (F.binary_cross_entropy_with_logits(logits.float(), x, reduction="sum")
                - 0.5 * torch.sum(1 + logvar.float() - mu.float().pow(2) - logvar.float().exp()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += x.shape[0]
    float(loss.detach())
    return seen, time.perf_counter() - start
