"""Import price files a user already has (CSV or Parquet) into the store.

Shapes read: Yahoo's CSV export (``Date,Open,High,Low,Close,Adj Close,Volume``), yfinance's
``to_csv`` / ``to_parquet`` of ``Ticker.history`` (``Date`` with or without a time-zone offset,
``Dividends``, ``Stock Splits``) and of ``download`` (the three-line ``Price / Ticker / Date``
header, one or many tickers), close-only files (``Date,Close``) and long files with ``Ticker`` and
``Currency`` columns. Open, High and Low are read past. Column names are matched without regard to
case, spaces or underscores.

Meaning of the price columns, following what yfinance writes: a file with both ``Close`` and
``Adj Close`` has a split-adjusted close and a dividend-adjusted close; a file with ``Close`` alone
(no ``Adj Close``) was saved with ``auto_adjust=True``, so its ``Close`` is stored as the adjusted
close (``adj_close``) and the split-adjusted close is left unknown (``load_market`` derives it from
the dividends when the file has them, else uses the adjusted close with zero dividends).

Ticker: ``--ticker``, else a ``Ticker`` column, else the file name (``LYC.AX.csv`` -> ``LYC.AX``,
``AMG_AS.csv`` -> ``AMG.AS``). Currency: ``--currency``, else a ``Currency`` column, else inferred
from the Yahoo suffix (``exchina.core.fx.SUFFIX_CURRENCY``; no suffix -> USD) and recorded as
inferred; pence (``GBp``, and ``.L`` files by default) are converted to pounds. A file named for an
FX pair (``AUDUSD=X.csv``) is stored as the FX series of that currency.

Every file is read and validated before anything is written; one bad row rejects the import.
Large files are read in batches of ``BATCH_ROWS`` rows (pandas' chunked CSV reader): each batch is
validated with the same rules, its rows spooled to disk one Parquet file per year, and the store
then merges one year at a time into one commit, so memory is bounded by a batch and a year, not
by the file (``bench/bench_import.py``).
"""

from __future__ import annotations

import codecs
import csv
import ctypes
import gc
import gzip
import tempfile
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BufferedReader
from itertools import chain
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from exchina.core.atomic import os_error
from exchina.core.errors import InputError
from exchina.core.fx import SUFFIX_CURRENCY, fx_currency, infer_currency, normalise_currency
from exchina.core.inputs import check_ticker
from exchina.core.store import MarketStore, WriteSummary, price_currencies
from exchina.core.validate import PRICE_COLUMNS, jump_warnings, validate_prices

BATCH_ROWS = 50_000
"""Rows of a CSV read, validated and spooled at a time."""

_ALIASES = {
    "date": "date",
    "datetime": "date",
    "timestamp": "date",
    "close": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "volume": "volume",
    "dividends": "dividends",
    "stocksplits": "splits",
    "splits": "splits",
    "ticker": "ticker",
    "symbol": "ticker",
    "currency": "currency",
}
_PRICE_SCALED = ("close", "adj_close", "dividends")
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
_T = TypeVar("_T")

Batch = list[tuple[pd.DataFrame, np.ndarray]]
"""Raw text frames with canonical column names, each with its rows' spreadsheet numbers."""


@dataclass
class ImportedSeries:
    """One ticker (or FX pair) read from one file and validated: what it holds. ``frame`` (the
    rows themselves) is kept by ``read_price_file``; an import streams the rows to the store."""

    file: Path
    ticker: str
    kind: str  # "prices" or "fx"
    currency: str
    currency_inferred: bool
    first: pd.Timestamp
    last: pd.Timestamp
    rows: int
    warnings: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None


@dataclass
class ImportReport:
    """What an import read and what it changed in the store."""

    series: list[ImportedSeries]
    prices: WriteSummary
    fx: WriteSummary

    @property
    def warnings(self) -> list[str]:
        return [w for s in self.series for w in s.warnings]


