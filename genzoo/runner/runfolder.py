"""Claiming a run folder: one run at a time, never replacing a run by accident, no stale files.

A run holds its folder for as long as it trains:

* a **lock** (``.genzoo/lock``, an OS-level :mod:`filelock` lock the kernel drops when the
  process dies, so a killed run never leaves a stale lock behind) keeps a second run out; the
  owner's pid, host and start time sit beside it in ``.genzoo/owner.json`` for the error;
* a folder that already **holds a run** (a checkpoint: ``checkpoints/last.pt``) is refused
  unless the run resumes; the ``train.toml``, ``run.json`` and ``metrics.jsonl`` that a run
  which failed before its first checkpoint left behind hold nothing to resume, and a new run
  (or ``--resume auto``) simply starts there;
* **temporary checkpoint files** a killed process left behind are removed: only genzoo's own
  (``.NAME.PID@HOST.*.tmp``), only of this host, and only when that process is gone;
* a file that cannot be written (disk full, read-only, no permission) ends the run with one
  :class:`~genzoo.errors.RunFolderError` naming the file and the last good checkpoint.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import RunFolderError
from ..checkpoint import LAST_CHECKPOINT, last_checkpoint, temp_checkpoint_writer
from ..files import probe_writable

__all__ = ["RUN_FILES", "RunFolder", "holds_run", "clean_stale_temps", "check_writable"]

#: The files of a run; the first, its checkpoint, is what makes a folder hold one.
RUN_FILES = ("checkpoints/last.pt", "train.toml", "run.json", "metrics.jsonl")

_LOCK = Path(".genzoo") / "lock"
_OWNER = Path(".genzoo") / "owner.json"
#: errno values that mean "this file cannot be written here", not a bug.
_WRITE_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.ENOTDIR, errno.EIO, errno.EFBIG))

_held: dict[Path, tuple[Any, int, int]] = {}  # folder → (lock, thread id, depth)
_held_guard = threading.Lock()


def holds_run(folder: str | os.PathLike[str]) -> list[str]:
    """The run files (:data:`RUN_FILES`) present in ``folder``; empty when it holds no run.

    A folder holds a run once it has a checkpoint: without one there is nothing to resume (a
    run that failed at its first step leaves only its settings and logs), so a corrected
    command may start a new run there.
    """
    folder = Path(folder)
    if not (folder / RUN_FILES[0]).exists():
        return []
    return [name for name in RUN_FILES if (folder / name).exists()]


def check_writable(folder: str | os.PathLike[str], what: str = "run folder") -> Path:
    """Create ``folder`` if needed and make sure files can be written in it.

    Raises:
        RunFolderError: it is a file, lies under a file, or cannot be created or written.
    """
    folder = Path(folder)
    hint = "pick another --out (out=)"
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"the {what} {folder} is a file, not a folder; {hint}")
    try:
        probe_writable(folder)
    except OSError as err:
        raise RunFolderError(f"cannot write the {what} {folder}: {_reason(err)}; {hint}") from err
    return folder


def clean_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary checkpoint files under ``folder/checkpoints`` whose writer is dead.

    Only genzoo's own temporary files are touched, only those written on this host, and only
    when the process that wrote them no longer exists (so a live writer keeps its file).

    Returns:
        The files removed.
    """
    removed = []
    checkpoints = Path(folder) / "checkpoints"
    if not checkpoints.is_dir():
        return removed
    for entry in checkpoints.iterdir():
        writer = temp_checkpoint_writer(entry.name)
        if writer is None or _alive(writer):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed


