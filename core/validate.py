"""Validation of price rows on their way into the store.

Rules: dates parse (ISO ``YYYY-MM-DD``, optionally followed by an ISO time and UTC offset, which
is ignored; nothing else), lie in 1970..2100 and are unique per ticker; tickers match
``exchina.core.inputs.TICKER_PATTERN``; prices are numbers, finite and positive; volumes, dividends and split ratios
are numbers >= 0; the currency is a known ISO code. A row whose close and adjusted close are both
empty (a yfinance NaN run, Yahoo's ``null`` rows) carries no price and is dropped. A rejected
input raises ``InputError`` naming the file, the row (as a spreadsheet numbers it) and the field.
Day-on-day moves of ``JUMP_FACTOR`` x or more are not rejected but flagged (a pence/pounds mix-up
shows as a 100x move).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exchina.core.errors import InputError
from exchina.core.fx import KNOWN_CURRENCIES
from exchina.core.inputs import ISO_DATE, MAX_DATE, MIN_DATE, bad_ticker_reason

PRICE_FIELDS: tuple[str, ...] = ("close", "adj_close")
NONNEGATIVE_FIELDS: tuple[str, ...] = ("volume", "dividends", "splits")
PRICE_COLUMNS: tuple[str, ...] = (
    "date",
    "ticker",
    "close",
    "adj_close",
    "dividends",
    "splits",
    "volume",
    "currency",
    "currency_inferred",
)
MISSING_TOKENS = frozenset({"", "nan", "null", "none", "na", "n/a", "#n/a"})
JUMP_FACTOR = 10.0


def _rows(frame: pd.DataFrame) -> np.ndarray:
    """Spreadsheet row numbers of ``frame`` (``_row`` if the reader recorded it)."""
    if "_row" in frame.columns:
        return frame["_row"].to_numpy()
    return np.arange(2, len(frame) + 2)


class _Problems:
    """Collects the first failure of each check; raises the one on the earliest row."""

    def __init__(self, file: str | None, rows: np.ndarray) -> None:
        self.file, self.rows, self.found = file, rows, []

    def check(self, bad: np.ndarray, field: str, reason: str | None = None, values=None) -> None:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            why = reason if values is None else f"{reason}: {values[i]!r}"
            self.found.append((int(self.rows[i]), field, why))

    def raise_first(self) -> None:
        if self.found:
            row, field, reason = min(self.found, key=lambda p: p[0])
            more = len(self.found) - 1
            suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise InputError(reason + suffix, file=self.file, row=row, field=field)


def parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Dates as tz-naive midnight timestamps (local date of tz-aware input); and the bad mask
    (unparseable or outside the sane range)."""
    out, bad, rng = parse_dates_checked(values)
    return out, bad | rng


