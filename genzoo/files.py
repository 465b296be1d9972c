"""Files a user hands genzoo, and files genzoo writes where a user says.

**Reading** (:func:`read_regular_file`): a file named by a run folder, a report or an option is
read only if it is a regular file (not a device such as ``/dev/zero``, a FIFO or a folder),
inside the folder it must belong to (a link out of a run folder is not followed), and at most
a given size; it is read once, so what is checked is what is used.

**Writing** (:func:`output_path`, :func:`check_output_file`, :func:`check_output_folder`): every
command that writes where a user says follows one rule. A path that does not exist yet is
fine. An existing file is replaced only when it is that command's own kind of output, which
genzoo tells from its contents: a grid or image ``genzoo sample`` wrote (marked so in the
file), a ``genzoo eval`` result, a ``genzoo report`` page. A checkpoint, a run's own files
(``train.toml``, ``run.json``, logs, grids), a data file or any other file is refused unless
the command is given ``--force``. An output folder that is a data set (it holds images), or
lies inside the data a run trains on, is refused too: the output would join the data.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .errors import OutputExistsError, UnsafeFileError

__all__ = ["RUN_FOLDERS", "OutputKind", "SAMPLE_IMAGE", "EVAL_RESULT", "REPORT_PAGE",
           "SAMPLE_MARK", "output_path", "check_output_file", "check_output_folder",
           "read_regular_file", "write_sample_image", "atomic_output", "probe_writable",
           "IMAGE_SUFFIXES", "cache_folder"]

#: What genzoo sample writes into every image (a PNG text chunk, a JPEG comment): it tells a
#: file genzoo may replace from one a person put there.
SAMPLE_MARK = "genzoo sample"
#: Image files an output folder is checked for (a folder holding them is a data set).
IMAGE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".png", ".webp")
#: The most of a JSON file read to tell whether it is a genzoo eval result.
_JSON_LIMIT = 64 << 20
#: The first bytes of an HTML file read to tell whether genzoo report wrote it.
_HTML_HEAD = 64 << 10
#: Files of a run folder that belong to the run.
_RUN_FILES = ("checkpoints/last.pt", "train.toml", "run.json", "metrics.jsonl", "steps.jsonl")
#: The folders of a run folder that belong to the run (``checkpoints/*.json`` excepted:
#: genzoo eval writes its results there); ``teacher/`` holds a student's teacher samples.
RUN_FOLDERS = ("checkpoints", "grids", "tensorboard", ".genzoo", "teacher")
_SAMPLE_FILE = re.compile(r"^sample_\d+\.png$")


def read_regular_file(path: str | os.PathLike[str], *, limit: int,
                      inside: str | os.PathLike[str] | None = None) -> bytes:
    """The bytes of ``path``, if it is a regular file of at most ``limit`` bytes (and, with
    ``inside``, lies inside that folder once links are followed).

    The file is opened without following a last link and without blocking (a FIFO cannot hang
    the call), checked on the open descriptor, and read once.

    Args:
        path: The file.
        limit: The most bytes it may hold.
        inside: A folder the file must lie in (after resolving links).

    Raises:
        UnsafeFileError: it leads out of ``inside``, is not a regular file, or is too large;
            the message names it.
        OSError: it cannot be opened or read (missing, no permission).
    """
    path = Path(path)
    real = path.resolve()
    if inside is not None:
        root = Path(inside).resolve()
        if not real.is_relative_to(root):
            raise UnsafeFileError(f"{path} leads out of {inside} (to {real}), so it was not read")
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    fd = os.open(real, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(f"{path} is not a regular file, so it was not read")
        if info.st_size > limit:
            raise UnsafeFileError(f"{path} holds {info.st_size:,} bytes, more than the "
                                  f"{limit:,} genzoo reads of such a file, so it was not read")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while being read
            raise UnsafeFileError(f"{path} grew past {limit:,} bytes while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


# -- what each command writes ------------------------------------------------------------------

def _is_sample_image(path: Path) -> bool:
    """Whether ``path`` is an image genzoo sample wrote (it carries :data:`SAMPLE_MARK`)."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            mark = image.info.get("Software") if image.format == "PNG" else image.info.get("comment")
    except Exception:  # noqa: BLE001 - not an image genzoo can read: not genzoo's
        return False
    if isinstance(mark, bytes):
        mark = mark.decode("utf-8", "replace")
    return mark == SAMPLE_MARK


