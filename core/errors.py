"""Typed errors with documented exit codes, so scripts and schedulers can react to each kind.

Every error a user can cause says where (file, row, field) and what was expected. The CLI maps
``ExchinaError.exit_code`` to the process exit status; nothing is written when one is raised.
"""

from __future__ import annotations

from pathlib import Path


class ExchinaError(Exception):
    """Base class; ``exit_code`` is the CLI's exit status for this kind of failure."""

    exit_code: int = 1


class InputError(ExchinaError):
    """Bad user input: a malformed CSV, methodology or argument. Exit 2."""

    exit_code = 2

    def __init__(
        self,
        reason: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        where = []
        if self.file:
            where.append(self.file)
        if row is not None:
            where.append(f"row {row}")
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class InfeasibleError(ExchinaError):
    """The constraint set cannot be met; ``conflicts`` names the constraints. Exit 3."""

    exit_code = 3

    def __init__(self, message: str, conflicts: list[str] | None = None) -> None:
        self.conflicts = list(conflicts or [])
        detail = "".join(f"\n  - {c}" for c in self.conflicts)
        super().__init__(message + detail)


class MissingDataError(ExchinaError):
    """Market data needed for a decision is absent. Exit 4."""

    exit_code = 4


class StaleDataError(ExchinaError):
    """The latest prices are older than the methodology allows; ``tickers`` lists them. Exit 5."""

    exit_code = 5

    def __init__(self, message: str, tickers: list[str] | None = None) -> None:
        self.tickers = list(tickers or [])
        super().__init__(message)


class LockHeldError(ExchinaError):
    """Another process holds the lock on a store or output folder. Exit 6."""

    exit_code = 6


class SourceError(ExchinaError):
    """A download or price source failed for every ticker asked. Exit 7."""

    exit_code = 7

    def __init__(self, message: str, failures: dict[str, str] | None = None) -> None:
        self.failures = dict(failures or {})
        super().__init__(message)


class OutputFolderError(ExchinaError):
    """An ``--out`` folder holds files this command did not write (a store, a repository,
    anything else), or is a file. Nothing is written or removed. Exit 8."""

    exit_code = 8


class FileSystemError(ExchinaError):
    """The operating system refused a read or write (read-only, disk full, permission, a folder
    where a file is expected); the message names the path and the fix. Exit 9."""

    exit_code = 9


class DamagedDataError(ExchinaError):
    """A stored file (store table, run folder, manifest, ``latest``) is unreadable or does not
    match its checksum; the message names the file and how to repair it. Exit 10."""

    exit_code = 10


EXIT_CODES: dict[int, str] = {
    0: "done, or nothing to do",
    1: "unexpected error (one line; rerun with --debug for the traceback)",
    2: "bad input (file, row and field named)",
    3: "infeasible constraints (conflict named)",
    4: "missing market data",
    5: "stale market data (tickers named)",
    6: "lock held by another run",
    7: "price source failed",
    8: "output folder holds files this command did not write (refused; nothing touched)",
    9: "operating-system error: read-only, disk full, permission, wrong kind of path",
    10: "damaged file in the store or an output folder (file and repair named)",
    130: "interrupted (Ctrl-C)",
}
