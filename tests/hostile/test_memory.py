"""Hostile inputs: memory estimates that hold, against the memory this process may really use.

The estimates count what sampling and training really need (measured; see
:mod:`genzoo.memory`), against the smallest of physical memory, the cgroup's limit and
``ulimit -v``; an out-of-memory error that still happens is one line, with the last checkpoint
intact; a ``--batch-size`` larger than the data set is said.
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

import pytest

import genzoo
import genzoo.memory as memory
from tests.cli import FAST, TINY_VAE

from . import Case, copy_run, files_of, run_case
from .casework import hostile_base  # noqa: F401 (a fixture)

GB = 10**9


def _fake_cgroup(fx: dict[str, Any], tmp: Path, limit: int, *, version: int = 2) -> None:
    """Make this process's cgroup (as genzoo reads it) have a memory limit of ``limit`` bytes."""
    root = tmp / "cgroup"
    if version == 2:
        (root / "box").mkdir(parents=True)
        (root / "box" / "memory.max").write_text(f"{limit}\n")
        (root / "memory.max").write_text("max\n")
        (tmp / "proc_cgroup").write_text("0::/box\n")
    else:
        (root / "memory" / "box" / "inner").mkdir(parents=True)
        (root / "memory" / "box" / "memory.limit_in_bytes").write_text(f"{limit}\n")
        (root / "memory" / "box" / "inner" / "memory.limit_in_bytes").write_text(f"{2**63 - 4096}\n")
        (tmp / "proc_cgroup").write_text("4:memory:/box/inner\n1:cpu:/\n")
    fx["monkeypatch"].setattr(memory, "CGROUP_ROOT", root)
    fx["monkeypatch"].setattr(memory, "PROC_CGROUP", tmp / "proc_cgroup")