def _is_eval_result(path: Path) -> bool:
    """Whether ``path`` holds a ``genzoo eval`` result (a JSON object naming its checkpoint and
    model)."""
    try:
        record = json.loads(read_regular_file(path, limit=_JSON_LIMIT))
    except (OSError, UnsafeFileError, ValueError):
        return False
    return isinstance(record, dict) and "checkpoint" in record and "model" in record


def _is_report_page(path: Path) -> bool:
    """Whether ``path`` is a page ``genzoo report`` (or ``train --report``) wrote."""
    try:
        with open(path, "rb") as file:
            head = file.read(_HTML_HEAD).decode("utf-8", "replace")
    except OSError:
        return False
    return (head.lstrip().lower().startswith("<!doctype html>")
            and ('<meta name="generator" content="genzoo' in head or " by genzoo " in head))


@dataclass(frozen=True)
class OutputKind:
    """A kind of file a command writes, and how to recognise one it wrote before.

    Attributes:
        name: What it is, for messages (``"a genzoo eval result"``).
        recognise: Whether an existing file is of this kind (and so may be replaced).
    """

    name: str
    recognise: Callable[[Path], bool]


#: A grid or image of ``genzoo sample``.
SAMPLE_IMAGE = OutputKind("an image genzoo sample wrote", _is_sample_image)
#: The JSON result of ``genzoo eval``.
EVAL_RESULT = OutputKind("a genzoo eval result", _is_eval_result)
#: The HTML page of ``genzoo report``.
REPORT_PAGE = OutputKind("a genzoo report page", _is_report_page)


def output_path(value: str | os.PathLike[str], option: str) -> Path:
    """``value`` of an output option as a path; an empty value (an unset shell variable) is an
    error rather than the current folder.

    Raises:
        OutputExistsError: the value is empty or blank.
    """
    text = os.fspath(value)
    if not str(text).strip():
        raise OutputExistsError(f"{option} is empty (an unset shell variable?); name the file or "
                                "folder to write")
    return Path(text).expanduser()


def _run_folder(folder: Path) -> bool:
    """Whether ``folder`` looks like a run folder (it has any file a run writes)."""
    return any((folder / name).is_file() for name in _RUN_FILES[:4])


def _run_file(path: Path) -> str | None:
    """What ``path`` is in a run folder it belongs to (``"the checkpoint of the run runs/gan"``),
    or ``None`` when it is not a run's own file."""
    for depth, folder in enumerate(path.parents):
        if depth > 1:
            break
        if not _run_folder(folder):
            continue
        relative = path.relative_to(folder).as_posix()
        first = relative.split("/", 1)[0]
        if relative in _RUN_FILES or (first in RUN_FOLDERS and not (
                first == "checkpoints" and path.suffix == ".json")):
            what = "the checkpoint" if path.suffix == ".pt" else relative
            return f"{what} of the run {folder}"
    return None


def _is_checkpoint(path: Path) -> bool:
    return path.suffix in (".pt", ".pth", ".ckpt", ".safetensors") or zipfile.is_zipfile(path)


def check_output_file(path: str | os.PathLike[str], kind: OutputKind, *, force: bool = False,
                      option: str = "-o/--output") -> Path:
    """Refuse to replace an existing file that is not ``kind`` of output (unless ``force``).

    A path that does not exist, or is a folder (the caller says what to do with one), passes.

    Args:
        path: Where the command is about to write.
        kind: What the command writes.
        force: Replace any file.
        option: The command's option, for the message.

    Returns:
        ``path``.

    Raises:
        OutputExistsError: ``path`` is a checkpoint, a run's own file, or any other file that
            is not ``kind``; the message says which, and that ``--force`` replaces it.
    """
    path = Path(path)
    if force or not os.path.lexists(path):
        return path
    real = path.resolve()
    if real.is_dir() or not real.exists():  # a folder, or a link to nowhere: the caller decides
        return path
    shown = f"{path}" if real == path.absolute() else f"{path} (a link to {real})"
    run_file = _run_file(real)
    if run_file is not None:
        what = f"is {run_file}"
    elif not real.is_file():
        what = "is not a regular file"
    elif _is_checkpoint(real):
        what = "is a checkpoint"
    elif kind.recognise(real):
        return path
    else:
        what = f"exists and is not {kind.name}"
    raise OutputExistsError(f"{option} {shown} {what}, and writing would replace it; name "
                            "another file, or pass --force to replace it")


