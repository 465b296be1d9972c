"""Checkpoint files: atomic writes and clear errors for every way a file can be wrong."""

from __future__ import annotations

import os
import stat

import pytest
import torch

import genzoo
from genzoo import checkpoint
from genzoo.checkpoint import FORMAT_VERSION, read_checkpoint, write_checkpoint


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "vae.pt"
    genzoo.build("vae", hidden_dim=16).save(path)
    return path


def test_checkpoint_records_model_config_and_versions(saved):
    payload = read_checkpoint(saved)
    assert payload["model"] == "vae"
    assert payload["config"]["hidden_dim"] == 16
    assert payload["format_version"] == FORMAT_VERSION
    assert payload["versions"]["genzoo"] == genzoo.__version__
    assert payload["versions"]["plugin"] == "genzoo"
    assert payload["versions"]["torch"] == str(torch.__version__)


def test_a_crash_mid_write_keeps_the_previous_file(saved, monkeypatch):
    before = saved.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint({"format": "x"}, saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left


def test_a_checkpoint_gets_the_permissions_any_new_file_would(tmp_path):
    mask = os.umask(0o022)  # a mask under which a new file's 0644 differs from mkstemp's 0600
    try:
        path = write_checkpoint({"format": "x"}, tmp_path / "a.pt")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_truncated_file_is_named_in_the_error(saved, tmp_path):
    broken = tmp_path / "truncated.pt"
    broken.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(genzoo.CheckpointError, match=r"truncated\.pt is truncated or corrupted"):
        genzoo.load(broken)


def test_garbage_file_is_refused(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(2048))
    with pytest.raises(genzoo.CheckpointError, match="garbage.pt is truncated or corrupted"):
        genzoo.load(garbage)


def test_missing_file(tmp_path):
    with pytest.raises(genzoo.CheckpointError, match="no checkpoint file at"):
        genzoo.load(tmp_path / "nope.pt")


def test_a_run_folder_loads_and_resumes_from_its_last_checkpoint(tmp_path):
    model = genzoo.build("vae", seed=0, hidden_dim=8, latent_dim=2, image_shape=(1, 8, 8))
    model.fit([torch.rand(4, 1, 8, 8)], epochs=1, out=tmp_path / "run", progress=False)
    from_folder = genzoo.load(tmp_path / "run")
    from_file = genzoo.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert all(torch.equal(a, b) for a, b in zip(from_folder.state_dict().values(),
                                                  from_file.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(from_folder.state_dict().values(),
                                                  model.state_dict().values()))
    resumed = genzoo.build("vae", seed=0, hidden_dim=8, latent_dim=2, image_shape=(1, 8, 8))
    resumed.fit([torch.rand(4, 1, 8, 8)], epochs=2, out=tmp_path / "run", resume=tmp_path / "run",
                progress=False)  # fit(resume=) takes the run folder too
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 2
    (tmp_path / "run" / "checkpoints" / "last.pt").unlink()  # a folder without one is refused
    with pytest.raises(genzoo.CheckpointError, match="it is a folder, but not a run folder .*"
                                                     "checkpoints/last.pt"):
        genzoo.load(tmp_path / "run")


def test_plain_torch_file_is_not_a_genzoo_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(genzoo.CheckpointError, match="not a genzoo checkpoint"):
        genzoo.load(path)


def test_newer_format_is_refused(saved, tmp_path):
    payload = torch.load(saved, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.pt"
    torch.save(payload, newer)
    with pytest.raises(genzoo.CheckpointError, match="newer than the 1 this genzoo reads; upgrade"):
        genzoo.load(newer)


def test_objects_other_than_tensors_are_not_unpickled(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "genzoo-checkpoint", "payload": Exploit()}, path)
    with pytest.raises(genzoo.CheckpointError, match="weights_only=True"):
        genzoo.load(path)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))


def test_weights_that_do_not_fit_the_model(saved, tmp_path):
    payload = torch.load(saved, weights_only=True)
    payload["state_dict"]["decoder.0.weight"] = torch.zeros(3, 3)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(genzoo.CheckpointError, match="do not fit model 'vae'"):
        genzoo.load(bad)


def test_checkpoint_of_an_uninstalled_model(saved, tmp_path):
    payload = torch.load(saved, weights_only=True)
    payload["model"] = "diffusion"
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    with pytest.raises(genzoo.UnknownModelError, match="no model named 'diffusion'"):
        genzoo.load(other)


def test_a_flipped_bit_in_the_weights_is_detected(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped = tmp_path / "flipped.pt"
    flipped.write_bytes(bytes(data))
    with pytest.raises(genzoo.CheckpointError, match="flipped.pt is corrupted: its record .* fails its checksum"):
        genzoo.load(flipped)
