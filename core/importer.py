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

Every file is read and validated before anything is written; one bad file rejects the import.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exchina.core.atomic import os_error
from exchina.core.errors import InputError
from exchina.core.fx import SUFFIX_CURRENCY, fx_currency, infer_currency, normalise_currency
from exchina.core.inputs import check_ticker, decode_utf8
from exchina.core.store import MarketStore, WriteSummary
from exchina.core.validate import validate_prices

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


@dataclass
class ImportedSeries:
    """One ticker (or FX pair) read from one file, validated, ready to store."""

    file: Path
    ticker: str
    kind: str  # "prices" or "fx"
    currency: str
    currency_inferred: bool
    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def first(self) -> pd.Timestamp:
        return pd.Timestamp(self.frame["date"].min())

    @property
    def last(self) -> pd.Timestamp:
        return pd.Timestamp(self.frame["date"].max())


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


def _csv_text(path: Path) -> str:
    """The file's text: UTF-8 (a BOM allowed), gzip-compressed when it ends in ``.gz``."""
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno:
            raise os_error(exc, path) from None
        raise InputError(f"not a readable gzip file ({exc})", file=path) from None
    if b"\x00" in data[:4096]:
        raise InputError("binary data, not a CSV text file", file=path)
    return decode_utf8(data, path, "save the file as UTF-8", encoding="utf-8-sig")