def parse_dates_checked(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """``(dates, not a date, outside MIN_DATE..MAX_DATE)``; both kinds of bad date are NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_localize(None).dt.normalize()
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values.dt.normalize()
    else:
        text = values.astype("string").fillna("")
        iso = text.str.extract(ISO_DATE, expand=False)
        parsed = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy()
    rng = ~bad & ((parsed < MIN_DATE) | (parsed > MAX_DATE)).to_numpy()
    out = parsed.where(~rng).astype("datetime64[ns]")
    return out, bad, rng


def parse_numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Floats (empty/``null``/``NaN`` -> NaN) and the mask of entries that are text, not numbers."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), np.zeros(len(values), dtype=bool)
    text = values.astype("string").fillna("").str.strip()
    missing = text.str.lower().isin(MISSING_TOKENS).to_numpy()
    num = pd.to_numeric(text.where(~missing, None), errors="coerce").astype("float64")
    bad = num.isna().to_numpy() & ~missing
    return num, bad


def validate_prices(
    frame: pd.DataFrame, file: str | None = None, notes: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Check and type raw price rows; returns ``(clean frame, warnings)`` or raises InputError.

    ``notes=False`` skips the warnings (day-on-day jumps, rows without a price): a reader that
    validates a file batch by batch says them once for the whole file.

    ``frame`` has ``date``, ``ticker``, ``currency`` and any of the price, volume, dividend and
    split columns (text or numbers), optionally ``_row`` with the source row numbers. The clean
    frame has ``PRICE_COLUMNS`` (absent fields NaN), then ``source`` and ``_row`` when given,
    sorted by ticker and date.
    """
    rows = _rows(frame)
    problems = _Problems(file, rows)
    if not len(frame):
        raise InputError("no price rows", file=file)
    if not any(f in frame.columns for f in PRICE_FIELDS):
        raise InputError("no Close or Adj Close column", file=file, field="Close")

    dates, bad, out_of_range = parse_dates_checked(frame["date"])
    problems.check(bad, "date", "not a date (expected YYYY-MM-DD)", frame["date"].to_numpy())
    bad = bad | out_of_range
    problems.check(
        out_of_range,
        "date",
        f"date outside {MIN_DATE:%Y-%m-%d} .. {MAX_DATE:%Y-%m-%d}",
        frame["date"].to_numpy(),
    )
    tickers = frame["ticker"].astype("string").fillna("")
    reasons = {t: bad_ticker_reason(str(t)) for t in tickers.unique()}
    bad_ticker = tickers.map(lambda t: reasons[t] is not None).to_numpy(dtype=bool)
    if bad_ticker.any():
        first = str(tickers.iloc[int(np.flatnonzero(bad_ticker)[0])])
        problems.check(bad_ticker, "ticker", reasons[first])
    out = {"date": dates, "ticker": tickers}
    for name in (*PRICE_FIELDS, *NONNEGATIVE_FIELDS):
        if name not in frame.columns:
            out[name] = pd.Series(np.nan, index=frame.index, dtype="float64")
            continue
        num, text_bad = parse_numbers(frame[name])
        raw = frame[name].to_numpy()
        problems.check(text_bad, name, "not a number", raw)
        v = num.to_numpy()
        with np.errstate(invalid="ignore"):
            problems.check(np.isinf(v), name, "not finite", raw)
            if name in PRICE_FIELDS:
                problems.check(v <= 0, name, "price must be positive", raw)
            else:
                problems.check(v < 0, name, "must not be negative", raw)
        out[name] = num
    ccy = frame["currency"].astype("string").fillna("")
    problems.check(
        ~ccy.isin(sorted(KNOWN_CURRENCIES)).to_numpy(),
        "currency",
        "unknown currency",
        ccy.to_numpy(),
    )
    clean = pd.DataFrame(out, index=frame.index)
    clean["currency"] = ccy
    inferred = frame["currency_inferred"] if "currency_inferred" in frame.columns else False
    clean["currency_inferred"] = pd.Series(inferred, index=frame.index).astype(bool)
    extra = [c for c in ("source",) if c in frame.columns]
    for c in extra:
        clean[c] = frame[c].astype("string")

    keyed = clean[["ticker", "date"]].assign(_row=rows)
    dup = keyed.duplicated(["ticker", "date"], keep="first").to_numpy() & ~bad
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        t, d = keyed["ticker"].iloc[i], keyed["date"].iloc[i]
        first = keyed[(keyed["ticker"] == t) & (keyed["date"] == d)]["_row"].iloc[0]
        problems.found.append(
            (int(rows[i]), "date", f"duplicate date {d:%Y-%m-%d} for {t} (first at row {first})")
        )
    problems.raise_first()

    has_price = clean[list(PRICE_FIELDS)].notna().any(axis=1)
    dropped = int((~has_price).sum())
    kept_rows = rows[has_price.to_numpy()]
    clean = clean[has_price].assign(_row=kept_rows)
    clean = clean.sort_values(["ticker", "date"], kind="stable")
    warnings = jump_warnings(clean, file) if notes else []
    if dropped and notes:
        warnings.append(f"{file or 'input'}: {dropped} row(s) without a price skipped")
    keep = [*PRICE_COLUMNS, *extra, *(["_row"] if "_row" in frame.columns else [])]
    return clean[keep].reset_index(drop=True), warnings


def jump_warnings(clean: pd.DataFrame, file: str | None = None) -> list[str]:
    """Flag day-on-day moves of ``JUMP_FACTOR`` x or more per ticker (sorted by ticker, date)."""
    px = clean["close"].fillna(clean["adj_close"])
    prev = px.groupby(clean["ticker"]).shift(1)
    ratio = px / prev
    bad = (ratio >= JUMP_FACTOR) | (ratio <= 1.0 / JUMP_FACTOR)
    notes: list[str] = []
    rows = (clean["_row"] if "_row" in clean.columns else clean.index).to_numpy()
    for i in np.flatnonzero(bad.fillna(False).to_numpy()):
        r = ratio.iloc[i]
        hint = " (pence/pounds mix-up?)" if 50 <= max(r, 1 / r) <= 200 else ""
        notes.append(
            f"{file or 'input'}, row {rows[i]}: {clean['ticker'].iloc[i]} moves {r:.4g}x on "
            f"{clean['date'].iloc[i]:%Y-%m-%d} ({prev.iloc[i]:.6g} -> {px.iloc[i]:.6g}){hint}"
        )
    return notes
