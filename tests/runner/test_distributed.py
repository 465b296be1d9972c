"""Training in 2 CPU processes with gloo under ``torchrun``: sharding, sync, rank-0 files, resume.

Each test launches ``tests/runner/ddp_train.py`` with ``python -m torch.distributed.run``; every
rank records what it trained on and its final weights in a side folder (``rank{r}.pt``). The
tests' first runs share one launch (:data:`FIRST_RUNS`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

import genzoo
from genzoo.runner import LAST_CHECKPOINT, World

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="torch.distributed with the gloo backend is not available",
)

SCRIPT = Path(__file__).with_name("ddp_train.py")
IMAGES, BATCH = 512, 64
STEPS_PER_EPOCH = IMAGES // BATCH // 2  # a single process takes 8 steps; each of 2 ranks half


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    return env


#: ``cuda`` runs these tests on NCCL, a GPU per process (benchmarks/gpu_check.sh sets it on
#: machines with two GPUs or more); the default is the CPU with gloo.
DEVICE = os.environ.get("GENZOO_TEST_DISTRIBUTED_DEVICE", "cpu")


def script_args(mnist_root: Path, out: Path, record: Path, *args: str) -> list[str]:
    return [str(SCRIPT), *job_args(mnist_root, out, record, *args)]


def job_args(mnist_root: Path, out: Path, record: Path, *args: str) -> list[str]:
    """The script's arguments for one job."""
    return ["--data", str(mnist_root), "--out", str(out), "--record", str(record),
            "--images", str(IMAGES), "--device", DEVICE, *args]


def read_records(record: Path, nproc: int) -> list[dict]:
    assert sorted(p.name for p in record.iterdir()) == [f"rank{r}.pt" for r in range(nproc)]
    return [torch.load(record / f"rank{r}.pt", weights_only=True) for r in range(nproc)]


def launch(mnist_root: Path, out: Path, record: Path, *args: str, nproc: int = 2,
           stderr: list[str] | None = None) -> list[dict]:
    """Run ddp_train.py in ``nproc`` processes (1: without torchrun); return every rank's record.

    ``stderr``, when given, receives the launch's standard error.
    """
    command = [sys.executable, *launcher(nproc), *script_args(mnist_root, out, record, *args)]
    done = subprocess.run(command, env=clean_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    if stderr is not None:
        stderr.append(done.stderr)
    return read_records(record, nproc)


def launcher(nproc: int) -> list[str]:
    """``torchrun``'s arguments for ``nproc`` processes on this machine (none for 1)."""
    if nproc == 1:
        return []
    return ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]


_DATALOADER = ("--model", "gan", "--loader", "dataloader", "--epochs", "2", "--rank-seeds")
_FSDP = ("--model", "gan", "--loader", "in-memory", "--strategy", "fsdp")

#: The first launch of the tests below that train in 2 processes (their only one, or the one
#: that their resumes continue), by name. They are the jobs of one launch, one after the other in
#: the same 2 processes, each with a model, loader and folders of its own: a launch costs about
#: 12 s of CPU time in starting torch alone (the launcher's and each rank's). The script joins the
#: process group for them (see ddp_train.py), so the launches that each test makes itself (the
#: resumes, which must start in new processes, and the NaN stop) are those where ``fit`` creates
#: and destroys the group.
FIRST_RUNS = {
    "in-memory": ("--model", "vae", "--loader", "in-memory", "--epochs", "2"),
    # --rank-seeds: each rank seeds torch differently and fit gets no seed=, so the data order
    # agrees across ranks only because the runner shares rank 0's random stream.
    "dataloader-whole": _DATALOADER,
    "dataloader-stopped": (*_DATALOADER, "--max-steps", "3"),
    "iterable": ("--model", "vae", "--loader", "iterable", "--epochs", "1"),
    "conditional-gan": ("--model", "cgan", "--loader", "in-memory", "--epochs", "1"),
    "ema": ("--model", "vae", "--loader", "in-memory", "--epochs", "2", "--ema", "0.9",
            "--max-norm", "0.5", "--lr-schedule", "cosine"),
    "fsdp-whole": (*_FSDP, "--epochs", "2"),
    "fsdp-stopped": (*_FSDP, "--epochs", "2", "--max-steps", "3"),
}