def _parse_csv(text: str, path: Path, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` of text; a row with more fields than the header, an unclosed quote or
    any other parser error is an ``InputError`` naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                index_col=False,
                **kwargs,
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning, csv.Error, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = " (an unclosed quote?)" if "EOF" in detail else ""
        raise InputError(
            f"cannot parse as CSV: {detail}{hint}; every row needs the header's fields",
            file=path,
        ) from None


def _check_header(names: list[str], path: Path) -> None:
    """Two columns that mean the same field (``Close`` twice) are an error, not a guess."""
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


def _read_csv(path: Path) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """Raw text frames with canonical column names and their spreadsheet row numbers."""
    text = _csv_text(path)
    if not text.strip():
        raise InputError("empty file", file=path)
    lines = text.splitlines()
    head = next(csv.reader([lines[0]]))
    second = next(csv.reader([lines[1]])) if len(lines) > 1 else []
    if head and _key(head[0]) == "price" and second and _key(second[0]) == "ticker":
        # yfinance download().to_csv(): Price / Ticker / Date header lines, then data.
        skip = 3 if len(lines) > 2 and _key(lines[2].split(",")[0]) == "date" else 2
        body = _parse_csv("\n".join(lines[skip:]), path, header=None)
        rows = np.arange(skip + 1, skip + 1 + len(body))
        tickers = list(dict.fromkeys(t for t in second[1:] if t))
        out = []
        for t in tickers:
            cols = {0: "date"}
            for i, (p, tk) in enumerate(zip(head, second, strict=False)):
                if i and tk == t and _key(p) in _ALIASES:
                    cols[i] = _ALIASES[_key(p)]
            frame = body[list(cols)].set_axis(list(cols.values()), axis=1).assign(ticker=t)
            out.append((frame, rows))
        return out
    _check_header(head, path)
    body = _parse_csv(text, path)
    return [(_canonical(body, path), np.arange(2, 2 + len(body)))]


def _canonical(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    cols = {c: _ALIASES[_key(c)] for c in frame.columns if _key(c) in _ALIASES}
    out = frame[list(cols)].set_axis(list(cols.values()), axis=1)
    if "date" not in out.columns:
        raise InputError("no Date column", file=path, row=1, field="Date")
    return out


def _read_parquet(path: Path) -> list[tuple[pd.DataFrame, np.ndarray]]:
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


def read_price_file(
    path: str | Path, ticker: str | None = None, currency: str | None = None
) -> list[ImportedSeries]:
    """Read and validate one CSV or Parquet price file: one ``ImportedSeries`` per ticker in it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    if path.stat().st_size == 0:
        raise InputError("empty file", file=path)
    suffix = path.name.lower()
    if suffix.endswith((".parquet", ".pq")):
        raw = _read_parquet(path)
    elif suffix.endswith((".csv", ".csv.gz", ".txt")):
        raw = _read_csv(path)
    else:
        raise InputError("unsupported file type (expected .csv or .parquet)", file=path)
    out: list[ImportedSeries] = []
    for frame, rows in raw:
        frame = frame.assign(_row=rows)
        cells = frame.drop(columns=["_row"]).astype("string").fillna("")
        blank = (cells == "").all(axis=1)
        frame = frame[~blank.to_numpy()]
        if not len(frame):
            raise InputError("no price rows after the header", file=path, row=2)
        if ticker:
            frame = frame.assign(ticker=ticker)
        elif "ticker" not in frame.columns:
            frame = frame.assign(ticker=ticker_from_filename(path))
        for tk, part in frame.groupby("ticker", sort=True):
            out.append(_series(part, str(tk), currency, path))
    return out


def _series(frame: pd.DataFrame, ticker: str, currency: str | None, path: Path) -> ImportedSeries:
    check_ticker(
        ticker, file=str(path), row=int(frame["_row"].iloc[0]) if "_row" in frame else None
    )
    fx_ccy = fx_currency(ticker)
    if fx_ccy:
        frame = frame.assign(currency="USD", currency_inferred=False)
    else:
        frame = _apply_currency(frame, ticker, currency, path)
    clean, warnings = validate_prices(frame, file=str(path))
    if not len(clean):
        raise InputError("no rows with a price", file=path, row=2, field="Close")
    if fx_ccy:
        rate = clean["close"].fillna(clean["adj_close"])
        fx = pd.DataFrame({"date": clean["date"], "currency": fx_ccy, "usd_per_unit": rate})
        return ImportedSeries(path, ticker, "fx", fx_ccy, False, fx, warnings)
    # A Close without Adj Close is yfinance's auto-adjusted close: store it as such.
    if clean["adj_close"].isna().all():
        clean = clean.assign(adj_close=clean["close"], close=np.nan)
    ccy = str(clean["currency"].iloc[-1])
    inferred = bool(clean["currency_inferred"].iloc[-1])
    if inferred:
        warnings.append(f"{path}: {currency_note(ticker, ccy)}")
    return ImportedSeries(path, ticker, "prices", ccy, inferred, clean, warnings)


def currency_note(ticker: str, ccy: str) -> str:
    """What was done about a file without a currency column, in words (said once, on import)."""
    if "." in ticker:
        suffix = ticker.rsplit(".", 1)[1]
        return f"no currency column: {ticker} taken as {ccy}, the currency of exchange suffix .{suffix}"
    return f"no currency column: {ticker} has no exchange suffix, taken as {ccy} (a US listing)"


def _check_overlaps(series: list[ImportedSeries]) -> None:
    """Two files in one import must not both give the same ticker on the same date."""
    seen: dict[tuple[str, str], ImportedSeries] = {}
    for s in series:
        key = (s.kind, s.ticker)
        prev = seen.get(key)
        if prev is not None:
            common = pd.Index(prev.frame["date"]).intersection(pd.Index(s.frame["date"]))
            if len(common):
                raise InputError(
                    f"{s.ticker} on {common.min():%Y-%m-%d} is also in {prev.file}; import one "
                    "of them at a time (the later import revises the earlier)",
                    file=s.file,
                    field="date",
                )
        seen[key] = s


def import_files(
    paths: list[str | Path],
    store: MarketStore | None = None,
    ticker: str | None = None,
    currency: str | None = None,
    replace_series: bool = False,
) -> ImportReport:
    """Read, validate and store price (or FX) files in one store commit; nothing is written
    unless all pass. ``replace_series`` replaces each ticker's whole stored price series."""
    if not paths:
        raise InputError("no files given")
    if ticker:
        check_ticker(ticker, field="--ticker")
    if ticker and len(paths) > 1:
        raise InputError("--ticker applies to a single file", field="ticker")
    store = store or MarketStore()
    series = [s for p in paths for s in read_price_file(p, ticker=ticker, currency=currency)]
    _check_overlaps(series)
    label = {s.file: f"file:{s.file.name}" for s in series}
    prices = [s.frame.assign(source=label[s.file]) for s in series if s.kind == "prices"]
    fxs = [s.frame.assign(source=label[s.file]) for s in series if s.kind == "fx"]
    with store.lock():
        p_sum = (
            store.write_prices(pd.concat(prices, ignore_index=True), replace_series=replace_series)
            if prices
            else None
        )
        f_sum = None
        for f in fxs:
            s = store.write_fx(f, source=str(f["source"].iloc[0]))
            f_sum = s if f_sum is None else _add(f_sum, s)
    return ImportReport(series, p_sum or WriteSummary("prices"), f_sum or WriteSummary("fx"))


def _add(a: WriteSummary, b: WriteSummary) -> WriteSummary:
    return WriteSummary(
        a.table,
        a.added + b.added,
        a.revised + b.revised,
        a.unchanged + b.unchanged,
        a.files_written + b.files_written,
    )
