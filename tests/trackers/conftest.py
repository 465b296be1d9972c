"""A real MLflow tracking server for the tracker tests, and small runs to log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import genzoo

#: How long a server may take to answer (under load, ``mlflow server`` takes 10 to 30 s to
#: create its database and start).
START_SECONDS = 180


def free_port() -> int:
    """A TCP port nothing listens on (just now) on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a SQLite store and proxied artifacts in ``folder``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.uri = f"http://127.0.0.1:{free_port()}"
        self.log = folder / "server.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
                 "--port", self.uri.rsplit(":", 1)[1], "--workers", "1",
                 "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                 "--artifacts-destination", str(folder / "artifacts")],
                cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self) -> None:
        """Wait until the server answers ``/health``."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server exited ({self.process.returncode}):\n"
                            f"{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.kill()
        pytest.fail(f"mlflow server did not answer in {START_SECONDS} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """Kill the server (its process group: uvicorn and its workers) and wait for it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MlflowServer, MlflowServer]]:
    """Two servers, started side by side: one the module's tests share, and one a test kills."""
    base = tmp_path_factory.mktemp("mlflow")
    started = (MlflowServer(base / "shared"), MlflowServer(base / "doomed"))
    try:
        for server in started:
            server.wait()
        yield started
    finally:
        for server in started:
            server.kill()


@pytest.fixture(scope="module")
def server(servers: tuple[MlflowServer, MlflowServer]) -> MlflowServer:
    """The module's shared MLflow server."""
    return servers[0]


@pytest.fixture
def batches() -> list[torch.Tensor]:
    """Four batches of eight random 28×28 images: an epoch of four steps."""
    generator = torch.Generator().manual_seed(0)
    return [torch.rand(8, 1, 28, 28, generator=generator) for _ in range(4)]


def tiny_vae() -> genzoo.GenerativeModel:
    """A VAE small enough to train a few steps in well under a second."""
    return genzoo.build("vae", hidden_dim=8, latent_dim=2, seed=0)


#: Run options the tracker tests share: CPU, a log line every two steps, small grids.
QUICK = {"device": "cpu", "log_every": 2, "grid_size": 4, "progress": False}
