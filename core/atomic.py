"""Atomic file writes and output folders that are never wiped.

One helper for one job: ``write_atomic`` replaces one file through a temporary sibling, an
fsync and a rename, so a reader sees the old file or the new one, never half of either.
``write_outputs`` writes the files a command owns into an ``--out`` folder: it refuses a folder
holding anything else (unless ``force``), builds every file first, then renames each into place,
and never removes a file it did not write. ``os_error`` turns an ``OSError`` into a one-line
``FileSystemError`` naming the path and the fix.
"""

from __future__ import annotations

import errno
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from exchina.core.errors import FileSystemError, OutputFolderError

Writer = Callable[[Path], None]
"""Writes one file's content to the path it is given (a temporary name)."""

_TEMP = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
_FIXES = {
    errno.EROFS: "the file system is read-only; choose a writable location",
    errno.ENOSPC: "no space left on the device; free some space and rerun",
    errno.EDQUOT: "disk quota exceeded; free some space and rerun",
    errno.EACCES: "permission denied; choose a folder you can write to or fix its permissions",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.EISDIR: "is a folder where a file is expected; give a file path",
    errno.ENOTDIR: "a file stands where a folder is expected; give a folder path",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the path is too long",
}


def os_error(exc: OSError, path: str | Path | None = None) -> FileSystemError:
    """A ``FileSystemError`` (exit 9) naming the path and what to do about ``exc``."""
    where = path if path is not None else (exc.filename or "")
    fix = _FIXES.get(exc.errno or 0, exc.strerror or str(exc))
    return FileSystemError(f"{where}: {fix}" if where else fix)


def temp_name(path: Path) -> Path:
    """The hidden temporary sibling ``.<name>.<32 hex>.tmp`` a write goes through."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def is_temp_name(name: str) -> bool:
    """True for a temporary file name made by ``temp_name`` (left behind by a killed write)."""
    return bool(_TEMP.match(name))


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _materialise(content: bytes | str | Writer, tmp: Path) -> None:
    if callable(content):
        content(tmp)
    else:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with open(tmp, "wb") as fh:
            fh.write(data)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())


def write_atomic(path: str | Path, content: bytes | str | Writer) -> Path:
    """Replace ``path`` atomically with ``content`` (bytes, UTF-8 text, or a writer function).

    A folder at ``path`` is refused (``FileSystemError``); on any failure the old file is left
    as it was and the temporary file removed. OS errors become ``FileSystemError``.
    """
    path = Path(path)
    if path.is_dir():
        raise FileSystemError(f"{path}: {_FIXES[errno.EISDIR]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FileSystemError(f"{path.parent}: {_FIXES[errno.ENOTDIR]}") from None
    except OSError as exc:
        raise os_error(exc, path.parent) from None
    tmp = temp_name(path)
    try:
        _materialise(content, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise os_error(exc, path) from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def check_output_folder(
    out: str | Path,
    owned: Iterable[str],
    *,
    force: bool = False,
    owns: Callable[[str], bool] | None = None,
) -> Path:
    """Refuse an ``--out`` folder this command may not write into; returns it as a Path.

    Accepted: a missing folder, an empty one, or one holding only files named in ``owned``
    or accepted by ``owns`` (names a command writes by pattern, such as dated folders): an
    earlier run of the same command, and leftover temporaries. Anything else (a store, a
    repository, unrelated files) raises ``OutputFolderError`` unless ``force``, which writes
    beside them and still removes nothing.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out}: is a file, not a folder; give a folder for --out")
    if not out.is_dir() or force:
        return out
    names = set(owned)
    try:
        foreign = sorted(
            p
            for p in os.listdir(out)
            if p not in names and not is_temp_name(p) and not (owns is not None and owns(p))
        )
    except OSError as exc:
        raise os_error(exc, out) from None
    if not foreign:
        return out
    kind = _what_is(out, foreign)
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    raise OutputFolderError(
        f"{out}: refusing to write here, the folder {kind} ({shown}); nothing was written or "
        "removed. Choose a new or empty folder, or pass --force to write beside them "
        "(exchina never deletes files it did not write)"
    )


def _what_is(out: Path, foreign: list[str]) -> str:
    if ".git" in foreign:
        return "is a git repository"
    store = (out / "market" / "_delta_log").is_dir()  # exchina.core.store's Delta table
    if store or "_delta_log" in foreign or {"prices", "fx"} & set(foreign) or ".lock" in foreign:
        return "looks like an exchina market-data store"
    return "holds files this command did not write"


def write_outputs(
    out: str | Path, files: Mapping[str, bytes | str | Writer], *, force: bool = False
) -> dict[str, Path]:
    """Write ``files`` (name -> content) into the folder ``out``; returns name -> path.

    Every file is first built under a temporary name inside ``out``; only when all are built
    is each renamed over its final name (atomic per file). Files not in ``files`` are never
    touched. A failure leaves every earlier file as it was and removes only the temporaries.
    """
    out = check_output_folder(out, files, force=force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputFolderError(f"{out}: a file stands where a folder is expected") from None
    except OSError as exc:
        raise os_error(exc, out) from None
    temps: dict[str, Path] = {}
    try:
        for name, content in files.items():
            temps[name] = temp_name(out / name)
            _materialise(content, temps[name])
        for name, tmp in temps.items():
            os.replace(tmp, out / name)
    except OSError as exc:
        raise os_error(exc, out) from None
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    fsync_dir(out)
    return {name: out / name for name in files}
