"""Test doubles for the Hugging Face Hub, at the two places genzoo meets it without a network:

* :func:`lay_out_cache` writes a repository into a Hugging Face cache folder as
  huggingface_hub lays one out (``models--user--name/blobs``, ``snapshots/<commit>/`` of links
  into the blobs, ``refs/<branch>``, ``trees/<commit>.json``), for loading offline;
* :class:`FakeHub` answers huggingface_hub's HTTP requests (the repository, upload and download
  endpoints it calls) in place of the Hub: :meth:`FakeHub.installed` replaces httpx's transport
  for a block, so that everything above it (huggingface_hub's client, retries, payloads) is
  the real code. It records every request, and keeps the repositories pushed to it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: The files stored in Git LFS (and so addressed by their SHA-256), as the Hub stores weights.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt")
ENDPOINT = "https://huggingface.co"
LFS_HOST = "https://lfs.fake-hub.test"
#: Requests huggingface_hub makes on its own, best effort (it carries on when they fail): the
#: registry of AI agent harnesses it reads once a day for its user agent.
_TELEMETRY = ("/api/agent-harnesses",)


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's contents (what the Hub reports as a file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def _entry(path: str, data: bytes) -> dict:
    """A file as the Hub's tree listing describes it."""
    entry = {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
    if _is_lfs(path):
        entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                        "pointerSize": 134}
    return entry


