"""Strict checks of values a user types or a file carries: dates, years, tickers.

Dates are ISO ``YYYY-MM-DD`` (an ISO time and offset may follow in files) between
``MIN_DATE`` and ``MAX_DATE``; anything else is refused with the expected format, never guessed
(``06/12/2025`` is not read as 12 June or 6 December). Tickers match ``TICKER_PATTERN``: Yahoo
style letters, digits and ``. _ - = ^ &``, at most 32 characters, no spaces, control characters,
separators or bidirectional overrides.
"""

from __future__ import annotations

import re
from typing import overload

import pandas as pd

from exchina.core.errors import InputError

MIN_DATE = pd.Timestamp("1970-01-01")
MAX_DATE = pd.Timestamp("2100-12-31")
ISO_DATE = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\s*$"
)
"""An ISO date, optionally followed by an ISO time and UTC offset (files only); nothing else."""
TICKER_PATTERN = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9._\-=^&]{0,31}$")


@overload
def parse_date(text: str, field: str) -> pd.Timestamp: ...
@overload
def parse_date(text: None, field: str) -> None: ...
@overload
def parse_date(text: str | None, field: str) -> pd.Timestamp | None: ...
def parse_date(text: str | None, field: str) -> pd.Timestamp | None:
    """A command-line date: exactly ``YYYY-MM-DD`` within the sane range; None passes through."""
    if text is None:
        return None
    value = str(text).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InputError(f"expected a date YYYY-MM-DD, got {text!r}", field=field)
    try:
        t = pd.Timestamp(value)
    except ValueError:
        raise InputError(
            f"not a calendar date: {text!r} (expected YYYY-MM-DD)", field=field
        ) from None
    check_date_range(t, field)
    return t


def check_date_range(
    t: pd.Timestamp, field: str, file: str | None = None, row: int | None = None
) -> None:
    """Refuse a date outside ``[MIN_DATE, MAX_DATE]``."""
    if not MIN_DATE <= t <= MAX_DATE:
        raise InputError(
            f"date {t:%Y-%m-%d} is outside {MIN_DATE:%Y-%m-%d} .. {MAX_DATE:%Y-%m-%d} "
            "(expected YYYY-MM-DD in that range)",
            file=file,
            row=row,
            field=field,
        )


def check_year(year: int, field: str = "--year") -> int:
    """A calendar year within the sane date range."""
    if not MIN_DATE.year <= year <= MAX_DATE.year:
        raise InputError(f"year {year} is outside {MIN_DATE.year} .. {MAX_DATE.year}", field=field)
    return year


def bad_ticker_reason(ticker: str) -> str | None:
    """Why ``ticker`` is not acceptable, or None when it matches ``TICKER_PATTERN``."""
    if TICKER_PATTERN.fullmatch(ticker):
        return None
    shown = ticker.encode("unicode_escape").decode("ascii")
    return (
        f"not a ticker: {shown!r} (letters, digits and . _ - = ^ &, at most 32 characters; no "
        "spaces, control or direction characters)"
    )


def check_ticker(
    ticker: str, field: str = "ticker", file: str | None = None, row: int | None = None
) -> str:
    """Return ``ticker`` or raise ``InputError`` saying what a ticker may hold."""
    why = bad_ticker_reason(str(ticker))
    if why:
        raise InputError(why, file=file, row=row, field=field)
    return str(ticker)