def _key(name: object) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def ticker_from_filename(path: Path) -> str:
    """``LYC.AX.csv`` -> ``LYC.AX``; ``AMG_AS.csv`` -> ``AMG.AS`` (a known Yahoo suffix)."""
    name = path.name
    for ext in (".csv.gz", ".csv", ".parquet", ".pq"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    if "." not in name and "_" in name:
        base, suffix = name.rsplit("_", 1)
        if suffix.upper() in SUFFIX_CURRENCY:
            name = f"{base}.{suffix.upper()}"
    return name


# -- reading CSV text batch by batch --------------------------------------------------------------


def _open(path: Path) -> gzip.GzipFile | BufferedReader:
    """The file's bytes, decompressed when it ends in ``.gz``."""
    try:
        return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise os_error(exc, path) from None


def _gzip_error(exc: BaseException, path: Path) -> InputError:
    return InputError(f"not a readable gzip file ({exc})", file=path)


def _head(path: Path, lines: int = 3) -> str:
    """The first ``lines`` lines as text (UTF-8, a BOM allowed); binary data is refused."""
    data, cut = b"", False
    try:
        with _open(path) as fh:
            while data.count(b"\n") < lines:
                chunk = fh.read(65_536)
                if not chunk:
                    break
                data += chunk
            cut = bool(fh.read(1))
    except _GZIP_ERRORS as exc:
        raise _gzip_error(exc, path) from None
    except OSError as exc:
        raise os_error(exc, path) from None
    if b"\x00" in data[:4096]:
        raise InputError("binary data, not a CSV text file", file=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if cut and exc.reason == "unexpected end of data":  # a character cut by the read
            return data[: exc.start].decode("utf-8-sig")
        raise _utf8_error(path) from None


def _utf8_error(path: Path) -> InputError:
    """The first byte that is not UTF-8 and its line (the file is scanned again, in blocks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with _open(path) as fh:
        while block := fh.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                pos = max(exc.start, 0)
                bad = block[pos] if pos < len(block) else 0
                line += block[:pos].count(b"\n")
                break
            line += block.count(b"\n")
            offset += len(block)
        else:
            return InputError("not UTF-8 text; save the file as UTF-8", file=path)
    return InputError(
        f"not UTF-8 text (byte 0x{bad:02x} on line {line}); save the file as UTF-8",
        file=path,
        row=line,
    )


def _parse_error(exc: BaseException, path: Path) -> InputError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = " (an unclosed quote?)" if "EOF" in detail else ""
    return InputError(
        f"cannot parse as CSV: {detail}{hint}; every row needs the header's fields", file=path
    )


def _chunks(path: Path, first_row: int, **kwargs) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """``pandas.read_csv`` in chunks of ``BATCH_ROWS`` rows, all text, each with its rows'
    spreadsheet numbers (the first data row is ``first_row``). A row with more fields than the
    header, an unclosed quote or any other parser error is an ``InputError`` naming the file."""
    offset = 0
    with _open(path) as fh:
        reader = _csv_call(path, lambda: pd.read_csv(
            fh, chunksize=BATCH_ROWS, dtype=str, keep_default_na=False, skip_blank_lines=False,
            index_col=False, encoding="utf-8-sig", **kwargs,
        ))  # fmt: skip
        if reader is None:
            return
        with reader:
            while (chunk := _csv_call(path, lambda: next(reader, None))) is not None:
                rows = np.arange(first_row + offset, first_row + offset + len(chunk))
                offset += len(chunk)
                yield chunk, rows


def _csv_call(path: Path, read: Callable[[], _T]) -> _T | None:
    """``read()`` (a step of pandas' CSV reader) with its failures as one-line errors naming
    the file; None when there is nothing (more) to read."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return read()
        except pd.errors.EmptyDataError:
            return None
        except UnicodeDecodeError:
            raise _utf8_error(path) from None
        except _GZIP_ERRORS as exc:
            raise _gzip_error(exc, path) from None
        except (pd.errors.ParserError, pd.errors.ParserWarning, csv.Error, ValueError) as exc:
            raise _parse_error(exc, path) from None
        except OSError as exc:
            raise os_error(exc, path) from None


def _check_header(names: list[str], path: Path) -> None:
    """Two columns that mean the same field (``Close`` twice) are an error, not a guess; a
    Date column is required."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        key = _ALIASES.get(_key(name))
        if key is None:
            continue
        if key in seen:
            raise InputError(
                f"duplicate column {name!r} (columns {seen[key]} and {i} are both {key})",
                file=path,
                row=1,
                field=name,
            )
        seen[key] = i
    if "date" not in seen:
        raise InputError("no Date column", file=path, row=1, field="Date")


def _csv_batches(path: Path) -> Iterator[Batch]:
    """A CSV file batch by batch (see ``Batch``)."""
    text = _head(path)
    if not text.strip():
        raise InputError("empty file", file=path)
    lines = text.splitlines()
    head = next(csv.reader([lines[0]]))
    second = next(csv.reader([lines[1]])) if len(lines) > 1 else []
    if head and _key(head[0]) == "price" and second and _key(second[0]) == "ticker":
        # yfinance download().to_csv(): Price / Ticker / Date header lines, then data.
        skip = 3 if len(lines) > 2 and _key(lines[2].split(",")[0]) == "date" else 2
        tickers = list(dict.fromkeys(t for t in second[1:] if t))
        columns = {}
        for t in tickers:
            cols = {0: "date"}
            for i, (p, tk) in enumerate(zip(head, second, strict=False)):
                if i and tk == t and _key(p) in _ALIASES:
                    cols[i] = _ALIASES[_key(p)]
            columns[t] = cols
        for body, rows in _chunks(path, skip + 1, header=None, skiprows=skip):
            yield [
                (body[list(cols)].set_axis(list(cols.values()), axis=1).assign(ticker=t), rows)
                for t, cols in columns.items()
            ]
        return
    _check_header(head, path)
    for body, rows in _chunks(path, 2):
        yield [(_canonical(body, path), rows)]


def _canonical(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    cols = {c: _ALIASES[_key(c)] for c in frame.columns if _key(c) in _ALIASES}
    out = frame[list(cols)].set_axis(list(cols.values()), axis=1)
    if "date" not in out.columns:
        raise InputError("no Date column", file=path, row=1, field="Date")
    return out


def _read_parquet(path: Path) -> Batch:
    """Parquet: the date may be the index; (Price, Ticker) MultiIndex columns split per ticker."""
    frame = pd.read_parquet(path)
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    rows = np.arange(1, len(frame) + 1)
    if isinstance(frame.columns, pd.MultiIndex):
        date_col = next(c for c in frame.columns if _key(c[0]) in ("date", "datetime", "index"))
        tickers = list(dict.fromkeys(t for _, t in frame.columns if t))
        out = []
        for t in tickers:
            cols = {date_col: "date"}
            cols |= {
                c: _ALIASES[_key(c[0])]
                for c in frame.columns
                if c[1] == t and _key(c[0]) in _ALIASES
            }
            part = pd.DataFrame({v: frame[k].to_numpy() for k, v in cols.items()}).assign(ticker=t)
            out.append((part, rows))
        return out
    frame = frame.rename(columns={frame.columns[0]: "Date"}) if "index" in frame.columns else frame
    return [(_canonical(frame, path), rows)]


def _batches(path: Path) -> Iterator[Batch]:
    """A price file's raw rows, batch by batch (a Parquet file is one batch)."""
    if not path.is_file():
        raise InputError("file not found", file=path)
    if path.stat().st_size == 0:
        raise InputError("empty file", file=path)
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        yield _read_parquet(path)
    elif name.endswith((".csv", ".csv.gz", ".txt")):
        yield from _csv_batches(path)
    else:
        raise InputError("unsupported file type (expected .csv or .parquet)", file=path)


def _apply_currency(
    frame: pd.DataFrame, ticker: str, currency: str | None, path: Path
) -> pd.DataFrame:
    """Set ``currency`` / ``currency_inferred`` and convert minor units (pence) to major."""
    frame = frame.copy()
    if currency is not None:
        try:
            iso, factor = normalise_currency(currency)
        except ValueError as exc:
            raise InputError(str(exc), file=path, field="currency") from exc
        codes = pd.Series(iso, index=frame.index)
        factors = pd.Series(factor, index=frame.index)
        inferred = False
    elif "currency" in frame.columns:
        raw = frame["currency"].astype(str).str.strip()
        known = {}
        for code in raw.unique():
            try:
                known[code] = normalise_currency(code)
            except ValueError:
                known[code] = (code, 1.0)  # left for validate_prices to reject with its row
        codes = raw.map(lambda c: known[c][0])
        factors = raw.map(lambda c: known[c][1]).astype(float)
        inferred = False
    else:
        try:
            iso, factor = infer_currency(ticker)
        except ValueError as exc:
            raise InputError(str(exc), file=path, field="currency") from exc
        codes = pd.Series(iso, index=frame.index)
        factors = pd.Series(factor, index=frame.index)
        inferred = True
    if (factors != 1.0).any():
        for c in _PRICE_SCALED:
            if c in frame.columns:
                num = pd.to_numeric(frame[c], errors="coerce")
                scaled = (num * factors).astype(object)
                frame[c] = frame[c].astype(object).where(num.isna(), scaled)
    frame["currency"] = codes
    frame["currency_inferred"] = inferred
    return frame


@dataclass
class _Series:
    """What reading one ticker of one file has seen so far (the file is read in batches)."""

    ticker: str
    kind: str  # "prices" or "fx"
    currency: str = ""
    inferred: bool = False
    rows: int = 0
    skipped: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    adjusted: bool = False  # an adjusted close seen (else Close is the auto-adjusted close)
    tail: pd.DataFrame | None = None  # the last validated row, for jumps across batches
    notes: list[str] = field(default_factory=list)

    def summary(self, path: Path, frame: pd.DataFrame | None = None) -> ImportedSeries:
        notes = list(self.notes)
        if self.skipped:
            notes.append(f"{path}: {self.skipped} row(s) without a price skipped")
        if self.inferred:
            notes.append(f"{path}: {currency_note(self.ticker, self.currency)}")
        assert self.first is not None and self.last is not None
        return ImportedSeries(path, self.ticker, self.kind, self.currency, self.inferred,
                              self.first, self.last, self.rows, notes, frame)  # fmt: skip


def _validated(
    path: Path, ticker: str | None, currency: str | None
) -> Iterator[tuple[_Series, pd.DataFrame]]:
    """One file's validated rows, batch by batch and ticker by ticker, each with its ticker's
    running ``_Series``: price rows as ``validate_prices`` gives them (with ``_row``), FX rows
    as ``date, currency, usd_per_unit, _row``. The first bad row raises ``InputError``."""
    seen: dict[str, _Series] = {}
    any_rows = False
    for batch in _batches(path):
        for raw, rows in batch:
            frame = raw.assign(_row=rows)
            blank = frame.drop(columns=["_row"]).astype("string").fillna("").isin([""]).all(axis=1)
            frame = frame[~blank.to_numpy()]
            if not len(frame):
                continue
            any_rows = True
            if ticker:
                frame = frame.assign(ticker=ticker)
            elif "ticker" not in frame.columns:
                frame = frame.assign(ticker=ticker_from_filename(path))
            for tk, part in frame.groupby("ticker", sort=True):
                name = str(tk)
                if name not in seen:
                    check_ticker(name, file=str(path), row=int(part["_row"].iloc[0]))
                    seen[name] = _Series(name, "fx" if fx_currency(name) else "prices")
                clean = _validate_part(part, seen[name], currency, path)
                if clean is not None:
                    yield seen[name], clean
    if not any_rows:
        raise InputError("no price rows after the header", file=path, row=2)
    for st in seen.values():
        if not st.rows:
            raise InputError("no rows with a price", file=path, row=2, field="Close")


def _validate_part(
    part: pd.DataFrame, st: _Series, currency: str | None, path: Path
) -> pd.DataFrame | None:
    """Validate one batch of one ticker's rows and update its ``_Series``."""
    if st.kind == "fx":
        part = part.assign(currency="USD", currency_inferred=False)
    else:
        part = _apply_currency(part, st.ticker, currency, path)
    clean, _ = validate_prices(part, file=str(path), notes=False)
    st.skipped += len(part) - len(clean)
    if not len(clean):
        return None
    codes = set(price_currencies(clean, str(path)).values()) | ({st.currency} - {""})
    if st.kind == "prices" and len(codes) > 1:
        raise InputError(
            f"{st.ticker} has rows in {', '.join(sorted(codes))}; one series has one currency",
            file=path,
            field="currency",
        )
    with_prev = clean if st.tail is None else pd.concat([st.tail, clean], ignore_index=True)
    st.notes += jump_warnings(with_prev, str(path))
    st.tail = clean.iloc[[-1]]
    st.rows += len(clean)
    lo, hi = pd.Timestamp(clean["date"].min()), pd.Timestamp(clean["date"].max())
    st.first = lo if st.first is None else min(st.first, lo)
    st.last = hi if st.last is None else max(st.last, hi)
    st.adjusted |= bool(clean["adj_close"].notna().any())
    if st.kind == "fx":
        st.currency = str(fx_currency(st.ticker))
        rate = clean["close"].fillna(clean["adj_close"])
        return pd.DataFrame({"date": clean["date"], "currency": st.currency,
                             "usd_per_unit": rate, "_row": clean["_row"]})  # fmt: skip
    st.currency = str(clean["currency"].iloc[-1])
    st.inferred = bool(clean["currency_inferred"].iloc[-1])
    return clean


def currency_note(ticker: str, ccy: str) -> str:
    """What was done about a file without a currency column, in words (said once, on import)."""
    if "." in ticker:
        suffix = ticker.rsplit(".", 1)[1]
        return f"no currency column: {ticker} taken as {ccy}, the currency of exchange suffix .{suffix}"
    return f"no currency column: {ticker} has no exchange suffix, taken as {ccy} (a US listing)"


def _closes_only(frame: pd.DataFrame) -> pd.DataFrame:
    """A Close without Adj Close is yfinance's auto-adjusted close: store it as such."""
    return frame.assign(adj_close=frame["close"], close=np.nan)


def read_price_file(
    path: str | Path, ticker: str | None = None, currency: str | None = None
) -> list[ImportedSeries]:
    """Read and validate one CSV or Parquet price file: one ``ImportedSeries`` per ticker in it,
    with its rows in ``frame`` (for an import of large files, ``import_files`` streams)."""
    path = Path(path)
    parts: dict[str, list[pd.DataFrame]] = {}
    seen: dict[str, _Series] = {}
    for st, clean in _validated(path, ticker, currency):
        parts.setdefault(st.ticker, []).append(clean)
        seen[st.ticker] = st
    out = []
    for tk in sorted(parts):
        st = seen[tk]
        frame = pd.concat(parts[tk], ignore_index=True)
        key = "currency" if st.kind == "fx" else "ticker"
        problem = _key_problem(frame.assign(ticker=frame[key], _file=0), [path])
        if problem is not None:
            raise problem
        frame = frame.sort_values("date", kind="stable").drop(columns="_row")
        if st.kind == "prices" and not st.adjusted:
            frame = _closes_only(frame)
        out.append(st.summary(path, frame.reset_index(drop=True)))
    return out


# -- importing: validated rows spooled by year, then one store transaction -------------------------

_SPOOL = pa.schema(
    [
        ("date", pa.timestamp("ns")),
        ("ticker", pa.string()),
        *[(c, pa.float64()) for c in ("close", "adj_close", "dividends", "splits", "volume")],
        ("currency", pa.string()),
        ("currency_inferred", pa.bool_()),
        ("source", pa.string()),
        ("_row", pa.int64()),
        ("_file", pa.int32()),
    ]
)
assert set(PRICE_COLUMNS) <= set(_SPOOL.names)


class _Spool:
    """Validated price rows on disk, one Parquet file per year, so that an import holds one
    batch (while reading) or one year (while merging) in memory, never a whole file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._writers: dict[int, pq.ParquetWriter] = {}

    def add(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame[_SPOOL.names], schema=_SPOOL, preserve_index=False)
        years = frame["date"].dt.year.to_numpy()
        for year in np.unique(years).tolist():
            writer = self._writers.get(year)
            if writer is None:
                writer = pq.ParquetWriter(self.folder / f"{year}.parquet", _SPOOL)
                self._writers[year] = writer
            writer.write_table(table.filter(pa.array(years == year)))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()

    def years(self) -> list[int]:
        return sorted(self._writers)

    def read(self, year: int, columns: list[str] | None = None) -> pd.DataFrame:
        return pq.read_table(self.folder / f"{year}.parquet", columns=columns).to_pandas()


def _year_rows(spool: _Spool, year: int, closes_only: set[str]) -> pd.DataFrame:
    """One year of spooled rows, a Close-only series' closes stored as adjusted closes."""
    frame = spool.read(year)
    auto = (frame["_file"].astype(str) + "|" + frame["ticker"]).isin(closes_only).to_numpy()
    if not auto.any():
        return frame
    return pd.concat([frame[~auto], _closes_only(frame[auto])])


def _release_memory() -> None:
    """Hand freed memory back to the system between phases of a large import: the read phase
    leaves many small freed blocks (Python objects of the CSV batches) that the allocators keep
    otherwise, and the per-year merge would grow on top of them (glibc's ``malloc_trim``;
    nothing where it does not exist)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _key_problem(keys: pd.DataFrame, files: list[Path]) -> InputError | None:
    """The first (ticker, date) given twice among ``keys`` (``ticker, date, _file, _row``):
    twice in one file, or in two files of one import."""
    dup = keys.duplicated(["ticker", "date"], keep=False).to_numpy()
    if not dup.any():
        return None
    rows = keys.loc[dup, ["ticker", "date", "_file", "_row"]].sort_values(["_file", "_row"])
    first = rows.drop_duplicates(["ticker", "date"])
    later = rows[rows.duplicated(["ticker", "date"])]
    pairs = later.merge(first, on=["ticker", "date"], suffixes=("", "_first"))
    same = pairs[pairs["_file"] == pairs["_file_first"]]
    if len(same):
        r = same.sort_values(["_file", "_row"]).iloc[0]
        return InputError(
            f"duplicate date {r['date']:%Y-%m-%d} for {r['ticker']} (first at row "
            f"{int(r['_row_first'])})",
            file=files[int(r["_file"])],
            row=int(r["_row"]),
            field="date",
        )
    r = pairs.sort_values(["_file", "_row"]).iloc[0]
    return InputError(
        f"{r['ticker']} on {r['date']:%Y-%m-%d} is also in {files[int(r['_file_first'])]}; "
        "import one of them at a time (the later import revises the earlier)",
        file=files[int(r["_file"])],
        field="date",
    )


def _one_currency(series: list[ImportedSeries]) -> dict[str, str]:
    """Each imported price ticker's currency; one ticker in two currencies (two files) is an
    error."""
    out: dict[str, ImportedSeries] = {}
    for s in (s for s in series if s.kind == "prices"):
        prev = out.setdefault(s.ticker, s)
        if prev.currency != s.currency:
            raise InputError(
                f"{s.ticker} has rows in {prev.currency} ({prev.file}) and {s.currency}; one "
                "series has one currency",
                file=s.file,
                field="currency",
            )
    return {t: s.currency for t, s in out.items()}


def import_files(
    paths: list[str | Path],
    store: MarketStore | None = None,
    ticker: str | None = None,
    currency: str | None = None,
    replace_series: bool = False,
) -> ImportReport:
    """Read, validate and store price (or FX) files in one store commit; nothing is written
    unless all pass. ``replace_series`` replaces each ticker's whole stored price series.
    Files are read in batches and spooled to a temporary folder (bounded memory)."""
    if not paths:
        raise InputError("no files given")
    if ticker:
        check_ticker(ticker, field="--ticker")
    if ticker and len(paths) > 1:
        raise InputError("--ticker applies to a single file", field="ticker")
    store = store or MarketStore()
    files = [Path(p) for p in paths]
    series: list[ImportedSeries] = []
    fx: dict[tuple[int, str], list[pd.DataFrame]] = {}
    closes_only: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="exchina-import-") as tmp:
        spool = _Spool(Path(tmp))
        try:
            for i, path in enumerate(files):
                seen: dict[str, _Series] = {}
                label = f"file:{path.name}"
                for st, clean in _validated(path, ticker, currency):
                    seen[st.ticker] = st
                    if st.kind == "fx":
                        fx.setdefault((i, st.ticker), []).append(clean)
                    else:
                        spool.add(clean.assign(source=label, _file=i))
                series += [seen[t].summary(path) for t in sorted(seen)]
                closes_only |= {f"{i}|{t}" for t, s in seen.items() if not s.adjusted}
        finally:
            spool.close()
        currencies = _one_currency(series)
        fx_frames = {k: pd.concat(v, ignore_index=True) for k, v in fx.items()}
        fx_keys = [f.assign(ticker=f["currency"], _file=i) for (i, _), f in fx_frames.items()]
        for keys in chain(
            (spool.read(y, ["ticker", "date", "_file", "_row"]) for y in spool.years()),
            [pd.concat(fx_keys, ignore_index=True)] if fx_keys else [],
        ):  # one year's keys at a time
            problem = _key_problem(keys, files)
            if problem is not None:
                raise problem
        keys = None  # the last year's keys
        _release_memory()

        def parts() -> Iterator[pd.DataFrame]:
            for year in spool.years():  # the generator keeps no reference to a yielded year
                _release_memory()
                yield _year_rows(spool, year, closes_only)

        with store.lock():
            p_sum = (
                store.write_price_parts(parts(), currencies, replace_series=replace_series)
                if currencies
                else WriteSummary("prices")
            )
            f_sum = WriteSummary("fx")
            for (i, _), f in fx_frames.items():
                done = store.write_fx(f.drop(columns="_row"), source=f"file:{files[i].name}")
                f_sum = _add(f_sum, done)
    return ImportReport(series, p_sum, f_sum)


def _add(a: WriteSummary, b: WriteSummary) -> WriteSummary:
    return WriteSummary(
        a.table,
        a.added + b.added,
        a.revised + b.revised,
        a.unchanged + b.unchanged,
        a.files_written + b.files_written,
    )
