"""The market-data store: one Delta Lake table of prices, FX and shares outstanding.

Layout under the store folder (``exchina.core.paths.store_dir``)::

    market/                 a Delta Lake table (delta-rs): Parquet data files partitioned by
      _delta_log/           kind (prices | fx | shares) and year, and the JSON commit log
    .lock                   held while anything is written
    legacy-parquet/         the pre-Delta ``prices/fx/shares/<year>.parquet`` files, moved
                            here (never deleted) when the store is migrated on first use

Each kind is read as its own long table (``TableSpec``): prices ``date, ticker, close,
adj_close, dividends, splits, volume, currency, currency_inferred``; FX ``date, currency,
usd_per_unit``; shares ``date, ticker, shares``; each row with ``source`` and ``stored_at``.

Transactions: every write made while ``lock()`` is held (an import, a fetch, a removal) is merged
partition by partition into staged Parquet files (``.staging-*.tmp``, never more than one
partition in memory) and committed as ONE Delta commit when the outermost ``lock()`` exits: the
files move into the table and one transaction adds them and removes the ones they replace. A
SIGKILL (which leaves at most unreferenced files), a full disk or a damaged neighbour leaves the
store at the old version or the new one, never a mix.
Rows with new keys are appended, rows whose values changed replace the old ones (a revision with
a new ``stored_at``), identical rows keep their ``stored_at``, and a write that changes nothing
makes no commit at all (re-importing a file changes no byte). A ticker's rows in another currency
than the one stored are refused unless the whole series is replaced (``replace_series``).

Versions: ``version()`` is the Delta table version; ``MarketStore(root, as_stored=V)`` reads the
data exactly as stored at version ``V`` or at a timestamp (time travel). ``verify()`` checks the
commit log and every data file and names the repair of each damaged one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from exchina.core.atomic import os_error
from exchina.core.errors import (
    DamagedDataError,
    FileSystemError,
    InputError,
    LockHeldError,
)
from exchina.core.fx import KNOWN_CURRENCIES
from exchina.core.paths import store_dir
from exchina.core.validate import PRICE_COLUMNS, parse_dates, validate_prices

# Files are sorted by (ticker, date): small row groups let a read of a few tickers skip the rest.
ROW_GROUP = 65_536
_STAMP = [("source", pa.string()), ("stored_at", pa.timestamp("us", tz="UTC"))]


@dataclass(frozen=True)
class TableSpec:
    """One long table: its folder, key columns (``date`` last) and value columns."""

    name: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    schema: pa.Schema


PRICES = TableSpec(
    "prices",
    ("ticker", "date"),
    tuple(c for c in PRICE_COLUMNS if c not in ("ticker", "date")),
    pa.schema(
        [
            ("date", pa.timestamp("ms")),
            ("ticker", pa.string()),
            *[(c, pa.float64()) for c in ("close", "adj_close", "dividends", "splits", "volume")],
            ("currency", pa.string()),
            ("currency_inferred", pa.bool_()),
            *_STAMP,
        ]
    ),
)
FX = TableSpec(
    "fx",
    ("currency", "date"),
    ("usd_per_unit",),
    pa.schema(
        [
            ("date", pa.timestamp("ms")),
            ("currency", pa.string()),
            ("usd_per_unit", pa.float64()),
            *_STAMP,
        ]
    ),
)
SHARES = TableSpec(
    "shares",
    ("ticker", "date"),
    ("shares",),
    pa.schema(
        [("date", pa.timestamp("ms")), ("ticker", pa.string()), ("shares", pa.float64()), *_STAMP]
    ),
)


@dataclass
class WriteSummary:
    """What a write changed: rows appended, rows revised, rows already identical, files written."""

    table: str
    added: int = 0
    revised: int = 0
    unchanged: int = 0
    files_written: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.revised)


def _equal(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality where two missing values count as equal."""
    na_a, na_b = a.isna().to_numpy(), b.isna().to_numpy()
    av = np.where(na_a, None, a.to_numpy(dtype=object))
    bv = np.where(na_b, None, b.to_numpy(dtype=object))
    eq = np.equal(av, bv).astype(bool) & ~na_a & ~na_b
    return eq | (na_a & na_b)


def _merge(
    old: pd.DataFrame, new: pd.DataFrame, spec: TableSpec, now: pd.Timestamp
) -> tuple[pd.DataFrame, int, int, int]:
    """Merge ``new`` into ``old`` by key: ``(merged, added, revised, unchanged)``."""
    keys, cols = list(spec.keys), [*spec.values, "source"]
    if not len(old):
        out = new.assign(stored_at=now).sort_values(keys, kind="stable").reset_index(drop=True)
        return out, len(new), 0, 0
    m = old.merge(new, on=keys, how="outer", suffixes=("_old", ""), indicator=True)
    both = (m["_merge"] == "both").to_numpy()
    new_only = (m["_merge"] == "right_only").to_numpy()
    same = both.copy()
    for c in spec.values:
        same &= _equal(m[c], m[f"{c}_old"])
    take_new = new_only | (both & ~same)
    out = m[keys].copy()
    for c in cols:
        out[c] = np.where(
            take_new, m[c].to_numpy(dtype=object), m[f"{c}_old"].to_numpy(dtype=object)
        )
    out["stored_at"] = m["stored_at"].where(~take_new, now)
    out = out.sort_values(keys, kind="stable").reset_index(drop=True)
    return out, int(new_only.sum()), int((both & ~same).sum()), int(same.sum())