def check_output_folder(folder: str | os.PathLike[str], *, option: str, force: bool = False,
                        data: str | os.PathLike[str] | None = None,
                        adds: str = "its files") -> Path:
    """Refuse an output folder whose new files would join a data set.

    Refused: the folder ``data`` (a folder of training images) or a folder inside it, and an
    existing folder that holds images (at its top or one folder down; a run's ``grids/`` and
    genzoo sample's ``sample_*.png`` aside) and is not a run folder.

    Args:
        folder: The output folder.
        option: The command's option, for the message.
        force: Skip the second check (the first always holds: the data would change).
        data: The data the command trains on, when it is a folder.
        adds: What the command would add, for the message.

    Raises:
        OutputExistsError: naming the folder, the image found, and what to do.
    """
    folder = Path(folder)
    real = folder.resolve()
    if data is not None and Path(data).expanduser().is_dir():
        source = Path(data).expanduser().resolve()
        if real == source or real.is_relative_to(source):
            raise OutputExistsError(
                f"{option} {folder} is {'the' if real == source else 'inside the'} data folder "
                f"{data}: {adds} would become part of the data; pick a folder outside it")
    if force or not real.is_dir() or _run_folder(real):
        return folder
    image = _an_image(real)
    if image is not None:
        raise OutputExistsError(
            f"{option} {folder} holds images ({image.relative_to(real)}, ...), so it looks like "
            f"a data set, and {adds} would be added to it; pick an empty or new folder"
            + (", or pass --force" if option != "--out" else ""))
    return folder


def _an_image(folder: Path) -> Path | None:
    """An image file in ``folder`` or one folder down (hidden entries, ``grids/`` and genzoo
    sample's own files aside), or ``None``."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False) and entry.name != "grids":
                with contextlib.suppress(OSError):
                    for inner in os.scandir(entry.path):
                        if _image_name(inner.name):
                            return Path(inner.path)
            elif _image_name(entry.name) and not _SAMPLE_FILE.match(entry.name):
                return Path(entry.path)
    return None


def _image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def write_sample_image(images: Any, path: str | os.PathLike[str], *, nrow: int = 8) -> Path:
    """Write float images in ``[0, 1]`` (``N×C×H×W``, or one ``C×H×W``) as a grid to ``path``
    (PNG or JPEG by its suffix), marked as genzoo sample's (:data:`SAMPLE_MARK`), atomically.

    The pixels are torchvision's ``save_image`` ones (``make_grid`` with 2 pixels of padding).
    """
    from PIL import Image, PngImagePlugin
    from torchvision.utils import make_grid

    path = Path(path)
    grid = make_grid(images, nrow=nrow, padding=2)
    pixels = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu").byte().numpy()
    picture = Image.fromarray(pixels)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        options: dict[str, Any] = {"format": "JPEG", "comment": SAMPLE_MARK}
    else:
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", SAMPLE_MARK)
        options = {"format": "PNG", "pnginfo": info}
    with atomic_output(path) as file:
        picture.save(file, **options)
    return path


def probe_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write (then remove) an empty file in it.

    Raises:
        OSError: the folder cannot be created or written (read-only, no permission, full).
    """
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".genzoo-write-test.{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()


def cache_folder(name: str) -> Path:
    """genzoo's cache folder ``name`` (not created): ``$XDG_CACHE_HOME/genzoo/NAME`` when
    ``XDG_CACHE_HOME`` is an absolute path (the XDG spec says to ignore a relative one), else
    ``~/.cache/genzoo/NAME``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "genzoo" / name


@contextlib.contextmanager
def atomic_output(path: Path, *, prefix: str | None = None) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: a temporary file beside it, renamed over
    ``path`` only once the block ends without an error (else removed), so that a reader or a
    crash never sees half a file (its data, and then the rename, reach the disk). It gets the
    permissions a new file would (not ``0600``).

    Args:
        path: The file to write.
        prefix: The temporary file's name starts with it (default: ``.NAME.``).
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix or f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to the disk, where the system allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
