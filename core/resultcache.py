"""A persistent on-disk cache of computed results (backtests, rebalances, the demo market), so the
app opens fast on a relaunch and several sessions or processes share one computation.

An entry is keyed by what determines it: the caller's parts (methodology digest, data
fingerprint, ...) plus ``code_version()`` (the package version and a digest of every source and
data file shipped with it, and the pandas/numpy/Python versions the entries depend on). A changed
input is a different key, so an entry is never stale, only unused.

Safe across processes: one file lock per key serialises computing it (a second process waits and
then reads the first one's result), and entries are written to a temporary file in the same folder
and renamed into place, so a reader sees a whole entry or none. A corrupt or unreadable entry is
dropped and recomputed. Entries are data files (``exchina.core.resultfile``: JSON and Parquet in
a zip), never pickles: reading one evaluates nothing.

The folder is ``$EXCHINA_CACHE`` when set (``off`` disables the cache), else the per-user cache
folder (``platformdirs.user_cache_dir``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

import platformdirs
from filelock import FileLock

from exchina.core.resultfile import read_result, write_result

CACHE_ENV = "EXCHINA_CACHE"
SOURCE_SUFFIXES = (".py", ".csv", ".toml")
T = TypeVar("T")


def cache_dir() -> Path | None:
    """The cache folder (``$EXCHINA_CACHE``, else the per-user cache folder); None when off."""
    env = os.environ.get(CACHE_ENV)
    if env and env.strip().lower() == "off":
        return None
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("exchina", appauthor=False)) / "results"


def _package_dirs() -> list[Path]:
    """The folders of every exchina subpackage (they live in separate source folders)."""
    import importlib.util

    out = []
    for name in ("exchina", "exchina.core", "exchina.universe", "exchina.index",
                 "exchina.backtest", "exchina.data"):  # fmt: skip
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            out += [Path(p) for p in spec.submodule_search_locations]
    return out


@functools.cache
def code_version() -> str:
    """The package version, a digest of its source and shipped data files, and the versions of
    Python, pandas and numpy: one changed file is a new version."""
    import numpy
    import pandas

    from exchina import __version__

    h = hashlib.sha256()
    for root in sorted(set(_package_dirs())):
        for path in sorted(root.rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    py = ".".join(map(str, sys.version_info[:3]))
    return f"{__version__}-{h.hexdigest()[:16]}-py{py}-pd{pandas.__version__}-np{numpy.__version__}"


class ResultCache:
    """Entries under ``root/<kind>/<key digest>.zip``; see the module docstring."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    @classmethod
    def default(cls) -> ResultCache:
        return cls(cache_dir())

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def path(self, kind: str, *parts: str) -> Path:
        """Where the entry of ``kind`` keyed by ``parts`` (and the code version) lives."""
        if self.root is None:
            raise RuntimeError("the result cache is off")
        key = "\x1f".join((code_version(), *parts))
        return self.root / kind / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.zip"

    def get(self, kind: str, *parts: str) -> object | None:
        """The stored value, or None when absent (a corrupt entry is removed)."""
        if self.root is None:
            return None
        path = self.path(kind, *parts)
        try:
            with path.open("rb") as f:
                return read_result(f)
        except OSError:  # absent, or the folder cannot be read
            return None
        except Exception:  # truncated by a crash, or written by another library version
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def put(self, kind: str, value: object, *parts: str) -> None:
        """Store ``value`` atomically (temporary file, fsync, rename); a failed write (disk
        full, read-only folder, a value that cannot be stored) leaves no entry and is not an
        error: the cache is an aid."""
        if self.root is None:
            return
        path = self.path(kind, *parts)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "wb", dir=path.parent, prefix=".tmp-", suffix=".zip", delete=False
            ) as f:
                tmp = Path(f.name)
                write_result(value, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        except (OSError, TypeError):
            pass
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def get_or_compute(self, kind: str, parts: tuple[str, ...], compute: Callable[[], T]) -> T:
        """The stored value, else ``compute()`` stored. Computing a key is serialised across
        processes by a file lock, so two sessions opening at once compute it once."""
        if self.root is None:
            return compute()
        hit = self.get(kind, *parts)
        if hit is not None:
            return cast(T, hit)  # what this key's compute() stored
        path = self.path(kind, *parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(path) + ".lock")
            lock.acquire()
        except OSError:
            return compute()
        try:
            hit = self.get(kind, *parts)  # another process may have written it meanwhile
            if hit is not None:
                return cast(T, hit)  # what this key's compute() stored
            value = compute()
            self.put(kind, value, *parts)
            return value
        finally:
            lock.release()