def folder_files(folder: Path) -> dict[str, bytes]:
    """The files of a folder (hidden ones aside), by path relative to it."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def lay_out_cache(cache: Path, repo_id: str, files: dict[str, bytes], commit: str, *,
                  refs: tuple[str, ...] = ("main",), listed: dict[str, bytes] | None = None) -> Path:
    """Put ``files`` into the Hugging Face cache ``cache`` as the snapshot of ``repo_id`` at
    ``commit``, with ``refs`` pointing at it, as huggingface_hub's downloads leave them.

    Args:
        listed: The files the cached tree listing says the commit has (default: ``files``);
            more than ``files`` makes the snapshot incomplete.

    Returns:
        The snapshot folder.
    """
    storage = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = storage / "snapshots" / commit
    for path, data in files.items():
        blob = hashlib.sha256(data).hexdigest() if _is_lfs(path) else git_blob_id(data)
        (storage / "blobs").mkdir(parents=True, exist_ok=True)
        (storage / "blobs" / blob).write_bytes(data)
        link = snapshot / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(storage / "blobs" / blob, link.parent))
    snapshot.mkdir(parents=True, exist_ok=True)
    for ref in refs:
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / ref).write_text(commit)
    tree = {}
    for path, data in (listed if listed is not None else files).items():
        entry = _entry(path, data)
        tree[path] = {"size": entry["size"], "blob_id": entry["oid"]}
        if "lfs" in entry:
            tree[path].update(lfs_sha256=entry["lfs"]["oid"], lfs_size=entry["lfs"]["size"])
    (storage / "trees").mkdir(parents=True, exist_ok=True)
    (storage / "trees" / f"{commit}.json").write_text(
        json.dumps({"format_version": 1, "files": tree}, indent=1))
    return snapshot


@dataclass
class Repo:
    """A repository of the fake Hub: its visibility and commits (the last is ``main``)."""

    private: bool
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)

    def files(self, revision: str) -> tuple[str, dict[str, bytes]]:
        for oid, files in reversed(self.commits):
            if revision in ("main", oid):
                return oid, files
        raise KeyError(revision)


@dataclass
class Call:
    """One request the fake Hub answered."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class FakeHub:
    """Answers huggingface_hub's requests as the Hub does, for the endpoints a push and a
    download use; anything else gets a 404 and is recorded as unexpected."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.calls: list[Call] = []
        self.unexpected: list[str] = []
        self.lfs: dict[str, bytes] = {}
        self.refuse: int | None = None  # an HTTP status to answer every request with

    @contextlib.contextmanager
    def installed(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
        """Send every request httpx makes in this block to the fake Hub."""
        import httpx2
        from huggingface_hub.utils import _http

        def handle_request(transport: object, request: httpx2.Request) -> httpx2.Response:
            return self.handle(request)

        monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", handle_request)
        _http.close_session()  # a client made before the block: made again on the next call
        try:
            yield self
        finally:
            _http.close_session()

    # -- the endpoints ------------------------------------------------------------------------

    def handle(self, request: object) -> object:
        import httpx2

        assert isinstance(request, httpx2.Request)
        body = request.read()
        url = str(request.url)
        path = request.url.path
        if path in _TELEMETRY:  # huggingface_hub's own, at most daily, without a token: not a
            return httpx2.Response(404, request=request)  # call genzoo made, so not recorded
        self.calls.append(Call(request.method, url, dict(request.headers), body))
        if self.refuse is not None:
            return httpx2.Response(self.refuse, json={"error": "refused by the fake Hub"},
                                   request=request)
        routes = [
            ("POST", r"/api/repos/create", self._create),
            ("POST", r"/api/validate-yaml", lambda r, m: (200, {"errors": [], "warnings": []})),
            ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)", self._preupload),
            ("POST", r"/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", self._lfs_batch),
            ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)", self._commit),
            ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)", self._info),
            ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)", self._tree),
            ("HEAD", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self._resolve),
            ("GET", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self._resolve),
        ]
        if url.startswith(LFS_HOST) and request.method == "PUT":
            self.lfs[path.strip("/")] = body
            return httpx2.Response(200, request=request)
        for method, pattern, answer in routes:
            match = re.fullmatch(pattern, path)
            if match and request.method == method and url.startswith(ENDPOINT):
                status, payload, *headers = answer(request, match)
                extra = headers[0] if headers else {}
                if isinstance(payload, bytes):
                    return httpx2.Response(status, content=payload if method != "HEAD" else b"",
                                           headers=extra, request=request)
                return httpx2.Response(status, json=payload, headers=extra, request=request)
        self.unexpected.append(f"{request.method} {url}")
        return httpx2.Response(404, json={"error": "no such endpoint in the fake Hub"},
                               request=request)

    def _create(self, request, match):
        values = json.loads(request.content)
        repo_id = f"{values['organization']}/{values['name']}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this model repo", "url": f"{ENDPOINT}/{repo_id}"}
        private = values.get("private", values.get("visibility") == "private")
        self.repos[repo_id] = Repo(private=bool(private))
        return 200, {"url": f"{ENDPOINT}/{repo_id}", "name": repo_id}

    def _preupload(self, request, match):
        files = json.loads(request.content)["files"]
        return 200, {"files": [{"path": f["path"], "shouldIgnore": False, "oid": None,
                                "uploadMode": "lfs" if _is_lfs(f["path"]) else "regular"}
                               for f in files]}

    def _lfs_batch(self, request, match):
        objects = json.loads(request.content)["objects"]
        return 200, {"transfer": "basic", "objects": [
            {"oid": o["oid"], "size": o["size"], "authenticated": True,
             "actions": {"upload": {"href": f"{LFS_HOST}/{o['oid']}"}}} for o in objects]}

    def _commit(self, request, match):
        repo = self.repos.get(match["repo"])
        if repo is None:
            return 404, {"error": "Repository not found"}
        files = dict(repo.commits[-1][1]) if repo.commits else {}
        for line in request.content.splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "lfsFile":
                files[value["path"]] = self.lfs[value["oid"]]
        oid = hashlib.sha1(json.dumps(sorted((p, git_blob_id(d)) for p, d in files.items()))
                           .encode() + str(len(repo.commits)).encode()).hexdigest()
        repo.commits.append((oid, files))
        return 200, {"commitUrl": f"{ENDPOINT}/{match['repo']}/commit/{oid}", "commitOid": oid,
                     "pullRequestUrl": None}

    def _found(self, match):
        repo = self.repos.get(match["repo"])
        try:
            return repo.files(match["rev"]) if repo is not None else None
        except KeyError:
            return None

    def _info(self, request, match):
        found = self._found(match)
        if found is None:
            return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
        oid, files = found
        return 200, {"id": match["repo"], "sha": oid, "private": self.repos[match["repo"]].private,
                     "siblings": [{"rfilename": p} for p in files]}

    def _tree(self, request, match):
        found = self._found(match)
        if found is None:
            return 404, {"error": "Revision not found"}
        return 200, [_entry(p, d) for p, d in found[1].items()]

    def _resolve(self, request, match):
        found = self._found(match)
        if found is None or match["file"] not in found[1]:
            return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}
        oid, files = found
        data = files[match["file"]]
        entry = _entry(match["file"], data)
        headers = {"X-Repo-Commit": oid, "ETag": f'"{entry["oid"]}"',
                   "Content-Length": str(len(data))}
        if "lfs" in entry:
            headers.update({"X-Linked-Etag": f'"{entry["lfs"]["oid"]}"',
                            "X-Linked-Size": str(len(data))})
        return 200, data, headers