DELTA_DIR = "market"
LEGACY_DIR = "legacy-parquet"
_VALUE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    *[(c, pa.float64()) for c in ("close", "adj_close", "dividends", "splits", "volume")],
    ("currency", pa.string()),
    ("currency_inferred", pa.bool_()),
    ("usd_per_unit", pa.float64()),
    ("shares", pa.float64()),
)
DELTA_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("year", pa.int32()),
        ("date", pa.timestamp("us")),
        ("key", pa.string()),
        *_VALUE_COLUMNS,
        ("source", pa.string()),
        ("stored_at", pa.timestamp("us", tz="UTC")),
    ]
)
"""The one Delta table's columns; ``key`` is the ticker (prices, shares) or currency (FX)."""
PARTITIONS = ["kind", "year"]
"""Partition columns: their values live in the commit log and the folder names, not the files."""


def _to_delta(spec: TableSpec, frame: pd.DataFrame, year: int) -> pa.Table:
    """Rows of one spec-shaped partition in the unified Delta schema."""
    n = len(frame)
    cols: dict[str, pa.Array] = {
        "kind": pa.array([spec.name] * n, pa.string()),
        "year": pa.array([year] * n, pa.int32()),
        "date": pa.array(
            pd.to_datetime(frame["date"]).astype("datetime64[us]"), pa.timestamp("us")
        ),
        "key": pa.array(frame[spec.keys[0]].astype("string"), pa.string()),
    }
    for name, typ in _VALUE_COLUMNS:
        if name in spec.values:
            values = frame[name]
            if typ == pa.float64():
                values = pd.to_numeric(values, errors="coerce").astype("float64")
            elif typ == pa.bool_():
                values = values.astype(bool)
            else:
                values = values.astype("string")
            cols[name] = pa.array(values, typ, from_pandas=True)
        else:
            cols[name] = pa.nulls(n, typ)
    cols["source"] = pa.array(frame["source"].astype("string"), pa.string())
    stamps = pd.to_datetime(frame["stored_at"], utc=True).astype("datetime64[us, UTC]")
    cols["stored_at"] = pa.array(stamps, pa.timestamp("us", tz="UTC"))
    return pa.table(cols, schema=DELTA_SCHEMA)


def _projection(spec: TableSpec, columns: list[str]) -> dict[str, ds.Expression]:
    """Arrow projection from the Delta schema to a spec's column names."""
    return {c: ds.field("key" if c == spec.keys[0] else c) for c in columns}


