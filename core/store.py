"""The market-data store: long-format Parquet tables of prices, FX and shares outstanding.

Layout under the store folder (``exchina.core.paths.store_dir``)::

    prices/<year>.parquet   date, ticker, close, adj_close, dividends, splits, volume, currency,
                            currency_inferred, source, stored_at
    fx/<year>.parquet       date, currency, usd_per_unit, source, stored_at
    shares/<year>.parquet   date, ticker, shares, source, stored_at
    .lock                   held while anything is written

Partitioning by calendar year keeps an incremental update (new days) to rewriting one small file,
and a full read to a handful of files. Every write is validated first, then merged into the
partitions it touches: rows with new keys are appended, rows whose values changed replace the old
ones (a revision, with a new ``stored_at``), identical rows keep their old ``stored_at`` and a
partition with nothing new is not rewritten at all (re-importing a file changes no byte). Each
file is written to a temporary name and renamed over the old one (atomic on POSIX), under a file
lock, so a crash or a second writer can never leave a half-written table. A write of nothing is a
no-op, never a truncation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from exchina.core.errors import InputError, LockHeldError
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
    eq = (av == bv).astype(bool) & ~na_a & ~na_b
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


def _atomic_write(frame: pd.DataFrame, path: Path, schema: pa.Schema) -> None:
    """Write ``frame`` to ``path`` through a temporary file and an atomic rename."""
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class MarketStore:
    """A market-data store folder; see the module docstring for layout and guarantees."""

    def __init__(self, root: str | Path | None = None, lock_timeout: float = 30.0) -> None:
        self.root = store_dir(root)
        self.lock_timeout = lock_timeout
        self._lock: FileLock | None = None

    def __repr__(self) -> str:
        return f"MarketStore({str(self.root)!r})"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock (re-entrant within this object); LockHeldError if another
        process keeps it longer than ``lock_timeout`` seconds."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = FileLock(str(self.root / ".lock"), timeout=self.lock_timeout)
        lock = self._lock
        try:
            lock.acquire()
        except Timeout as exc:
            raise LockHeldError(
                f"the store {self.root} is locked by another exchina process "
                f"(waited {self.lock_timeout:g} s); try again when it has finished"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    # -- generic table plumbing -------------------------------------------------------------

    def _files(self, spec: TableSpec, start=None, end=None) -> list[Path]:
        folder = self.root / spec.name
        if not folder.is_dir():
            return []
        lo = pd.Timestamp(start).year if start is not None else -1
        hi = pd.Timestamp(end).year if end is not None else 10**6
        return sorted(
            p for p in folder.glob("*.parquet") if p.stem.isdigit() and lo <= int(p.stem) <= hi
        )

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
            now = pd.Timestamp.now(tz="UTC")
            for year, part in new.groupby(years, sort=True):
                path = self.root / spec.name / f"{int(year)}.parquet"
                old = (
                    pq.read_table(path).to_pandas()
                    if path.exists()
                    else pd.DataFrame({c: pd.Series(dtype=object) for c in spec.schema.names})
                )
                merged, added, revised, unchanged = _merge(old, part, spec, now)
                summary.added += added
                summary.revised += revised
                summary.unchanged += unchanged
                if added or revised:
                    _atomic_write(merged, path, spec.schema)
                    summary.files_written.append(str(path))
        return summary

    def _read(
        self,
        spec: TableSpec,
        key_values: list[str] | None = None,
        start=None,
        end=None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        files = self._files(spec, start, end)
        cols = columns or spec.schema.names
        if not files:
            empty = spec.schema.empty_table().to_pandas()[cols]
            return empty.astype({"date": "datetime64[ns]"}) if "date" in cols else empty
        dataset = ds.dataset([str(p) for p in files], schema=spec.schema, format="parquet")
        expr = None
        if key_values is not None:
            expr = ds.field(spec.keys[0]).isin(list(key_values))
        if start is not None:
            e = ds.field("date") >= pa.scalar(pd.Timestamp(start), pa.timestamp("ms"))
            expr = e if expr is None else expr & e
        if end is not None:
            e = ds.field("date") <= pa.scalar(pd.Timestamp(end), pa.timestamp("ms"))
            expr = e if expr is None else expr & e
        out = dataset.to_table(columns=cols, filter=expr).to_pandas()
        if "date" in out.columns:
            out["date"] = out["date"].astype("datetime64[ns]")
        return out

    # -- prices ------------------------------------------------------------------------------

    def write_prices(
        self, frame: pd.DataFrame, source: str | None = None, origin: str | None = None
    ) -> WriteSummary:
        """Validate and merge long price rows (``PRICE_COLUMNS``); ``source`` labels them (else
        the frame's own ``source`` column does).

        ``origin`` names the input in error messages (a file, ``yahoo``). Nothing is written
        unless every row passes.
        """
        if frame is None or not len(frame):
            return WriteSummary(PRICES.name)
        clean, _ = validate_prices(frame, file=origin)
        return self._write(PRICES, clean, source)

    def read_prices(
        self, tickers: list[str] | None = None, start=None, end=None, columns=None
    ) -> pd.DataFrame:
        """Long price rows, optionally for some tickers and ``[start, end]``."""
        return self._read(PRICES, tickers, start, end, columns)

    def has_prices(self) -> bool:
        """True when the store holds any price row."""
        return bool(self._files(PRICES))

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
        currency, sources and when it was last stored (aggregated in Arrow, file by file)."""
        parts = []
        for spec in (PRICES, FX, SHARES):
            key = spec.keys[0]
            aggs = [("date", "min"), ("date", "max"), ("date", "count"), ("stored_at", "max"),
                    ("source", "distinct")]  # fmt: skip
            if spec is PRICES:
                aggs += [("currency", "last"), ("currency_inferred", "any")]
            for path in self._files(spec):
                cols = list(dict.fromkeys([key, *(a[0] for a in aggs)]))
                parts.append(
                    (
                        spec.name,
                        pq.read_table(path, columns=cols)
                        .group_by(key, use_threads=False)
                        .aggregate(aggs)
                        .to_pandas(),
                    )
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