@dataclass(frozen=True)
class FirstRuns:
    """The launch of :data:`FIRST_RUNS`: each job's run folder, and its ranks' records."""

    folder: Path
    returncode: int
    output: str

    def out(self, name: str) -> Path:
        """The run folder of job ``name``."""
        return self.folder / name / "run"

    def records(self, name: str) -> list[dict]:
        """Job ``name``'s record of each rank (the launch's output if it wrote none)."""
        record = self.folder / name / "record"
        written = sorted(p.name for p in record.iterdir()) if record.is_dir() else []
        assert written == ["rank0.pt", "rank1.pt"], (
            f"job {name!r} of the shared launch (exit status {self.returncode}) left records "
            f"{written}:\n{self.output[-8000:]}")
        return read_records(record, 2)


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory, mnist_root) -> FirstRuns:
    """:data:`FIRST_RUNS`, launched once (the module runs on one worker: conftest.py)."""
    folder = tmp_path_factory.mktemp("first_runs")
    command = [sys.executable, *launcher(2), str(SCRIPT)]
    for number, (name, args) in enumerate(FIRST_RUNS.items()):
        command += [*(["--then"] if number else []),
                    *job_args(mnist_root, folder / name / "run", folder / name / "record", *args)]
    try:
        done = subprocess.run(command, env=clean_env(), capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as err:
        return FirstRuns(folder, -1, f"timed out after {err.timeout} s:\n{err.stdout}\n{err.stderr}")
    return FirstRuns(folder, done.returncode, f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}")


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def assert_ranks_in_sync(records: list[dict]) -> None:
    """Both ranks end with the same parameters and buffers (batch-norm statistics too)."""
    assert [r["rank"] for r in records] == [0, 1] and all(r["world_size"] == 2 for r in records)
    assert_same_weights(records[0]["state_dict"], records[1]["state_dict"])


def assert_epochs_partition_data(records: list[dict], data_sums: torch.Tensor, epochs: int) -> None:
    """In every epoch the two ranks train on disjoint halves that together are the data set."""
    for record in records:
        assert len(record["seen"]) == epochs * STEPS_PER_EPOCH
        assert all(len(sums) == BATCH for sums in record["seen"])
    expected = data_sums.sort().values
    for e in range(epochs):
        shares = [torch.cat(r["seen"][e * STEPS_PER_EPOCH:(e + 1) * STEPS_PER_EPOCH]) for r in records]
        assert len(set(shares[0].tolist()) & set(shares[1].tolist())) == 0, f"epoch {e}: ranks overlap"
        torch.testing.assert_close(torch.cat(shares).sort().values, expected, rtol=0, atol=1e-9)


def metrics_epochs(run: Path) -> list[int]:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [m["epoch"] for m in lines if not m.get("partial")]


def weights_differ(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


@pytest.fixture(scope="module")
def data_sums(mnist_train) -> torch.Tensor:
    """Each training image's pixel sum, as the script's ranks record them."""
    return mnist_train[:IMAGES].to(torch.float32).div(255).double().flatten(1).sum(1)


def test_in_memory_loader_trains_in_sync_writes_on_rank0_and_resumes(tmp_path, mnist_root, data_sums,
                                                                      first_runs):
    run = first_runs.out("in-memory")
    first = first_runs.records("in-memory")

    assert_ranks_in_sync(first)
    assert_same_weights(first[0]["initial"], first[1]["initial"])
    assert weights_differ(first[0]["initial"], first[0]["state_dict"])
    assert_epochs_partition_data(first, data_sums, epochs=2)  # InMemoryLoader.shard
    assert [(r["result_epochs"], r["result_steps"]) for r in first] == [(2, 2 * STEPS_PER_EPOCH)] * 2

    # Rank 0 alone wrote the run folder: one metrics line per epoch, each grid once.
    assert first[0]["result_out"] == str(run) and first[1]["result_out"] is None
    assert metrics_epochs(run) == [1, 2]
    assert sorted(p.name for p in (run / "grids").iterdir()) == [
        "reconstructions_epoch_0001.png", "reconstructions_final.png",
        "samples_epoch_0001.png", "samples_final.png"]
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert (payload["epoch"], payload["step"], payload["batch_in_epoch"]) == (2, 2 * STEPS_PER_EPOCH, 0)
    assert_same_weights(genzoo.load(run / LAST_CHECKPOINT).state_dict(), first[0]["state_dict"])

    # Resume from rank 0's checkpoint in a new 2-process launch.
    resumed = launch(mnist_root, run, tmp_path / "resumed", "--model", "vae", "--loader", "in-memory",
                     "--epochs", "3", "--resume")
    assert_ranks_in_sync(resumed)
    for record in resumed:
        assert record["history_epochs"] == [3]
        assert (record["result_epochs"], record["result_steps"]) == (3, 3 * STEPS_PER_EPOCH)
    assert_epochs_partition_data(resumed, data_sums, epochs=1)
    assert weights_differ(first[0]["state_dict"], resumed[0]["state_dict"])
    assert metrics_epochs(run) == [1, 2, 3]
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert (payload["epoch"], payload["step"]) == (3, 3 * STEPS_PER_EPOCH)
    assert_same_weights(genzoo.load(run / LAST_CHECKPOINT).state_dict(), resumed[0]["state_dict"])


def test_dataloader_sharded_by_sampler_with_batch_norm_and_mid_epoch_resume(tmp_path, mnist_root, data_sums,
                                                                            first_runs):
    whole = first_runs.records("dataloader-whole")
    assert_ranks_in_sync(whole)
    assert any("running_mean" in k for k in whole[0]["state_dict"])  # batch norm buffers compared
    assert weights_differ(whole[0]["initial"], whole[0]["state_dict"])
    assert_epochs_partition_data(whole, data_sums, epochs=2)  # World.shard's ShardSampler
    assert metrics_epochs(first_runs.out("dataloader-whole")) == [1, 2]

    run = first_runs.out("dataloader-stopped")
    stopped = first_runs.records("dataloader-stopped")  # --max-steps 3
    assert_ranks_in_sync(stopped)
    assert [len(r["seen"]) for r in stopped] == [3, 3]
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert (payload["epoch"], payload["step"], payload["batch_in_epoch"]) == (0, 3, 3)

    resumed = launch(mnist_root, run, tmp_path / "resumed_rec", *_DATALOADER, "--resume")
    assert_ranks_in_sync(resumed)
    for before, after, reference in zip(stopped, resumed, whole):
        assert (after["result_epochs"], after["result_steps"]) == (2, 2 * STEPS_PER_EPOCH)
        # The resumed run finished the interrupted epoch's order, then drew the next one alike.
        seen = before["seen"] + after["seen"]
        assert len(seen) == len(reference["seen"])
        assert all(torch.equal(a, b) for a, b in zip(seen, reference["seen"]))
    assert metrics_epochs(run) == [1, 2]
    assert_same_weights(genzoo.load(run / LAST_CHECKPOINT).state_dict(), resumed[0]["state_dict"])
    # every rank's noise stream was checkpointed too: the same weights as the uninterrupted run
    assert_same_weights(resumed[0]["state_dict"], whole[0]["state_dict"])


def test_iterable_without_len_is_sharded(data_sums, first_runs):
    records = first_runs.records("iterable")
    assert_ranks_in_sync(records)
    assert_epochs_partition_data(records, data_sums, epochs=1)
    assert metrics_epochs(first_runs.out("iterable")) == [1]


def test_class_conditional_gan_with_ema_and_critic_steps_stays_in_sync(data_sums, first_runs):
    # Its critic calls the discriminator's layers one by one and a label embedding outside the
    # discriminator; every other step trains the critic only (the generator runs without
    # gradients); the EMA generator is updated after each generator step. DDP must average
    # every trained parameter all the same.
    records = first_runs.records("conditional-gan")
    assert_ranks_in_sync(records)
    for prefix in ("discriminator.", "label_projection.", "generator.", "ema_generator."):
        assert weights_differ({k: v for k, v in records[0]["initial"].items() if k.startswith(prefix)},
                              records[0]["state_dict"]), f"{prefix} did not train"
    assert_epochs_partition_data(records, data_sums, epochs=1)


def test_ema_clipping_and_schedule_in_two_processes(first_runs):
    run = first_runs.out("ema")
    records = first_runs.records("ema")  # --ema 0.9 --max-norm 0.5 --lr-schedule cosine
    assert_ranks_in_sync(records)  # both ranks hold the same average after fit
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert payload["ema"]["updates"] == 2 * STEPS_PER_EPOCH
    assert_same_weights(payload["ema"]["state_dict"], records[0]["state_dict"])
    assert weights_differ(payload["state_dict"], payload["ema"]["state_dict"])
    assert_same_weights(genzoo.load(run / LAST_CHECKPOINT).state_dict(), records[0]["state_dict"])
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["lr_vae"] == 0.0 and last["grad_norm_vae"] > 0.5  # clipped from above 0.5


def test_fsdp_sharded_checkpoint_resumes_exactly_and_in_another_number_of_processes(
        tmp_path, mnist_root, first_runs):
    common = _FSDP
    whole = first_runs.records("fsdp-whole")  # 2 epochs
    assert weights_differ(whole[0]["initial"], whole[0]["state_dict"])

    # Stopped mid-epoch (--max-steps 3): every rank wrote its shards; last.pt holds the whole weights.
    run = first_runs.out("fsdp-stopped")
    first_runs.records("fsdp-stopped")
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert (payload["epoch"], payload["step"], payload["batch_in_epoch"]) == (0, 3, 3)
    assert (payload["strategy"], payload["world_size"], payload["optimizers"]) == ("fsdp", 2, None)
    shards = run / "checkpoints" / payload["sharded"]
    assert sorted(p.name for p in shards.iterdir()) == [".metadata", "__0_0.distcp", "__1_0.distcp"]

    # Resumed in 2 processes: the same weights as the uninterrupted run, bit for bit.
    resumed = launch(mnist_root, run, tmp_path / "resumed_rec", *common, "--epochs", "2", "--resume")
    assert_same_weights(resumed[0]["state_dict"], whole[0]["state_dict"])
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert [p.name for p in (run / "checkpoints" / "sharded").iterdir()] == ["step_000000008"]
    # the consolidated checkpoint loads in this single process
    assert_same_weights(genzoo.load(run / LAST_CHECKPOINT).state_dict(), whole[0]["state_dict"])

    # 2 -> 1: the sharded checkpoint loads into one plain process, which says what is exact.
    said: list[str] = []
    single = launch(mnist_root, run, tmp_path / "single_rec", *common, "--epochs", "3",
                    "--resume", nproc=1, stderr=said)
    assert "written by a run in 2 process(es) and resumes in 1" in said[0]
    assert weights_differ(whole[0]["state_dict"], single[0]["state_dict"])
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert (payload["epoch"], payload["step"], payload["world_size"]) == (3, 16, 1)
    assert set(payload["optimizers"]) == {"discriminator", "generator"}
    assert not list((run / "checkpoints" / "sharded").iterdir())  # no stale shards left

    # 1 -> 2: a whole checkpoint loads into a sharded run.
    said = []
    back = launch(mnist_root, run, tmp_path / "back_rec", *common, "--epochs", "4", "--resume",
                  stderr=said)
    assert "written by a run in 1 process(es) and resumes in 2" in said[0]
    assert weights_differ(single[0]["state_dict"], back[0]["state_dict"])
    payload = torch.load(run / LAST_CHECKPOINT, weights_only=True)
    assert (payload["epoch"], payload["step"], payload["world_size"]) == (4, 20, 2)
    assert_same_weights(genzoo.load(run / LAST_CHECKPOINT).state_dict(), back[0]["state_dict"])


def test_two_nodes_on_the_loopback_address(tmp_path, mnist_root, data_sums):
    # Two torchrun launchers, one process each, meeting through a c10d rendezvous on
    # 127.0.0.1, as two machines would over their network.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    record = tmp_path / "rec"
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node-rank={node}",
         "--nproc-per-node=1", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}",
         "--rdzv-id=genzoo-test", "--rdzv-conf", f"is_host={int(node == 0)}",
         *script_args(mnist_root, tmp_path / "run", record, "--model", "vae", "--epochs", "1")],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for node in (0, 1)]
    outputs = [node.communicate(timeout=180)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(o[-4000:] for o in outputs)
    records = read_records(record, 2)
    assert_ranks_in_sync(records)
    assert_epochs_partition_data(records, data_sums, epochs=1)
    assert metrics_epochs(tmp_path / "run") == [1]


class Recording(torch.utils.data.Dataset):
    """Indices 0..n-1 as the items, remembering which were loaded."""

    def __init__(self, n: int) -> None:
        self.n, self.loaded = n, []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        self.loaded.append(index)
        return torch.tensor(index)


def rank_shares(shuffle: bool, seed: int) -> list[list[int]]:
    """What each of 3 ranks loads of a 20-item data set in one epoch, checking it loads no more."""
    shares = []
    for rank in range(3):
        data = Recording(20)
        loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=shuffle, num_workers=0)
        torch.manual_seed(seed)  # the stream every rank shares when an epoch starts
        share = World(rank=rank, size=3).shard(loader)
        batches = [b.tolist() for b in share]
        assert len(share) == len(batches) == 2  # 6 samples each: batches of 4 and 2
        assert sorted(data.loaded) == sorted(sum(batches, []))  # loaded its own samples only
        shares.append(sum(batches, []))
    return shares


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_dataloader_is_resharded_so_each_rank_loads_only_its_samples(shuffle):
    shares = rank_shares(shuffle, seed=5)
    assert len(set(sum(shares, []))) == 18  # disjoint; the 20 % 3 left over are skipped
    assert rank_shares(shuffle, seed=5) == shares  # the shared stream decides the order
    if shuffle:
        assert rank_shares(shuffle, seed=6) != shares
    else:
        assert shares == [list(range(r, 18, 3)) for r in range(3)]  # DistributedSampler's order


def test_a_nan_loss_on_one_rank_stops_every_rank(tmp_path, mnist_root):
    records = launch(mnist_root, tmp_path / "run", tmp_path / "record", "--model", "vae",
                     "--loader", "in-memory", "--epochs", "2", "--nan-on-rank", "1",
                     "--nan-at-step", "2")
    assert "'loss' became nan at step 2" in records[1]["error"]
    assert "on another process" in records[0]["error"]
    assert not (tmp_path / "run" / LAST_CHECKPOINT).exists()  # epoch 1 ended after the NaN
