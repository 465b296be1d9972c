"""Run folders: never replaced, one run at a time (a lock), the data order checked on resume,
dead writers' temporary files removed, files that cannot be written ending in one clear error."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import genzoo
from genzoo.data import InMemoryLoader
from genzoo.errors import CheckpointError, RunFolderError
from genzoo.runner import LAST_CHECKPOINT
from genzoo.checkpoint import temp_checkpoint_prefix
from genzoo.runner.runfolder import RunFolder, clean_stale_temps, holds_run


def tiny() -> genzoo.GenerativeModel:
    return genzoo.build("vae", seed=0, hidden_dim=16, latent_dim=2)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def fit(model, data, out, **options):
    options.setdefault("progress", False)
    options.setdefault("grid_every", 0)
    return model.fit(data, out=out, device="cpu", **options)


def test_a_new_run_never_replaces_one(tmp_path, images):
    out = tmp_path / "run"
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=1, seed=0)
    before = {name: (out / name).read_bytes() for name in holds_run(out)}
    assert set(before) == {"checkpoints/last.pt", "run.json", "metrics.jsonl"}
    with pytest.raises(RunFolderError, match="already holds a run .*--resume"):
        fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=2, seed=1)
    assert {name: (out / name).read_bytes() for name in holds_run(out)} == before
    # a resume may use it; a folder with unrelated files only is not a run
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=2, resume="auto")
    # ... but not from another folder's checkpoint: that would replace this run
    elsewhere = tmp_path / "elsewhere"
    fit(tiny(), InMemoryLoader(images, batch_size=16), elsewhere, epochs=1)
    with pytest.raises(RunFolderError, match="already holds a run"):
        fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=3,
            resume=str(elsewhere / LAST_CHECKPOINT))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    fit(tiny(), InMemoryLoader(images, batch_size=16), other, epochs=1)


def _hold_lock(folder: Path) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from genzoo.runner.runfolder import acquire
        acquire(Path({str(folder)!r}))
        print("locked", flush=True)
        time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_two_runs_cannot_share_a_folder_and_a_dead_holder_leaves_no_stale_lock(tmp_path, images):
    out = tmp_path / "run"
    out.mkdir()
    holder = _hold_lock(out)
    try:
        with pytest.raises(RunFolderError) as caught:
            fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=1)
        message = str(caught.value)
        assert f"genzoo process {holder.pid} on host {socket.gethostname()}" in message
        assert "pick another --out" in message
        assert not holds_run(out)  # nothing was written
    finally:
        holder.kill()  # SIGKILL: no clean-up runs; the kernel drops the lock
        holder.wait()
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=1)
    assert (out / LAST_CHECKPOINT).is_file()


def test_the_lock_is_reentrant_in_one_thread_only(tmp_path):
    import threading

    out = tmp_path / "run"
    with RunFolder(out, resume=None), RunFolder(out, resume="auto"):
        errors = []
        thread = threading.Thread(target=lambda: _try_enter(out, errors))
        thread.start()
        thread.join()
        assert "another training run in this process" in str(errors[0])
    with RunFolder(out, resume=None):  # released
        pass


def _try_enter(out: Path, errors: list) -> None:
    try:
        with RunFolder(out, resume="auto"):
            pass
    except RunFolderError as err:
        errors.append(err)


@pytest.mark.parametrize(("change", "named"), [
    ({"batch_size": 8}, "batch size: checkpoint 16, now 8"),
    ({"shuffle": False}, "shuffle: checkpoint True, now False"),
    ({"drop_last": True}, "drop_last: checkpoint False, now True"),
    ({"images": "other"}, "image contents (fingerprint)"),
    ({"images": "fewer"}, "data set size: checkpoint 64, now 48"),
])
def test_resume_refuses_another_data_order(tmp_path, images, change, named):
    out = tmp_path / "run"
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=1, seed=0, max_steps=2)
    checkpoint = (out / LAST_CHECKPOINT).read_bytes()
    kwargs = {"batch_size": 16, "shuffle": True, "drop_last": False}
    data = images
    if change.get("images") == "other":
        data = images.flip(0).contiguous()
    elif change.get("images") == "fewer":
        data = images[:48]
    kwargs.update({k: v for k, v in change.items() if k != "images"})
    with pytest.raises(CheckpointError, match="data order differs") as caught:
        fit(tiny(), InMemoryLoader(data, **kwargs), out, epochs=2, resume="auto")
    assert named in str(caught.value)
    assert (out / LAST_CHECKPOINT).read_bytes() == checkpoint


def test_resume_refuses_another_dataloader_but_not_another_world_size(tmp_path, images, monkeypatch):
    floats = TensorDataset(images.float() / 255)
    out = tmp_path / "run"
    fit(tiny(), DataLoader(floats, batch_size=16, shuffle=True), out, epochs=1, seed=0)
    with pytest.raises(CheckpointError, match="batch size: checkpoint 16, now 32"):
        fit(tiny(), DataLoader(floats, batch_size=32, shuffle=True), out, epochs=2, resume="auto")
    with pytest.raises(CheckpointError, match="shuffle: checkpoint True, now False"):
        fit(tiny(), DataLoader(floats, batch_size=16), out, epochs=2, resume="auto")
    from genzoo.runner.state import check_data_order, describe_data_order

    # another number of processes is a supported resume (the runner warns what is exact) ...
    record = describe_data_order(DataLoader(floats, batch_size=16, shuffle=True), 2)
    check_data_order(describe_data_order(DataLoader(floats, batch_size=16, shuffle=True), 1),
                     record, out / LAST_CHECKPOINT)
    # ... but not together with another batch size
    with pytest.raises(CheckpointError, match="batch size: checkpoint 32, now 16"):
        check_data_order(describe_data_order(DataLoader(floats, batch_size=32, shuffle=True), 1),
                         record, out / LAST_CHECKPOINT)
    fit(tiny(), DataLoader(floats, batch_size=16, shuffle=True), out, epochs=2, resume="auto")


def test_temporary_files_of_dead_writers_are_removed_and_only_those(tmp_path, images):
    out = tmp_path / "run"
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=1)
    folder = out / "checkpoints"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname().split(".")[0]
    stale = folder / f".last.pt.{dead.pid}@{host}.abc123.tmp"
    live = folder / f".last.pt.{os.getppid()}@{host}.def456.tmp"  # a live process's write
    mine = folder / f"{temp_checkpoint_prefix('last.pt')}ghi789.tmp"
    elsewhere = folder / f".last.pt.{dead.pid}@some-other-host.jkl.tmp"
    foreign = folder / ".last.pt.notgenzoo.tmp"
    for path in (stale, live, mine, elsewhere, foreign):
        path.write_bytes(b"x" * 1000)
    assert clean_stale_temps(out) == [stale]
    assert not stale.exists() and all(p.exists() for p in (live, mine, elsewhere, foreign))
    stale.write_bytes(b"x")
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=2, resume="auto")  # on resume
    assert not stale.exists() and live.exists()


def test_a_checkpoint_write_leaves_no_temporary_file(tmp_path, images):
    out = tmp_path / "run"
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=2, checkpoint_every=1)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt"]


@pytest.mark.parametrize("where", ["disk full", "read-only", "quota", "i/o"])
def test_a_file_that_cannot_be_written_stops_with_one_error_and_keeps_the_last_checkpoint(
        tmp_path, images, monkeypatch, where):
    code = {"disk full": errno.ENOSPC, "read-only": errno.EROFS, "quota": errno.EDQUOT,
            "i/o": errno.EIO}[where]
    out = tmp_path / "run"
    fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=1, seed=0)
    good = (out / LAST_CHECKPOINT).read_bytes()
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)  # half the bytes are out when the disk fills
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("genzoo.checkpoint.torch.save", failing_save)
    with pytest.raises(RunFolderError) as caught:
        fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=3, resume="auto")
    message = str(caught.value)
    assert os.strerror(code) in message and "last good checkpoint" in message
    assert (out / LAST_CHECKPOINT).read_bytes() == good
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt"]
    monkeypatch.undo()
    genzoo.load(out / LAST_CHECKPOINT)


@pytest.mark.parametrize("where", ["proc", "under a file", "a file"])
def test_an_unwritable_run_folder_is_refused_before_training(tmp_path, images, where):
    (tmp_path / "file").write_text("x")
    out = {"proc": Path("/proc/genzoo-run"), "under a file": tmp_path / "file" / "run",
           "a file": tmp_path / "file"}[where]
    with pytest.raises(RunFolderError, match="pick another --out"):
        fit(tiny(), InMemoryLoader(images, batch_size=16), out, epochs=1)
