"""A student's teacher in a run: which teacher trains it (checked against a resumed run's record),
and the teacher's samples made once into the run folder.

:func:`settle_teacher` decides the teacher of a run from the model and, on a resume, from the
checkpoint's record (:meth:`genzoo.teacher.Teacher.record`): a different teacher is refused,
a missing one is loaded again from the recorded source when that still holds the same weights.

:func:`generate_teacher_samples` makes a fixed set of teacher samples (reflow's noise–image
pairs) in chunks into a folder, each chunk written atomically as safetensors with its own
seed, so that an interrupted generation resumes where it stopped and gives exactly what an
uninterrupted one gives; the folder is tied to the teacher's weight hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .._words import model_label
from ..errors import CheckpointError, ConfigError, GenzooError
from ..files import atomic_output
from ..protocols import Student
from ..teacher import Teacher, load_teacher, short_hash

__all__ = ["settle_teacher", "generate_teacher_samples", "SamplesStopped", "SAMPLES_FORMAT",
           "chunk_seed"]

#: The ``format`` of a teacher-samples folder's ``manifest.json``.
SAMPLES_FORMAT = "genzoo-teacher-samples"
_MANIFEST = "manifest.json"

MakeSamples = Callable[[Teacher, int, torch.Generator], Mapping[str, torch.Tensor]]


def settle_teacher(model: Any, recorded: dict[str, Any] | None, resumed: Path | None) -> Teacher | None:
    """The teacher ``model`` trains against in this run, checked and, on a resume, found again.

    Args:
        model: The model to train.
        recorded: The teacher a resumed checkpoint records (``None``: it trained without one,
            or the run is new).
        resumed: The checkpoint resumed from, or ``None`` for a new run.

    Returns:
        The teacher (given to the model with ``set_teacher`` when it was loaded here), or
        ``None`` for a model that trains without one.

    Raises:
        CheckpointError: the resumed run trained against another teacher (both hashes are
            named), or against none, or its recorded teacher is gone or changed.
        ConfigError: the model requires a teacher and has none.
        GenzooError: the model holds its teacher's weights as its own.
    """
    student = isinstance(model, Student)
    teacher = model.teacher if student else None
    if teacher is not None and not isinstance(teacher, Teacher):
        raise GenzooError(f"{model_label(model)}.teacher is a {type(teacher).__name__}, not a "
                          "genzoo Teacher; set it through set_teacher (genzoo.build(..., teacher=))")
    if resumed is not None:
        if isinstance(recorded, dict) and recorded.get("sha256"):
            if teacher is None:
                teacher = _recorded_teacher(recorded, resumed)
                model.set_teacher(teacher)
            elif teacher.sha256 != recorded["sha256"]:
                raise CheckpointError(
                    f"cannot resume from {resumed} with another teacher: the run trained against "
                    f"{_recorded(recorded)} (sha256 {recorded['sha256']}), the teacher given is "
                    f"{teacher.describe()} (sha256 {teacher.sha256}); pass the run's teacher with "
                    "--teacher (teacher=), or leave it out to use the recorded one")
        elif teacher is not None:
            raise CheckpointError(
                f"cannot resume from {resumed} with a teacher: the run trained without one; "
                "resume without --teacher (teacher=), or start a new run")
    if teacher is None:
        if student and model.teacher_required:
            raise ConfigError(
                f"{model_label(model)} trains against a teacher: pass --teacher "
                "RUN_OR_CHECKPOINT_OR_FOLDER (genzoo.build(NAME, teacher=...)) naming the trained "
                "model it learns from")
        return None
    own = {id(p) for p in model.parameters()} | {id(b) for b in model.buffers()}
    if any(id(t) in own for t in (*teacher.model.parameters(), *teacher.model.buffers())):
        raise GenzooError(
            f"{model_label(model)} holds its teacher's weights as its own (teacher.model is one "
            "of its submodules), so they would be trained and checkpointed; keep the Teacher as "
            "an attribute and call it, or copy the weights it starts from")
    return teacher


def _recorded(record: Mapping[str, Any]) -> str:
    name = record.get("model") or "a model"
    source = record.get("source")
    return f"{name!r} from {source}" if source else f"{name!r} made in memory"


def _recorded_teacher(record: Mapping[str, Any], resumed: Path) -> Teacher:
    """The teacher a checkpoint records, loaded again from its source and checked by hash."""
    source, sha = record.get("source"), str(record["sha256"])
    advice = "pass the run's teacher with --teacher (teacher=)"
    if not source:
        raise CheckpointError(
            f"cannot resume from {resumed} without its teacher: the run trained against "
            f"{_recorded(record)} (sha256 {short_hash(sha)}), which has no source to load "
            f"again; {advice}")
    try:
        teacher = load_teacher(source)
    except GenzooError as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(
            f"cannot resume from {resumed}: its teacher {_recorded(record)} cannot be loaded "
            f"again ({first}); {advice}") from err
    if teacher.sha256 != sha:
        raise CheckpointError(
            f"cannot resume from {resumed}: its teacher at {source} has changed since the run "
            f"trained against it (sha256 {teacher.sha256} now, {sha} then); {advice}")
    return teacher


# -- teacher samples ------------------------------------------------------------------------------


class SamplesStopped(GenzooError):
    """Making teacher samples stopped at a signal (the chunks made so far are kept)."""


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index`` of samples made with ``seed``: independent of the chunk size
    and of how many chunks an earlier, interrupted generation made."""
    digest = hashlib.sha256(f"genzoo-teacher-samples|{seed}|{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generate_teacher_samples(folder: str | os.PathLike[str] | None, teacher: Teacher,
                             make: MakeSamples, *, count: int, chunk_size: int = 1000,
                             seed: int = 0, settings: Mapping[str, Any] | None = None,
                             device: torch.device | str | None = None,
                             autocast: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
                             stop: Callable[[], bool] | None = None,
                             made: Callable[[int, int], None] | None = None) -> dict[str, torch.Tensor]:
    """Make ``count`` teacher samples in chunks, into ``folder`` (resumable), and return them.

    Chunk ``i`` holds rows ``i * chunk_size`` onwards and is made by
    ``make(teacher, n, generator)`` with a CPU generator seeded by :func:`chunk_seed`, under
    :func:`torch.no_grad` (and ``autocast``), with torch's global random state restored after.
    ``folder/chunk_NNNNN.safetensors`` is written atomically (a temporary name, then renamed),
    so a chunk file is whole or absent. A later call with the same settings and teacher reads
    the chunks there and makes only the missing ones: an interrupted generation, resumed,
    gives exactly the samples of an uninterrupted one.

    Args:
        folder: Where the chunks live (``manifest.json`` records the teacher and settings);
            ``None`` makes them in memory only.
        teacher: The teacher (on its device).
        make: Makes ``n`` samples: a dict of tensors of ``n`` rows each, the same names and
            row shapes every time.
        count: How many samples in all.
        chunk_size: Samples per chunk (and per call of ``make``).
        seed: The samples' seed.
        settings: Whatever else decides what ``make`` makes (JSON values), recorded in the
            manifest; a folder made with other settings is refused.
        device: Unused by the chunks (kept on the CPU); the device whose random state is
            also restored after each chunk (a CUDA device).
        autocast: A context factory for the precision ``make`` runs in.
        stop: Asked between chunks; when it says ``True`` a :class:`SamplesStopped` is raised.
        made: Told ``(chunk, chunks)`` after each chunk made (not those read back).

    Returns:
        Each entry's rows of all chunks, concatenated, on the CPU.

    Raises:
        CheckpointError: ``folder`` holds samples of another teacher, or made with other
            settings (never mixed: remove the folder to make them again), or a chunk that
            disagrees with its manifest.
        ConfigError: ``count`` or ``chunk_size`` is not positive, or ``make`` returns
            something other than a dict of tensors of ``n`` rows.
    """
    for what, value in (("count", count), ("chunk_size", chunk_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"teacher samples: {what} must be a positive whole number, got {value!r}")
    path = Path(folder) if folder is not None else None
    manifest = {"format": SAMPLES_FORMAT, "format_version": 1, "teacher": teacher.record(),
                "count": count, "chunk_size": chunk_size, "seed": int(seed),
                "settings": _json_settings(settings)}
    if path is not None:
        _claim_folder(path, manifest)
    chunks = (count + chunk_size - 1) // chunk_size
    parts: list[dict[str, torch.Tensor]] = []
    for index in range(chunks):
        size = min(chunk_size, count - index * chunk_size)
        file = path / f"chunk_{index:05d}.safetensors" if path is not None else None
        part = _read_chunk(file, teacher, index, size) if file is not None else None
        if part is None:
            if stop is not None and stop():
                raise SamplesStopped(f"stopped while making teacher samples, after chunk {index} "
                                     f"of {chunks}" + (f" (kept in {path})" if path else ""))
            part = _make_chunk(teacher, make, size, chunk_seed(int(seed), index), device, autocast)
            if file is not None:
                _write_chunk(file, part, teacher, index, int(seed))
            if made is not None:
                made(index + 1, chunks)
        parts.append(part)
    names = list(parts[0])
    return {name: torch.cat([part[name] for part in parts]) for name in names}


def _json_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` as the manifest's JSON holds them (tuples become lists)."""
    try:
        return json.loads(json.dumps(dict(settings or {}), sort_keys=True))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"teacher samples: settings must be JSON values, got {settings!r} ({err})") from err


def _claim_folder(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest of a new samples folder, or check an existing one against it."""
    file = path / _MANIFEST
    if file.is_file():
        try:
            found = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{file} is damaged ({err}); remove {path} to make the teacher "
                                  "samples again") from err
        theirs = (found.get("teacher") or {}).get("sha256")
        if theirs != manifest["teacher"]["sha256"]:
            raise CheckpointError(
                f"{path} holds samples of another teacher (sha256 {theirs}), not of "
                f"{_recorded(manifest['teacher'])} (sha256 "
                f"{manifest['teacher']['sha256']}); they are never mixed: use the run's own "
                f"teacher, or remove {path} to make them again")
        differ = [f"{k} {found.get(k)!r} there, {manifest[k]!r} now"
                  for k in ("count", "chunk_size", "seed", "settings")
                  if found.get(k, {} if k == "settings" else None) != manifest[k]]
        if differ:
            raise CheckpointError(f"{path} holds teacher samples made with other settings "
                                  f"({'; '.join(differ)}); remove it to make them again")
    else:
        path.mkdir(parents=True, exist_ok=True)
        with atomic_output(file) as handle:
            handle.write((json.dumps(manifest, indent=2) + "\n").encode())
    for leftover in path.glob(".chunk_*.tmp"):  # a writer killed mid-chunk (the run folder's
        with contextlib.suppress(OSError):      # lock keeps any other writer out)
            leftover.unlink()


def _make_chunk(teacher: Teacher, make: MakeSamples, size: int, seed: int,
                device: torch.device | str | None,
                autocast: Callable[[], contextlib.AbstractContextManager[Any]] | None
                ) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    cuda = [torch.device(device)] if device is not None and torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), torch.no_grad(), \
            (autocast() if autocast is not None else contextlib.nullcontext()):
        made = make(teacher, size, generator)
    if not isinstance(made, Mapping) or not made or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) and v.dim() >= 1 and v.shape[0] == size
            for k, v in made.items()):
        raise ConfigError(f"teacher samples: make(teacher, {size}, generator) must return a dict "
                          f"of tensors with {size} rows each, got {_describe(made)}")
    return {k: v.detach().to("cpu").contiguous() for k, v in made.items()}


def _describe(made: Any) -> str:
    if isinstance(made, Mapping):
        return "{" + ", ".join(f"{k!r}: {tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}"
                               for k, v in made.items()) + "}"
    return type(made).__name__


def _read_chunk(file: Path, teacher: Teacher, index: int, size: int) -> dict[str, torch.Tensor] | None:
    """A chunk already made, or ``None`` when it is not there (or is damaged: made again)."""
    if not file.is_file():
        return None
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except (SafetensorError, OSError, ValueError):
        return None  # whole files only are renamed into place; a damaged one is made again
    if meta.get("teacher_sha256") != teacher.sha256 or meta.get("index") != str(index):
        raise CheckpointError(
            f"{file} is chunk {meta.get('index')} of another teacher's samples (sha256 "
            f"{meta.get('teacher_sha256')}), not chunk {index} of {teacher.describe()}; remove "
            f"{file.parent} to make them again")
    if not tensors or any(t.shape[0] != size for t in tensors.values()):
        return None
    return tensors


def _write_chunk(file: Path, part: dict[str, torch.Tensor], teacher: Teacher, index: int,
                 seed: int) -> None:
    from safetensors.torch import save

    meta = {"teacher_sha256": teacher.sha256, "index": str(index), "seed": str(seed)}
    with atomic_output(file) as handle:
        handle.write(save(part, metadata=meta))
