"""Loading from and pushing to the Hugging Face Hub, through the real huggingface_hub client.

No machine here reaches the Hub. Loading is tested offline (``HF_HUB_OFFLINE=1``) against a
cache laid out as huggingface_hub lays it out (checked with its own ``scan_cache_dir``), by
branch and by pinned commit, in this process and through the command line in a fresh one;
pushing, and a download that fills the cache, against :class:`~tests.hub.fake_hub.FakeHub`,
which replaces only the HTTP transport.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import genzoo
from genzoo.errors import CheckpointError, HubError
from genzoo.extras import MissingExtraError
from genzoo.hub import CARD_FILE, CONFIG_FILE, WEIGHTS_FILE, export, from_pretrained, push_to_hub
from tests.cli import invoke, ok, user_error
from tests.hub.fake_hub import FakeHub, folder_files, lay_out_cache

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import constants as hub_constants  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REPO = "someone/tiny-gan"
OLD, NEW = "a" * 40, "b" * 40  # two commits of the repository; main is NEW


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``HF_HUB_OFFLINE=1`` and an empty cache ``HF_HUB_CACHE`` (huggingface_hub reads both
    when it is imported, so its constants are set too); returns the cache folder."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def cached_repo(offline: Path, tiny_runs: Path, tmp_path: Path) -> dict[str, Path]:
    """``someone/tiny-gan`` in the cache: commit OLD the raw weights of the tiny GAN run,
    commit NEW (main) its weight EMA; returns the two exported folders by commit."""
    old = export(tiny_runs / "gan", tmp_path / "old", weights="raw")
    new = export(tiny_runs / "gan", tmp_path / "new")
    lay_out_cache(offline, REPO, folder_files(old), OLD, refs=())
    lay_out_cache(offline, REPO, folder_files(new), NEW, refs=("main",))
    return {OLD: old, NEW: new}


def test_the_cache_is_laid_out_as_huggingface_hub_lays_it_out(cached_repo, offline):
    scanned = huggingface_hub.scan_cache_dir(offline)
    assert scanned.warnings == []
    (repo,) = scanned.repos
    assert repo.repo_id == REPO and repo.repo_type == "model"
    assert {r.commit_hash for r in repo.revisions} == {OLD, NEW}
    assert {ref for r in repo.revisions for ref in r.refs} == {"main"}


def test_a_repo_loads_offline_from_the_cache_by_branch_and_by_pinned_commit(cached_repo):
    main = from_pretrained(REPO)
    assert torch.equal(main.sample(3, seed=4), from_pretrained(cached_repo[NEW]).sample(3, seed=4))
    pinned = from_pretrained(REPO, revision=OLD)
    assert torch.equal(pinned.sample(3, seed=4), from_pretrained(cached_repo[OLD]).sample(3, seed=4))
    assert not torch.equal(pinned.sample(3, seed=4), main.sample(3, seed=4))


def test_a_repo_missing_from_the_cache_offline_is_one_line(offline):
    with pytest.raises(HubError, match=f"{REPO} is not a folder here, nor in the Hugging Face cache .*HF_HUB_OFFLINE "
                                       "is set"):
        from_pretrained(REPO)


def test_a_revision_missing_from_the_cache_offline_is_one_line(cached_repo):
    with pytest.raises(HubError, match=f"{REPO}@v2 is not a folder here, nor in the Hugging Face cache"):
        from_pretrained(REPO, revision="v2")


def test_an_incomplete_snapshot_says_so(offline, cached_repo):
    files = folder_files(cached_repo[NEW])
    lay_out_cache(offline, "someone/half", {CONFIG_FILE: files[CONFIG_FILE]}, NEW, listed=files)
    with pytest.raises(HubError, match="is not wholly in the Hugging Face cache"):
        from_pretrained("someone/half")


@pytest.mark.parametrize(("files", "says"), [
    ({"README.md": b"# a model\n", "pytorch_model.bin": b"not ours"}, "has no config.json"),
    ({CONFIG_FILE: json.dumps({"model_type": "gpt2"}).encode()}, "looks like a transformers"),
])
def test_a_repo_without_a_genzoo_config_says_so(offline, files, says):
    lay_out_cache(offline, "someone/other", files, NEW)
    with pytest.raises(CheckpointError, match=f"the Hub repository someone/other.*{says}"):
        from_pretrained("someone/other")


def test_without_huggingface_hub_a_repo_names_the_extra_and_a_folder_still_loads(
        cached_repo, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(MissingExtraError, match=r'pip install "genzoo\[hub\]"'):
        from_pretrained(REPO)
    from_pretrained(cached_repo[NEW])  # a folder needs safetensors only
    user_error(invoke("push", cached_repo[NEW], REPO), 'pip install "genzoo[hub]"')


def test_the_commands_take_a_repo_offline_in_a_fresh_process(cached_repo, offline, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(offline),
           "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
               [str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])}

    def genzoo_command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "genzoo", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300)

    done = genzoo_command("sample", REPO, "--revision", OLD, "-n", "4", "--seed", "2", "-o", "hub.png")
    assert done.returncode == 0, done.stderr
    ok(invoke("sample", cached_repo[OLD], "-n", "4", "--seed", "2", "-o", tmp_path / "folder.png"))
    assert (tmp_path / "hub.png").read_bytes() == (tmp_path / "folder.png").read_bytes()
    done = genzoo_command("info", REPO, "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["repo"] == REPO and shown["commit"] == NEW and shown["weights"] == "ema"
    done = genzoo_command("info", "someone/missing")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "HF_HUB_OFFLINE" in done.stderr


# -- pushing, with the HTTP layer replaced ----------------------------------------------------------

@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The fake Hub in place of the real one, a token where huggingface_hub reads it, and a
    cache of this test's own; Xet is off, so the weights take the LFS upload the Hub offers
    to clients without hf_xet."""
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with FakeHub().installed(monkeypatch) as fake:
        yield fake


