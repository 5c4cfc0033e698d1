"""The calculation agent's output folder: daily levels that only grow, an audited revision when
history changes, and a journaled commit that a SIGKILL cannot tear.

Layout of ``OUT``::

    levels.csv, levels.parquet   date, level_pr, level_tr, level_ntr, divisor, constituents
    actions.csv                  every corporate action applied, with its effect on shares
                                 and divisor (``exchina.index.daily_calc``)
    holdings.csv                 index shares fixed at each rebalance close
    manifest.json                methodology, data label, range, revision, sha256 of each file
    revisions/rev-NNN/           a superseded state, kept whole, with changes.json (what changed)
    .lock                        held while a calculation writes

Rules: re-running the same days writes nothing (no byte changes); new days are appended (the
earlier rows of every file keep their bytes); when a recomputed day differs from the committed
one by more than ``TOLERANCE`` (a revised price, a new corporate action), the committed state is
kept as
``revisions/rev-NNN`` with a ``changes.json`` naming the first changed date and the largest
change, and the new state becomes revision NNN+1. Nothing is ever deleted.

Commit protocol: every file is written into a hidden staging folder and fsync'd; the folder is
renamed to ``.commit`` (the commit point); then each file is moved into place with an atomic
rename, the manifest last, and ``.commit`` removed. A run killed before the commit point leaves
the old state (its staging folder is deleted by the next run); killed after it, the next run
rolls the commit forward before doing anything else, so a re-run equals an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from exchina.core.atomic import fsync_dir
from exchina.core.csvsafe import csv_text
from exchina.core.errors import InputError, LockHeldError

LEVEL_COLUMNS = ["level_pr", "level_tr", "level_ntr", "divisor", "constituents"]
DATA_FILES = ("levels.csv", "levels.parquet", "actions.csv", "holdings.csv")
MANIFEST = "manifest.json"
COMMIT = ".commit"
LOCK = ".lock"
REVISIONS = "revisions"
CALC_FILES = (*DATA_FILES, MANIFEST, REVISIONS, LOCK, COMMIT)
_STAGING = re.compile(r"^\.staging-[0-9a-f]{32}\.tmp$")

Status = Literal["written", "extended", "revised", "unchanged"]


@dataclass(frozen=True)
class CalcCommit:
    """What a commit did: ``written`` (first state), ``extended`` (days appended), ``revised``
    (history changed: the old state kept as ``revisions/rev-NNN``) or ``unchanged``."""

    status: Status
    out: Path
    first: pd.Timestamp
    last: pd.Timestamp
    added_days: int
    revision: int
    changes: dict[str, Any] | None = None


def is_calc_name(name: str) -> bool:
    """A staging folder a killed calculation left (the next run deletes it)."""
    return bool(_STAGING.match(name))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes, one row formatted independently of the others (so appending keeps a prefix)."""
    return csv_text(frame, index=False, date_format="%Y-%m-%d", lineterminator="\n").encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def read_manifest(out: str | Path) -> dict[str, Any] | None:
    """The committed manifest, or None when ``out`` holds no calculation yet."""
    try:
        return json.loads((Path(out) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def read_levels(out: str | Path) -> pd.DataFrame:
    """The committed daily levels (``date`` index); empty when there are none."""
    p = Path(out) / "levels.parquet"
    if not p.is_file():
        return pd.DataFrame(columns=LEVEL_COLUMNS, index=pd.DatetimeIndex([], name="date"))
    return pd.read_parquet(p).set_index("date")


def verify_calc(out: str | Path) -> list[str]:
    """Problems with a calculation folder: a file missing or not matching the manifest's sha256.
    Empty when the committed state is complete (an unfinished commit counts as a problem)."""
    out = Path(out)
    manifest = read_manifest(out)
    if manifest is None:
        return []
    problems = [f"{out / COMMIT}: an interrupted commit" for _ in [0] if (out / COMMIT).exists()]
    for name, sha in manifest["files"].items():
        p = out / name
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif _sha(p.read_bytes()) != sha:
            problems.append(f"{p}: sha256 does not match the manifest")
    return problems


def recover(out: Path) -> None:
    """Finish what a killed run left: delete staging folders, roll a complete commit forward."""
    for p in out.glob(".staging-*.tmp"):
        shutil.rmtree(p, ignore_errors=True)
    commit = out / COMMIT
    if not commit.is_dir():
        return
    if (commit / MANIFEST).is_file():
        _roll_forward(out)
    else:  # the manifest moved last: the commit had finished
        shutil.rmtree(commit, ignore_errors=True)


def _roll_forward(out: Path) -> None:
    commit = out / COMMIT
    archive = commit / "archive"
    if archive.is_dir():
        old = json.loads((archive / MANIFEST).read_text(encoding="utf-8"))["revision"]
        target = out / REVISIONS / f"rev-{old:03d}"
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            shutil.rmtree(archive)
        else:
            os.rename(archive, target)
        fsync_dir(target.parent)
    for name in DATA_FILES:
        if (commit / name).is_file():
            os.replace(commit / name, out / name)
    os.replace(commit / MANIFEST, out / MANIFEST)
    fsync_dir(out)
    shutil.rmtree(commit, ignore_errors=True)


def _lock(out: Path, timeout: float) -> FileLock:
    lock = FileLock(str(out / LOCK), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeldError(
            f"the calculation folder {out} is locked by another exchina run (waited "
            f"{timeout:g} s); try again later"
        ) from None
    return lock


TOLERANCE = 1e-10
"""Relative difference below which a recomputed level is the committed one (solver rounding)."""


def _changes(old: pd.DataFrame, new: pd.DataFrame) -> dict[str, Any] | None:
    """Where the recomputed levels differ from the committed ones on the days both hold (by more
    than ``TOLERANCE`` relative, or in the constituent count)."""
    common = old.index.intersection(new.index)
    a = old.loc[common, LEVEL_COLUMNS].astype(float).to_numpy()
    b = new.loc[common, LEVEL_COLUMNS].astype(float).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(b / a - 1.0)
    differ = ~((rel <= TOLERANCE) | (np.isnan(a) & np.isnan(b)))
    rows = np.flatnonzero(differ.any(axis=1))
    if not len(rows):
        return None
    return {
        "first_changed": f"{common[int(rows[0])]:%Y-%m-%d}",
        "days_changed": len(rows),
        "max_relative_level_change": float(np.nanmax(rel[:, :3])),
    }


def _appended(out: Path, name: str, new_rows: pd.DataFrame) -> bytes:
    """The committed file's bytes followed by ``new_rows`` (no header): earlier rows unchanged."""
    old = (out / name).read_bytes()
    if new_rows.empty:
        return old
    return (
        old
        + new_rows.to_csv(
            index=False, header=False, date_format="%Y-%m-%d", lineterminator="\n"
        ).encode()
    )


def commit_calc(
    out: str | Path,
    levels: pd.DataFrame,
    actions: pd.DataFrame,
    holdings: pd.DataFrame,
    meta: dict[str, Any],
) -> CalcCommit:
    """Commit a calculation (see the module doc). ``levels`` must hold every committed day
    (the caller computes through the committed last day); ``meta`` goes into the manifest.
    The caller holds the folder's lock (``calc_lock``) and has run ``recover``."""
    out = Path(out)
    manifest = read_manifest(out)
    old = read_levels(out)
    missing = old.index.difference(levels.index)
    if len(missing):
        raise InputError(
            f"the new calculation lacks committed days {missing[0].date()}..{missing[-1].date()}; "
            "days are never removed",
            file=out,
        )
    changes = _changes(old, levels) if manifest else None
    added = len(levels.index.difference(old.index))
    if manifest and changes is None and added == 0:
        return CalcCommit(
            "unchanged", out, levels.index[0], levels.index[-1], 0, manifest["revision"]
        )
    revision = 1 if manifest is None else manifest["revision"] + (1 if changes else 0)
    if manifest and not changes and levels.index[0] >= old.index[0]:
        # an extension: committed days keep their committed rows (and bytes); new days follow
        end = old.index[-1]
        later = levels.loc[levels.index > end]
        levels = pd.concat([old, later[old.columns]])
        files = {
            "levels.csv": _appended(out, "levels.csv", later[old.columns].reset_index()),
            "levels.parquet": _parquet(levels.reset_index()),
            "actions.csv": _appended(out, "actions.csv", actions[actions["date"] > end]),
            "holdings.csv": _appended(out, "holdings.csv", holdings[holdings["effective"] > end]),
        }
    else:
        files = {
            "levels.csv": _csv(levels.reset_index()),
            "levels.parquet": _parquet(levels.reset_index()),
            "actions.csv": _csv(actions),
            "holdings.csv": _csv(holdings),
        }
    history = list(manifest.get("revisions", [])) if manifest else []
    if changes:
        history.append({"revision": manifest["revision"], **changes})  # type: ignore[index]
    body = {
        **meta,
        "first": f"{levels.index[0]:%Y-%m-%d}",
        "last": f"{levels.index[-1]:%Y-%m-%d}",
        "days": len(levels),
        "revision": revision,
        "revisions": history,
        "files": {name: _sha(data) for name, data in files.items()},
    }
    files[MANIFEST] = (json.dumps(body, indent=2, allow_nan=False) + "\n").encode()
    staging = out / f".staging-{uuid.uuid4().hex}.tmp"
    staging.mkdir()
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
            _fsync_file(staging / name)
        if changes:
            archive = staging / "archive"
            archive.mkdir()
            for name in (*DATA_FILES, MANIFEST):
                if (out / name).is_file():
                    shutil.copyfile(out / name, archive / name)
                    _fsync_file(archive / name)
            text = json.dumps({"superseded_by": revision, **changes}, indent=2) + "\n"
            (archive / "changes.json").write_text(text, encoding="utf-8")
            _fsync_file(archive / "changes.json")
            fsync_dir(archive)
        fsync_dir(staging)
        os.rename(staging, out / COMMIT)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(out)
    _roll_forward(out)
    status: Status = "written" if manifest is None else ("revised" if changes else "extended")
    return CalcCommit(status, out, levels.index[0], levels.index[-1], added, revision, changes)


def calc_lock(out: str | Path, timeout: float = 600.0) -> FileLock:
    """Create ``out`` if needed and take its lock (``LockHeldError`` after ``timeout`` s)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", file=out)
    out.mkdir(parents=True, exist_ok=True)
    return _lock(out, timeout)