def _cgroup(limit_over_rss: int, version: int = 2) -> Any:
    def setup(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
        _fake_cgroup(fx, tmp, memory._resident() + limit_over_rss, version=version)
        copy_run(fx["vae_run"], tmp / "run")
        return {"color40": fx["color40"], "before": files_of(tmp / "run")}
    return setup


def _address_space(limit_over_vm: int) -> Any:
    def setup(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
        soft = memory._status_kb("VmSize") + limit_over_vm
        real = resource.getrlimit
        fx["monkeypatch"].setattr(resource, "getrlimit", lambda which: (
            (soft, resource.RLIM_INFINITY) if which == resource.RLIMIT_AS else real(which)))
        copy_run(fx["vae_run"], tmp / "run")
        return {"before": files_of(tmp / "run")}
    return setup


def _oom_in_training(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    """The shared run, resumed; the second step of its next epoch (before any new checkpoint)
    fails to allocate as torch's CPU allocator does when memory runs out."""
    from genzoo_vae.model import VAE

    real, calls = VAE.training_step, [0]

    def training_step(self: Any, batch: Any, step: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                               "can't allocate memory: you tried to allocate 6000000000 bytes.")
        return real(self, batch, step)

    fx["monkeypatch"].setattr(VAE, "training_step", training_step)
    copy_run(fx["vae_run"], tmp / "run")
    return {"checkpoint": (tmp / "run" / "checkpoints" / "last.pt").read_bytes()}


def _checkpoint_intact(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert (tmp / "run" / "checkpoints" / "last.pt").read_bytes() == values["checkpoint"]
    assert '"reason": "out of memory"' in (tmp / "run" / "metrics.jsonl").read_text()


def _oom_in_sampling(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    from genzoo_vae.model import VAE

    def sample(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise MemoryError()

    fx["monkeypatch"].setattr(VAE, "sample", sample)
    return {"ckpt": fx["vae_run"] / "checkpoints" / "last.pt"}


def _nothing_written(tmp: Path, values: dict[str, Any], result: Any) -> None:
    assert not (tmp / "s.png").exists()
    if "before" in values:
        assert files_of(tmp / "run") == values["before"]


def _shared(tmp: Path, fx: dict[str, Any]) -> dict[str, Any]:
    return {"color40": fx["color40"]}


_SAMPLE = ("sample", "run/checkpoints/last.pt", "-o", "s.png")

CASES = [
    # the shared tiny vae's 3x40x40 images: 20,000 need about 1.5 GB for a grid (4 times their
    # 384 MB), 50,000 about 3.8 GB
    Case("sample-beyond-a-cgroup-v2-limit", (*_SAMPLE, "-n", "50000"), "error",
         ("-n 50000 images of 3x40x40", "memory.max", "draw at most"),
         setup=_cgroup(1 * GB), after=_nothing_written),
    Case("sample-beyond-a-cgroup-v1-parent-limit", (*_SAMPLE, "-n", "50000"), "error",
         ("-n 50000 images", "memory.limit_in_bytes"),
         setup=_cgroup(1 * GB, version=1), after=_nothing_written),
    Case("sample-beyond-ulimit-v", (*_SAMPLE, "-n", "50000"), "error",
         ("-n 50000 images", "ulimit -v"), setup=_address_space(1 * GB), after=_nothing_written),
    Case("sample-the-estimate-counts-the-grid", (*_SAMPLE, "-n", "20000"), "error",
         ("-n 20000 images", "need about 1.5 GB"), setup=_cgroup(GB // 2),
         after=_nothing_written),
    Case("train-beyond-a-cgroup-limit",
         ("train", "vae", "--data", "{color40}", "--image-size", "28", "--channels", "1",
          "--out", "big", "--set", "hidden_dim=30000", "--set", "latent_dim=4", *FAST), "error",
         ("training", "189.8 MB of weights", "optimizer", "memory.max"),
         setup=_cgroup(6 * GB // 10),
         after=lambda tmp, values, result: not (tmp / "big" / "checkpoints").exists()),
    Case("out-of-memory-in-training-keeps-the-checkpoint",
         ("train", "--resume", "run", "--epochs", "3"), "error",
         ("ran out of memory", "can't allocate memory", "last good checkpoint", "is intact",
          "--batch-size"), setup=_oom_in_training, after=_checkpoint_intact),
    Case("out-of-memory-in-sampling", ("sample", "{ckpt}", "-n", "16", "-o", "s.png"), "error",
         ("ran out of memory", "nothing was written", "-n"), setup=_oom_in_sampling,
         after=_nothing_written),
    Case("batch-size-larger-than-the-data",
         ("train", "vae", "--data", "{color40}", "--out", "r", "--epochs", "1", "--grid-every",
          "0", "--device", "cpu", "--no-progress", "--batch-size", "100", *TINY_VAE), "ok",
         ("Warning: --batch-size 100 is larger than the 24 images", "one step an epoch"),
         setup=_shared),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_memory(case: Case, tmp_path: Path, hostile_base: dict[str, Any],  # noqa: F811
                monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, tmp_path, hostile_base, monkeypatch)


def test_the_smallest_limit_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cgroup({"monkeypatch": monkeypatch}, tmp_path, 3 * GB, version=1)
    limit = memory.memory_limit()
    assert limit is not None and limit.limit == 3 * GB and "memory.limit_in_bytes" in limit.source
    _fake_cgroup({"monkeypatch": monkeypatch}, tmp_path / "v2", 2 * GB)
    assert memory.memory_limit().limit == 2 * GB


def test_the_sampling_estimate_is_not_below_what_was_measured() -> None:
    """Peak resident memory over a baseline, measured with ``resource.getrusage`` (2-core CPU,
    ``genzoo sample -n 20000``): vae and gan 8.9–9.1 times the images' float32 size for a grid,
    2.0–3.4 for a folder; dcgan and conv-vae 28 times either way."""
    for name, grid, measured in (("vae", True, 8.95), ("gan", True, 9.1), ("vae", False, 1.96),
                                 ("gan", False, 3.41), ("dcgan", True, 28.1), ("conv-vae", True, 28.0)):
        model = genzoo.build(name, seed=0)
        estimate = memory.sample_memory(model, 20_000, grid=grid) / (20_000 * 784 * 4)
        assert measured * 0.95 <= estimate <= measured * 2, (name, grid, estimate)