def test_push_creates_the_repo_and_uploads_the_folder_in_one_commit(hub, tiny_runs, tmp_path):
    folder = export(tiny_runs / "gan", tmp_path / "gan")
    (folder / ".notes.swp").write_text("hidden\n")  # hidden files stay home
    url = push_to_hub(folder, REPO, private=True)
    assert hub.unexpected == []
    repo = hub.repos[REPO]
    assert repo.private and len(repo.commits) == 1
    oid, files = repo.commits[0]
    assert url == f"https://huggingface.co/{REPO}/commit/{oid}"
    here = folder_files(folder)
    assert files.keys() == here.keys() and ".notes.swp" not in files
    assert all(files[name] == here[name] for name in here if name != CARD_FILE)
    # the card names the repository it was pushed to; the folder's own card keeps its placeholder
    card, kept = files[CARD_FILE].decode(), here[CARD_FILE].decode()
    assert f'genzoo.from_pretrained("{REPO}")' in card and f"`genzoo sample {REPO} -n 64" in card
    assert "REPO" not in card and "genzoo.from_pretrained(REPO)" in kept
    assert card.replace(REPO, "REPO").replace('"REPO"', "REPO") == kept.replace(
        "  # this repository's id (user/name), or this folder", "")
    weights = (folder / WEIGHTS_FILE).read_bytes()
    assert hub.lfs == {hashlib.sha256(weights).hexdigest(): weights}  # the weights went by LFS
    posts = [c for c in hub.calls if c.method == "POST"]
    assert [c.url.split("huggingface.co")[-1].split("/")[-1] for c in posts][0] == "create"
    assert all(c.headers.get("authorization") == "Bearer hf_test_token"
               for c in hub.calls if "huggingface.co" in c.url)
    commit = [json.loads(line) for line in posts[-1].body.splitlines()]
    assert commit[0]["key"] == "header" and "gan" in commit[0]["value"]["summary"]
    assert {c["value"]["path"] for c in commit[1:]} == set(files)


def test_a_pushed_repo_downloads_into_the_cache_and_samples_the_same(hub, tiny_runs, tmp_path):
    folder = export(tiny_runs / "ddpm", tmp_path / "ddpm")
    push_to_hub(folder, REPO)
    push_to_hub(folder, REPO, commit_message="the same again")  # an existing repo is fine
    model = from_pretrained(REPO, cache_dir=tmp_path / "cache")
    assert torch.equal(model.sample(2, seed=5), from_pretrained(folder).sample(2, seed=5))
    snapshot = tmp_path / "cache" / f"models--{REPO.replace('/', '--')}" / "snapshots"
    (commit,) = [p.name for p in snapshot.iterdir()]
    assert commit == hub.repos[REPO].commits[-1][0]
    assert sorted(p.name for p in (snapshot / commit).iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    assert hub.unexpected == []
    scanned = huggingface_hub.scan_cache_dir(tmp_path / "cache")
    assert scanned.warnings == [] and [r.repo_id for r in scanned.repos] == [REPO]


def test_push_takes_the_stored_token_and_refuses_without_one_offline_or_when_refused(
        hub, tiny_runs, tmp_path, monkeypatch):
    folder = export(tiny_runs / "vae", tmp_path / "vae")
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-home"))  # no stored token either
    monkeypatch.setattr(hub_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with pytest.raises(HubError, match="no Hugging Face token: log in with `hf auth login`"):
        push_to_hub(folder, REPO)
    assert hub.calls == []
    (tmp_path / "no-token").write_text("hf_stored_token\n")  # where `hf auth login` keeps it
    push_to_hub(folder, REPO)
    assert {c.headers.get("authorization") for c in hub.calls if "huggingface.co" in c.url} == {
        "Bearer hf_stored_token"}
    hub.refuse = 403
    with pytest.raises(HubError, match=f"the Hugging Face Hub refused to push to {REPO}: .*403"):
        push_to_hub(folder, REPO)
    hub.refuse = None
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set"):
        push_to_hub(folder, REPO)


def test_push_checks_the_folder_and_the_repo_id_before_any_request(hub, tiny_runs, tmp_path):
    with pytest.raises(CheckpointError, match="is a run folder, not a model folder"):
        push_to_hub(tiny_runs / "vae", REPO)
    folder = export(tiny_runs / "vae", tmp_path / "vae")
    with pytest.raises(genzoo.ConfigError, match="not a Hub repository id"):
        push_to_hub(folder, "no-slash")
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        push_to_hub(folder, REPO)
    assert hub.calls == []


def test_genzoo_push_on_the_command_line(hub, tiny_runs, tmp_path):
    folder = export(tiny_runs / "vae", tmp_path / "vae")
    printed = ok(invoke("push", folder, REPO, "--private", "-m", "first")).output
    oid = hub.repos[REPO].commits[0][0]
    assert f"pushed {folder} to {REPO}: https://huggingface.co/{REPO}/commit/{oid}" in printed
    assert hub.repos[REPO].private
    user_error(invoke("push", tmp_path / "nothing", REPO), "no model folder at")
    assert CARD_FILE in hub.repos[REPO].commits[0][1]