def parse_as_stored(value: str | int | None) -> int | pd.Timestamp | None:
    """``--as-stored``: a store version (integer) or an ISO timestamp (UTC if no offset)."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        t = pd.Timestamp(text)
    except ValueError:
        t = None
    if t is None or pd.isna(t) or not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        raise InputError(
            f"expected a store version (0, 1, ...) or a time YYYY-MM-DD[THH:MM[:SS]], got {text!r}",
            field="--as-stored",
        )
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


class MarketStore:
    """A market-data store folder; see the module docstring for layout and guarantees."""

    def __init__(
        self,
        root: str | Path | None = None,
        lock_timeout: float = 30.0,
        as_stored: str | int | pd.Timestamp | None = None,
    ) -> None:
        self.root = store_dir(root)
        if self.root.exists() and not self.root.is_dir():
            raise FileSystemError(
                f"{self.root}: is a file; the store (--store, $EXCHINA_STORE) must be a folder"
            )
        self.lock_timeout = lock_timeout
        self.as_stored = (
            as_stored if isinstance(as_stored, pd.Timestamp) else parse_as_stored(as_stored)
        )
        self._lock: FileLock | None = None
        self._depth = 0
        self._pending: dict[tuple[str, int], Path] = {}
        self._touched: dict[tuple[str, int], TableSpec] = {}
        self._staging: Path | None = None

    def __repr__(self) -> str:
        return f"MarketStore({str(self.root)!r})"

    @property
    def table_path(self) -> Path:
        """The Delta table folder."""
        return self.root / DELTA_DIR

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock and make one transaction: every write inside is committed
        as one Delta commit when the outermost ``lock()`` exits without an error (nothing is
        written otherwise). LockHeldError if another process keeps the lock longer than
        ``lock_timeout`` seconds."""
        if self.as_stored is not None:
            raise InputError(
                f"the store is opened as stored at {self.as_stored}; it is read-only",
                field="--as-stored",
            )
        outermost = self._depth == 0
        if outermost:
            self._acquire()
        self._depth += 1
        try:
            if outermost:
                self._remove_staging(self.root.glob(".staging-*.tmp"))  # left by a killed write
                self._migrate_locked()
            yield
            if outermost and self._pending:
                self._commit()
        finally:
            self._depth -= 1
            if outermost:
                self._pending, self._touched = {}, {}
                if self._staging is not None:
                    self._remove_staging([self._staging])
                    self._staging = None
                assert self._lock is not None
                self._lock.release()

    @staticmethod
    def _remove_staging(folders: Iterable[Path]) -> None:
        """Delete staging folders (uncommitted partitions; never part of the table)."""
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    def _acquire(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, self.root) from None
        if self._lock is None:
            self._lock = FileLock(str(self.root / ".lock"), timeout=self.lock_timeout)
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise LockHeldError(
                f"the store {self.root} is locked by another exchina process "
                f"(waited {self.lock_timeout:g} s); try again when it has finished"
            ) from exc
        except OSError as exc:
            raise os_error(exc, self.root / ".lock") from None

    def _commit(self) -> None:
        """Make every pending partition current in ONE Delta commit: each staged file is moved
        into the table folder and one transaction adds them and removes the files of the
        partitions they replace. Nothing is read back into memory, so a commit of many years
        holds no more than a file's footer. A failure before the commit point (the log entry)
        removes the moved files again: the store is as it was."""
        from deltalake import DeltaTable, Schema
        from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

        now = int(time.time() * 1000)
        moved: list[Path] = []
        try:
            adds = []
            for (kind, year), staged in sorted(self._pending.items()):
                rel = f"kind={kind}/year={year}/part-{uuid.uuid4().hex}-c000.snappy.parquet"
                target = self.table_path / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
                moved.append(target)
                stats = json.dumps({"numRecords": pq.ParquetFile(target).metadata.num_rows})
                parts = {"kind": kind, "year": str(year)}
                adds.append(AddAction(rel, target.stat().st_size, parts, now, True, stats))
            if self._exists():
                table = DeltaTable(str(self.table_path))
                touched = {(kind, str(year)) for kind, year in self._pending}
                removes = [
                    RemoveAction(a["path"], True, now, a["size_bytes"],
                                 {"kind": a["partition.kind"], "year": str(a["partition.year"])})
                    for a in pa.table(table.get_add_actions(flatten=True)).to_pylist()
                    if (a["partition.kind"], str(a["partition.year"])) in touched
                ]  # fmt: skip
                table.create_write_transaction(
                    [*adds, *removes], mode="append", schema=DELTA_SCHEMA, partition_by=PARTITIONS
                )
            else:
                create_table_with_add_actions(
                    str(self.table_path), Schema.from_arrow(DELTA_SCHEMA), adds, mode="append",
                    partition_by=PARTITIONS,
                )  # fmt: skip
        except Exception as exc:
            self._unmove(moved)
            if isinstance(exc, OSError):
                raise os_error(exc, self.table_path) from None
            raise FileSystemError(  # delta-rs raises its own error types for I/O failures
                f"{self.table_path}: the write could not be committed ({_first_line(exc)}); "
                "nothing was stored (the store is as before). Free space or fix permissions "
                "and rerun"
            ) from None

    def _unmove(self, files: list[Path]) -> None:
        """Remove data files an uncommitted write moved into the table (and folders it made)."""
        for path in files:
            path.unlink(missing_ok=True)
            for folder in (path.parent, path.parent.parent):
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break

    # -- the Delta table -----------------------------------------------------------------------

    def _exists(self) -> bool:
        return (self.table_path / "_delta_log").is_dir() and any(
            (self.table_path / "_delta_log").glob("*.json")
        )

    def _delta(self):
        """The DeltaTable at the pinned version (or the latest); None before the first write."""
        from deltalake import DeltaTable

        self._migrate_if_needed()
        if not self._exists():
            if self.as_stored is not None:
                raise InputError(
                    f"the store at {self.root} holds no versions yet", field="--as-stored"
                )
            return None
        try:
            if isinstance(self.as_stored, int):
                return DeltaTable(str(self.table_path), version=self.as_stored)
            dt = DeltaTable(str(self.table_path))
            if isinstance(self.as_stored, pd.Timestamp):
                dt.load_as_version(self.as_stored.to_pydatetime())
            return dt
        except Exception as exc:
            if self.as_stored is not None:
                raise InputError(
                    f"no store version {self.as_stored} in {self.root} ({_first_line(exc)}); "
                    "`exchina data versions` lists them",
                    field="--as-stored",
                ) from None
            raise DamagedDataError(
                f"{self.table_path / '_delta_log'}: the store's commit log is unreadable "
                f"({_first_line(exc)}); run `exchina data verify --store {self.root}`"
            ) from None

    def version(self) -> int | None:
        """The store version reads see (the Delta table version); None for an empty store."""
        dt = self._delta()
        return None if dt is None else int(dt.version())

    def pinned(self) -> MarketStore:
        """A read-only view of this store at its current version (consistent multi-table reads)."""
        v = self.version()
        return (
            self if v is None or self.as_stored is not None else MarketStore(self.root, as_stored=v)
        )

    def versions(self) -> pd.DataFrame:
        """The commit history: version, time (UTC), operation and rows added."""
        dt = self._delta()
        if dt is None:
            return pd.DataFrame(columns=["version", "time", "operation", "rows_added"])
        rows = [
            {
                "version": int(h["version"]),
                "time": pd.Timestamp(h["timestamp"], unit="ms", tz="UTC"),
                "operation": h.get("operation", ""),
                "rows_added": (h.get("operationMetrics") or {}).get("num_added_rows"),
            }
            for h in dt.history()
        ]
        return pd.DataFrame(rows).sort_values("version").reset_index(drop=True)

    # -- generic table plumbing -------------------------------------------------------------

    def _partition(self, spec: TableSpec, year: int) -> pd.DataFrame:
        """One (kind, year) partition as a spec-shaped frame: pending if any, else stored."""
        key = (spec.name, year)
        if key in self._pending:
            cols = list(spec.schema.names)
            table = pq.read_table(self._pending[key]).select(
                ["key" if c == spec.keys[0] else c for c in cols]
            )
            return _to_frame(spec, table.rename_columns(cols), cols)
        frame = self._read(spec, None, f"{year}-01-01", f"{year}-12-31")
        return frame[list(spec.schema.names)]

    def _stage(self, spec: TableSpec, year: int, frame: pd.DataFrame) -> None:
        """Hold a merged partition until the commit, on disk (a staging folder in the store)
        so that a transaction of many years holds no more than one in memory."""
        if self._staging is None:
            self._staging = self.root / f".staging-{uuid.uuid4().hex}.tmp"
        try:
            self._staging.mkdir(exist_ok=True)
            path = self._staging / f"{spec.name}-{year}.parquet"
            table = _to_delta(spec, frame.reset_index(drop=True), year).drop_columns(PARTITIONS)
            pq.write_table(table, path, row_group_size=ROW_GROUP)
        except OSError as exc:
            raise os_error(exc, self.root) from None
        self._pending[(spec.name, year)] = path
        self._touched[(spec.name, year)] = spec

    def _write(self, spec: TableSpec, frame: pd.DataFrame, source: str | None) -> WriteSummary:
        summary = WriteSummary(spec.name)
        if frame is None or not len(frame):
            return summary
        new = frame[[*spec.keys, *spec.values]].copy()
        if source is None and "source" not in frame.columns:
            raise ValueError("a source label is required (argument or 'source' column)")
        new["source"] = frame["source"].astype(str) if source is None else source
        years = new["date"].dt.year
        with self.lock():
            now = pd.Timestamp.now(tz="UTC").floor("us")
            for year, part in new.groupby(years, sort=True):
                old = self._partition(spec, int(year))
                merged, added, revised, unchanged = _merge(old, part, spec, now)
                summary.added += added
                summary.revised += revised
                summary.unchanged += unchanged
                if added or revised:
                    self._stage(spec, int(year), merged)
                    summary.files_written.append(f"{spec.name}/{int(year)}")
        return summary

    def _remove(self, spec: TableSpec, keys: list[str], start=None, end=None) -> WriteSummary:
        """Delete the rows of ``keys`` in ``[start, end]`` (all dates when None), in the
        current transaction; ``revised`` counts the rows removed."""
        summary = WriteSummary(spec.name)
        found = self._read(spec, keys, start, end, columns=["date", spec.keys[0]])
        with self.lock():
            pending_years = {y for (k, y) in self._pending if k == spec.name}
            years = sorted(set(found["date"].dt.year.astype(int)) | pending_years)
            lo = pd.Timestamp(start) if start is not None else pd.Timestamp.min
            hi = pd.Timestamp(end) if end is not None else pd.Timestamp.max
            for year in years:
                old = self._partition(spec, year)
                drop = old[spec.keys[0]].astype(str).isin(keys) & old["date"].between(lo, hi)
                if drop.any():
                    self._stage(spec, year, old[~drop.to_numpy()])
                    summary.revised += int(drop.sum())
                    summary.files_written.append(f"{spec.name}/{year}")
        return summary

    def _read(
        self,
        spec: TableSpec,
        key_values: list[str] | None = None,
        start=None,
        end=None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        cols = columns or spec.schema.names
        dt = self._delta()
        if dt is None:
            return _empty(spec, cols)
        expr = ds.field("kind") == spec.name
        if key_values is not None:
            expr &= ds.field("key").isin(pa.array([str(k) for k in key_values], pa.string()))
        if start is not None:
            t = pd.Timestamp(start)
            expr &= (ds.field("year") >= t.year) & (
                ds.field("date") >= pa.scalar(t.to_pydatetime(), pa.timestamp("us"))
            )
        if end is not None:
            t = pd.Timestamp(end)
            expr &= (ds.field("year") <= t.year) & (
                ds.field("date") <= pa.scalar(t.to_pydatetime(), pa.timestamp("us"))
            )
        try:
            table = dt.to_pyarrow_dataset().to_table(columns=_projection(spec, cols), filter=expr)
        except (OSError, pa.ArrowException) as exc:
            raise DamagedDataError(
                f"{self.root}: a store data file cannot be read ({_first_line(exc)}); run "
                f"`exchina data verify --store {self.root}` to name it and the repair"
            ) from None
        return _to_frame(spec, table, cols)

    # -- prices ------------------------------------------------------------------------------

    def write_prices(
        self,
        frame: pd.DataFrame,
        source: str | None = None,
        origin: str | None = None,
        replace_series: bool = False,
    ) -> WriteSummary:
        """Validate and merge long price rows (``PRICE_COLUMNS``); ``source`` labels them (else
        the frame's own ``source`` column does).

        ``origin`` names the input in error messages (a file, ``yahoo``). Nothing is written
        unless every row passes. A ticker whose rows are in another currency than its stored
        series is refused unless ``replace_series``, which replaces each given ticker's whole
        stored history with these rows (one commit).
        """
        if frame is None or not len(frame):
            return WriteSummary(PRICES.name)
        clean, _ = validate_prices(frame, file=origin, notes=False)
        return self.write_price_parts([clean], price_currencies(clean, origin), source, origin,
                                      replace_series)  # fmt: skip

    def write_price_parts(
        self,
        parts: Iterable[pd.DataFrame],
        currencies: Mapping[str, str],
        source: str | None = None,
        origin: str | None = None,
        replace_series: bool = False,
    ) -> WriteSummary:
        """``write_prices`` for rows given in parts (a large import gives one year at a time,
        so that it never holds all its rows): every part is validated and merged in the same
        transaction. ``currencies`` maps each ticker of the parts to its one currency (checked
        against the stored series before any part is read)."""
        summary = WriteSummary(PRICES.name)
        with self.lock():
            if replace_series:
                summary.revised += self._remove(PRICES, sorted(currencies)).revised
            else:
                self._check_currency(currencies, origin)
            for part in parts:
                clean, _ = validate_prices(part, file=origin, notes=False)
                unknown = set(clean["ticker"].astype(str)) - set(currencies)
                if unknown:
                    raise ValueError(f"no currency given for {sorted(unknown)}")
                done = self._write(PRICES, clean, source)
                summary.added += done.added
                summary.revised += done.revised
                summary.unchanged += done.unchanged
                summary.files_written += done.files_written
        return summary

    def _check_currency(self, currencies: Mapping[str, str], origin: str | None) -> None:
        """Refuse rows whose currency differs from the ticker's stored (or pending) series."""
        tickers = sorted(currencies)
        have = self._currency_pairs(tickers)
        for path in (p for (kind, _), p in self._pending.items() if kind == PRICES.name):
            have |= _pairs(pq.read_table(path, columns=["key", "currency"]), tickers)
        for t, code in sorted(have):
            new = currencies.get(t)
            if new and code != new:
                raise InputError(
                    f"{t} is stored in {code} but these rows are in {new}; refusing to "
                    f"relabel its history. To replace the whole {t} series, import again with "
                    "--replace-series",
                    file=origin,
                    field="currency",
                )

    def _currency_pairs(self, tickers: list[str]) -> set[tuple[str, str]]:
        """The (ticker, currency) pairs stored for ``tickers``, read batch by batch."""
        dt = self._delta()
        if dt is None:
            return set()
        expr = (ds.field("kind") == PRICES.name) & ds.field("key").isin(
            pa.array(tickers, pa.string())
        )
        out: set[tuple[str, str]] = set()
        try:
            scanner = dt.to_pyarrow_dataset().scanner(columns=["key", "currency"], filter=expr)
            for batch in scanner.to_batches():
                out |= _pairs(pa.Table.from_batches([batch]), tickers)
        except (OSError, pa.ArrowException) as exc:
            raise DamagedDataError(
                f"{self.root}: a store data file cannot be read ({_first_line(exc)}); run "
                f"`exchina data verify --store {self.root}` to name it and the repair"
            ) from None
        return out

    def remove(self, table: str, keys: list[str], start=None, end=None) -> WriteSummary:
        """Remove the rows of ``keys`` (tickers, or currencies for ``fx``) in ``[start, end]``
        from ``table`` (``prices``, ``fx`` or ``shares``) in one commit; ``revised`` counts the
        rows removed."""
        spec = {s.name: s for s in (PRICES, FX, SHARES)}.get(table)
        if spec is None:
            raise InputError(f"unknown table {table!r} (prices, fx or shares)", field="table")
        with self.lock():
            return self._remove(spec, [str(k) for k in keys], start, end)

    def remove_series(self, names: list[str]) -> dict[str, int]:
        """Take whole series out in one commit: each ticker's prices and shares, each FX ticker's
        (``AUDUSD=X``) rates. A name the store does not hold is an InputError and nothing is
        removed. Returns rows removed per table."""
        from exchina.core.fx import fx_currency

        wanted = list(dict.fromkeys(str(n) for n in names))
        if not wanted:
            raise InputError("name the tickers to remove", field="tickers")
        fx = {n: c for n in wanted if (c := fx_currency(n)) is not None}
        stocks = [n for n in wanted if n not in fx]
        with self.lock():
            held = set(self._read(PRICES, stocks, columns=["ticker"])["ticker"].astype(str))
            held |= set(self._read(SHARES, stocks, columns=["ticker"])["ticker"].astype(str))
            rates = set(self._read(FX, list(fx.values()), columns=["currency"])["currency"])
            unknown = [n for n in stocks if n not in held]
            unknown += [n for n, c in fx.items() if c not in rates]
            if unknown:
                raise InputError(
                    f"the store at {self.root} holds no series {', '.join(unknown)}; nothing was "
                    "removed (`exchina data info` lists what it holds)",
                    field="tickers",
                )
            return {
                PRICES.name: self._remove(PRICES, stocks).revised,
                SHARES.name: self._remove(SHARES, stocks).revised,
                FX.name: self._remove(FX, list(fx.values())).revised,
            }

    def read_prices(
        self, tickers: list[str] | None = None, start=None, end=None, columns=None
    ) -> pd.DataFrame:
        """Long price rows, optionally for some tickers and ``[start, end]``."""
        return self._read(PRICES, tickers, start, end, columns)

    def has_prices(self) -> bool:
        """True when the store holds any price row (from the commit log, no data read)."""
        dt = self._delta()
        if dt is None:
            return False
        adds = pa.table(dt.get_add_actions(flatten=True))
        if "partition.kind" not in adds.column_names:
            return False
        kinds = adds.column("partition.kind").to_pylist()
        rows = adds.column("num_records").to_pylist()
        return any(
            k == PRICES.name and (n is None or n > 0) for k, n in zip(kinds, rows, strict=True)
        )

    # -- FX ----------------------------------------------------------------------------------

    def write_fx(self, frame: pd.DataFrame, source: str, origin: str | None = None) -> WriteSummary:
        """Merge FX rows (``date``, ``currency``, ``usd_per_unit`` = USD per one unit)."""
        if frame is None or not len(frame):
            return WriteSummary(FX.name)
        clean = _validate_simple(frame, "currency", "usd_per_unit", origin)
        bad = ~clean["currency"].isin(sorted(KNOWN_CURRENCIES))
        if bad.any():
            raise InputError(
                f"unknown currency {clean['currency'][bad].iloc[0]!r}",
                file=origin,
                field="currency",
            )
        return self._write(FX, clean, source)

    def read_fx(self, currencies: list[str] | None = None, start=None, end=None) -> pd.DataFrame:
        """Long FX rows (USD per unit)."""
        return self._read(FX, currencies, start, end)

    # -- shares outstanding ----------------------------------------------------------------

    def write_shares(
        self, frame: pd.DataFrame, source: str, origin: str | None = None
    ) -> WriteSummary:
        """Merge shares-outstanding rows (``date``, ``ticker``, ``shares``)."""
        if frame is None or not len(frame):
            return WriteSummary(SHARES.name)
        return self._write(SHARES, _validate_simple(frame, "ticker", "shares", origin), source)

    def read_shares(self, tickers: list[str] | None = None, start=None, end=None) -> pd.DataFrame:
        """Long shares-outstanding rows."""
        return self._read(SHARES, tickers, start, end)

    # -- what is there -----------------------------------------------------------------------

    def info(self) -> pd.DataFrame:
        """One row per ticker (prices, shares) or currency (FX): first and last date, rows,
        currency, sources and when it was last stored (aggregated in pandas, table by table)."""
        parts = []
        for spec in (PRICES, FX, SHARES):
            key = spec.keys[0]
            aggs = [("date", "min"), ("date", "max"), ("date", "count"), ("stored_at", "max"),
                    ("source", "distinct")]  # fmt: skip
            if spec is PRICES:
                aggs += [("currency", "last"), ("currency_inferred", "any")]
            cols = list(dict.fromkeys([key, *(a[0] for a in aggs)]))
            frame = self._read(spec, columns=cols)
            if len(frame):
                table = pa.Table.from_pandas(frame, preserve_index=False)
                parts.append(
                    (spec.name, table.group_by(key, use_threads=False).aggregate(aggs).to_pandas())
                )
        cols = ["table", "key", "first", "last", "rows", "currency", "currency_inferred"]
        if not parts:
            return pd.DataFrame(columns=[*cols, "source", "last_stored"])
        rows = []
        for name, df in parts:
            key = "currency" if name == "fx" else "ticker"
            rows.append(
                pd.DataFrame(
                    {
                        "table": name,
                        "key": df[key].astype(str),
                        "first": df["date_min"],
                        "last": df["date_max"],
                        "rows": df["date_count"],
                        "currency": df["currency_last"]
                        if "currency_last" in df
                        else (df[key].astype(str) if name == "fx" else None),
                        "currency_inferred": df.get("currency_inferred_any", False),
                        "source": df["source_distinct"],
                        "last_stored": df["stored_at_max"],
                    }
                )
            )
        allrows = pd.concat(rows, ignore_index=True)
        g = allrows.groupby(["table", "key"], sort=False)
        out = g.agg(
            first=("first", "min"),
            last=("last", "max"),
            rows=("rows", "sum"),
            currency=("currency", "last"),
            currency_inferred=("currency_inferred", "any"),
            source=("source", lambda s: ";".join(sorted({x for v in s for x in v}))),
            last_stored=("last_stored", "max"),
        ).reset_index()
        order = {"prices": 0, "fx": 1, "shares": 2}
        out = out.sort_values(
            ["table", "key"], key=lambda c: c.map(order) if c.name == "table" else c
        )
        out["first"] = out["first"].astype("datetime64[ns]")
        out["last"] = out["last"].astype("datetime64[ns]")
        return out.reset_index(drop=True)

    # -- migration, verification, repair --------------------------------------------------

    def _legacy_files(self) -> dict[str, list[Path]]:
        """Pre-Delta partition files still in place: table name -> ``<year>.parquet`` files."""
        out = {}
        for spec in (PRICES, FX, SHARES):
            folder = self.root / spec.name
            if folder.is_dir():
                files = sorted(p for p in folder.glob("*.parquet") if p.stem.isdigit())
                if files:
                    out[spec.name] = files
        return out

    def _migrate_if_needed(self) -> None:
        if self.as_stored is None and self._depth == 0 and self._legacy_files():
            with self.lock():
                pass  # lock() migrates under the lock

    def _migrate_locked(self) -> None:
        """Move a pre-Delta Parquet store into the Delta table in one commit, then move the old
        files to ``legacy-parquet/`` (never deleted). Idempotent: a migration killed before
        its commit is redone; one killed after it only moves the files aside."""
        legacy = self._legacy_files()
        if not legacy:
            return
        specs = {s.name: s for s in (PRICES, FX, SHARES)}
        if not self._exists():
            for name, files in legacy.items():
                spec = specs[name]
                for path in files:
                    try:
                        frame = pq.read_table(path).to_pandas()
                    except (OSError, pa.ArrowException) as exc:
                        raise DamagedDataError(
                            f"{path}: damaged Parquet file in the old store, cannot migrate "
                            f"({_first_line(exc)}); move it out of {self.root} and import or "
                            "fetch that year again, then rerun"
                        ) from None
                    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
                    self._stage(spec, int(path.stem), frame[list(spec.schema.names)])
            if self._pending:
                self._commit()
            self._pending, self._touched = {}, {}
        dest = self.root / LEGACY_DIR
        try:
            for name in legacy:
                target = dest / name
                target.mkdir(parents=True, exist_ok=True)
                for path in (self.root / name).iterdir():
                    path.rename(target / path.name)
                (self.root / name).rmdir()
        except OSError as exc:
            raise os_error(exc, self.root) from None
        print(
            f"note: migrated the store at {self.root} to Delta Lake (version {self.version()}); "
            f"the old Parquet files are kept in {dest}",
            file=sys.stderr,
        )

    def verify(self) -> list[str]:
        """Problems found checking the whole store: the commit log loads, every data file the
        current version references exists, has its recorded size and reads in full, and each
        table's keys are unique. Each problem names the file and the repair. Empty when sound."""
        if self._legacy_files():
            return [
                f"{self.root}: old Parquet layout not yet migrated; any command that opens the "
                "store migrates it (e.g. `exchina data info`)"
            ]
        try:
            dt = self._delta()
        except DamagedDataError as exc:
            return [f"{exc}; restore the `_delta_log` folder from a backup"]
        if dt is None:
            return []
        problems = []
        adds = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        for add in adds:
            path = self.table_path / add["path"]
            why = None
            if not path.is_file():
                why = "missing"
            elif path.stat().st_size != add["size_bytes"]:
                why = f"{path.stat().st_size} bytes, the commit log recorded {add['size_bytes']}"
            else:
                try:
                    n = pq.read_table(path).num_rows
                    if add.get("num_records") is not None and n != add["num_records"]:
                        why = f"{n} rows, the commit log recorded {add['num_records']}"
                except (OSError, pa.ArrowException) as exc:
                    why = f"unreadable ({_first_line(exc)})"
            if why:
                problems.append(f"{path}: {why}; repair: {self._repair_hint(add['path'])}")
        if not problems:
            for spec in (PRICES, FX, SHARES):
                keys = self._read(spec, columns=["date", spec.keys[0]])
                dup = keys.duplicated().sum()
                if dup:
                    problems.append(
                        f"{self.table_path}: {dup} duplicate {spec.name} rows; repair: "
                        f"{self._repair_hint(None)}"
                    )
        return problems

    def _repair_hint(self, relpath: str | None) -> str:
        """How to repair: restore the last version before ``relpath`` was added, then re-import."""
        from deltalake import DeltaTable

        current = self.version() or 0
        for v in range(current - 1, -1, -1):
            try:
                files = {
                    p.split("/", 1)[-1] if "://" not in p else p
                    for p in DeltaTable(str(self.table_path), version=v).file_uris()
                }
            except Exception:
                break
            if relpath is None or not any(f.endswith(relpath) for f in files):
                return (
                    f"`exchina data restore {v} --store {self.root}` returns the store to version "
                    f"{v} (before this file was written; later versions stay in the history), "
                    "then import or fetch what came after again"
                )
        return (
            f"no earlier version holds this data; remove {self.table_path} (move it away) and "
            "import or fetch again"
        )

    def restore(self, version: int) -> int:
        """Make ``version``'s data current again, as a new commit (history is kept); returns
        the new version."""
        from deltalake import DeltaTable

        with self.lock():
            if not self._exists():
                raise InputError(f"the store at {self.root} has no versions", field="version")
            try:
                DeltaTable(str(self.table_path)).restore(version)
            except Exception as exc:
                raise InputError(
                    f"cannot restore version {version}: {_first_line(exc)}", field="version"
                ) from None
        return int(self.version() or 0)


def price_currencies(clean: pd.DataFrame, origin: str | None = None) -> dict[str, str]:
    """Each ticker's one currency in validated price rows; ``InputError`` for a ticker whose
    rows are in two currencies (one series has one currency)."""
    per = clean.groupby(clean["ticker"].astype(str))["currency"].agg(lambda c: sorted(set(c)))
    for t, codes in per.items():
        if len(codes) > 1:
            raise InputError(
                f"{t} has rows in {', '.join(codes)}; one series has one currency",
                file=origin,
                field="currency",
            )
    return {str(t): str(codes[0]) for t, codes in per.items()}


def _pairs(table: pa.Table, tickers: list[str]) -> set[tuple[str, str]]:
    """Distinct (key, currency) pairs of ``table`` whose key is one of ``tickers``."""
    keep = table.filter(ds.field("key").isin(pa.array(tickers, pa.string())))
    uniq = keep.group_by(["key", "currency"], use_threads=False).aggregate([])
    return set(zip(uniq["key"].to_pylist(), uniq["currency"].to_pylist(), strict=True))


def _to_frame(spec: TableSpec, table: pa.Table, cols: list[str]) -> pd.DataFrame:
    """Rows read from the Delta table (already named as ``spec`` names them) as a frame with
    the store's dtypes, sorted by key and date."""
    out = table.to_pandas()
    if "date" in out.columns:
        out["date"] = out["date"].astype("datetime64[ns]")
    if "stored_at" in out.columns:
        out["stored_at"] = out["stored_at"].astype("datetime64[us, UTC]")
    for c in cols:
        if c in spec.schema.names and pa.types.is_string(spec.schema.field(c).type):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    if {spec.keys[0], "date"} <= set(out.columns):
        return out.sort_values([spec.keys[0], "date"], kind="stable").reset_index(drop=True)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _empty(spec: TableSpec, cols: list[str]) -> pd.DataFrame:
    empty = spec.schema.empty_table().to_pandas()[cols]
    return empty.astype({"date": "datetime64[ns]"}) if "date" in cols else empty


def _validate_simple(frame: pd.DataFrame, key: str, value: str, origin: str | None) -> pd.DataFrame:
    """Checks for the one-value tables: dates parse, key present, value positive and finite,
    one row per key and date."""
    rows = frame["_row"].to_numpy() if "_row" in frame.columns else np.arange(2, len(frame) + 2)
    dates, bad_date = parse_dates(frame["date"])
    vals = pd.to_numeric(frame[value], errors="coerce").astype("float64")
    checks = [
        (bad_date, "date", "not a date (expected YYYY-MM-DD)"),
        (frame[key].isna().to_numpy(), key, "missing"),
        (
            ~np.isfinite(vals.to_numpy()) | (vals.to_numpy() <= 0),
            value,
            "must be a positive number",
        ),
    ]
    out = pd.DataFrame({"date": dates, key: frame[key].astype("string"), value: vals})
    checks.append((out.duplicated([key, "date"]).to_numpy(), "date", "duplicate date"))
    found = [(int(rows[np.flatnonzero(m)[0]]), f, r) for m, f, r in checks if m.any()]
    if found:
        row, f, r = min(found)
        raise InputError(r, file=origin, row=row, field=f)
    return out