class RunFolder:
    """A context that holds the run folder ``out`` for one run (``None``: a no-op).

    Args:
        out: The run folder.
        resume: The checkpoint the run continues (``"auto"``: the folder's own), or ``None``
            for a new run. A new run refuses a folder that already holds a run, and so does a
            run resumed from a checkpoint of another folder.

    Raises:
        RunFolderError: on entry, when the folder cannot be written, holds a run and the run
            does not resume, or another process trains in it; on exit, when a file of the run
            could not be written (the original error is chained).
    """

    def __init__(self, out: str | os.PathLike[str] | None, *,
                 resume: str | os.PathLike[str] | None) -> None:
        self.out = Path(out) if out is not None else None
        if resume is not None and str(resume) != "auto":
            resume = last_checkpoint(Path(resume)) or resume  # a run folder: its last checkpoint
        self.resume = resume is not None
        self.foreign = (resume is not None and str(resume) != "auto" and self.out is not None
                        and Path(resume).resolve() != (self.out / RUN_FILES[0]).resolve())
        self.resume_from = None if resume is None or str(resume) == "auto" else str(resume)
        self.removed: list[Path] = []
        self._created: list[Path] = []

    def __enter__(self) -> RunFolder:
        if self.out is None:
            return self
        if not self.resume or self.foreign:
            refuse_existing_run(self.out, self.resume_from if self.foreign else None)
        self._created = [p for p in (self.out, *self.out.parents) if not p.exists()]
        check_writable(self.out)
        acquire(self.out)
        try:
            if not self.resume or self.foreign:  # a run started in the folder meanwhile
                refuse_existing_run(self.out, self.resume_from if self.foreign else None)
            self.removed = clean_stale_temps(self.out)
        except BaseException:
            release(self.out)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.out is None:
            return
        release(self.out)
        if error is not None and self._created and not holds_run(self.out):
            self._remove_created()  # a run that failed before writing anything leaves no folder
        if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS:
            last = self.out / LAST_CHECKPOINT
            kept = (f"the last good checkpoint {last} is intact; resume from it once the "
                    "problem is fixed" if last.is_file() else "no checkpoint was written yet")
            where = error.filename or self.out
            raise RunFolderError(f"the run stopped: cannot use {where} ({_reason(error)}); "
                                 f"{kept}") from error


    def _remove_created(self) -> None:
        assert self.out is not None
        with contextlib.suppress(OSError):
            (self.out / _LOCK).unlink()
        for folder in (self.out / _LOCK.parent, *self._created):
            try:
                folder.rmdir()
            except OSError:
                return


def refuse_existing_run(out: Path, foreign: str | None = None) -> None:
    """Raise :class:`RunFolderError` if ``out`` already holds a run.

    Args:
        out: The run folder.
        foreign: The checkpoint of another folder a resume asked to continue into ``out``;
            the message then says that this, not a missing ``--resume``, is what is wrong.
    """
    present = holds_run(out)
    if present and foreign is not None:
        raise RunFolderError(
            f"{out} already holds a run ({', '.join(present)}) and {foreign} is not its "
            f"checkpoint: continuing {foreign} there would replace that run. Continue {out}'s "
            f"own run with --resume {out} (resume='auto'), or continue {foreign} into a new "
            "--out (out=)"
        )
    if present:
        raise RunFolderError(
            f"{out} already holds a run ({', '.join(present)}); continue it with --resume "
            "(resume='auto'), or pick a new --out (out=) to start another"
        )


def acquire(out: Path) -> None:
    """Take the run folder's lock (re-entrant within one thread).

    Raises:
        RunFolderError: another process (or thread) holds it; the message names it.
    """
    from filelock import FileLock, Timeout

    key = out.resolve()
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            lock, thread, depth = held
            if thread != threading.get_ident():
                raise RunFolderError(f"{out} is in use by another training run in this process "
                                     "(another thread); wait for it or pick another --out (out=)")
            _held[key] = (lock, thread, depth + 1)
            return
        (out / _LOCK).parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out / _LOCK), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise RunFolderError(f"{out} is in use: {_owner(out)} is training in it; wait for "
                                 "it to finish (or stop it), or pick another --out (out=)") from None
        except OSError as err:
            raise RunFolderError(f"cannot lock the run folder {out}: {_reason(err)}; "
                                 "pick another --out (out=)") from err
        _held[key] = (lock, threading.get_ident(), 1)
    owner = {"pid": os.getpid(), "host": socket.gethostname(),
             "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    with contextlib.suppress(OSError):
        (out / _OWNER).write_text(json.dumps(owner) + "\n", encoding="utf-8")


def release(out: Path) -> None:
    """Give back a lock taken with :func:`acquire`."""
    key = out.resolve()
    with _held_guard:
        held = _held.get(key)
        if held is None:
            return
        lock, thread, depth = held
        if depth > 1:
            _held[key] = (lock, thread, depth - 1)
            return
        del _held[key]
        with contextlib.suppress(OSError):
            (out / _OWNER).unlink()
        lock.release()


def _owner(out: Path) -> str:
    try:
        owner = json.loads((out / _OWNER).read_text(encoding="utf-8"))
        return (f"genzoo process {owner['pid']} on host {owner['host']} "
                f"(started {owner['started']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another genzoo process"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _reason(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__
