"""Review calendar: effective dates (third Friday of the review months) and selection cut-offs.

A rebalance is effective after the close of the third Friday of each review month. When that
Friday is not a session of the methodology's exchange calendar (``schedule.calendar``, e.g.
Juneteenth 2026-06-19 on XNYS) the rebalance moves to the previous session, so the trades are
still made before the weekend rather than after it. Selection uses data up to the cut-off,
``cutoff_business_days`` sessions before the effective date.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache

import pandas as pd

from exchina.core.errors import InputError
from exchina.index.methodology import Methodology


@lru_cache(maxsize=8)
def _sessions(calendar: str) -> pd.DatetimeIndex:
    import exchange_calendars as xcals

    try:
        with warnings.catch_warnings():  # exchange_calendars trips pandas 3 deprecations
            warnings.simplefilter("ignore")
            cal = xcals.get_calendar(calendar)
    except Exception as exc:  # exchange_calendars raises its own InvalidCalendarName
        raise InputError(f"unknown exchange calendar: {exc}", field="schedule.calendar") from None
    return pd.DatetimeIndex(cal.sessions).tz_localize(None)


def third_friday(year: int, month: int) -> pd.Timestamp:
    """The third Friday of a month."""
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return pd.Timestamp(first + dt.timedelta(days=offset + 14))


def _previous_session(day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    if sessions.empty or day < sessions[0] or day > sessions[-1]:
        # outside the calendar's range: weekdays stand in for sessions
        return day if day.weekday() < 5 else day - pd.offsets.BDay(1)
    pos = int(sessions.searchsorted(day, side="right")) - 1
    return sessions[pos]


def _minus_sessions(day: pd.Timestamp, n: int, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    if sessions.empty or day < sessions[0] or day > sessions[-1]:
        return day - pd.offsets.BDay(n)
    pos = int(sessions.searchsorted(day, side="left")) - n
    if pos < 0:
        return day - pd.offsets.BDay(n)
    return sessions[pos]


def rebalance_dates(
    methodology: Methodology, start: str | dt.date | pd.Timestamp, end: str | dt.date | pd.Timestamp
) -> pd.DataFrame:
    """Reviews with ``effective`` in ``[start, end]``: columns ``review`` (selection cut-off) and
    ``effective`` (after this close the new weights apply), ascending."""
    rows = _schedule(methodology, pd.Timestamp(start), pd.Timestamp(end))
    return pd.DataFrame(rows, columns=["review", "effective"]).astype("datetime64[ns]")


def _schedule(
    methodology: Methodology, lo: pd.Timestamp, hi: pd.Timestamp
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(review, effective) pairs with ``effective`` in ``[lo, hi]``, ascending."""
    s = methodology.schedule
    sessions = _sessions(s.calendar)
    rows = []
    for year in range(lo.year, hi.year + 1):
        for month in s.resolved_months():
            eff = _previous_session(third_friday(year, month), sessions)
            if lo <= eff <= hi:
                rows.append((_minus_sessions(eff, s.cutoff_business_days, sessions), eff))
    return rows


def is_rebalance_date(methodology: Methodology, date: str | dt.date | pd.Timestamp) -> bool:
    """True when ``date`` is a scheduled effective date of the methodology."""
    t = pd.Timestamp(date).normalize()
    return any(eff == t for _, eff in _schedule(methodology, t, t))


def review_date(methodology: Methodology, effective: str | dt.date | pd.Timestamp) -> pd.Timestamp:
    """The selection cut-off for a rebalance effective at ``effective`` (scheduled or ad hoc)."""
    t = pd.Timestamp(effective).normalize()
    sessions = _sessions(methodology.schedule.calendar)
    return _minus_sessions(t, methodology.schedule.cutoff_business_days, sessions)


def sessions_before(
    methodology: Methodology, day: str | dt.date | pd.Timestamp, n: int
) -> pd.Timestamp:
    """The session ``n`` sessions before ``day`` on the methodology's calendar (weekdays outside
    the calendar's range)."""
    return _minus_sessions(
        pd.Timestamp(day).normalize(), n, _sessions(methodology.schedule.calendar)
    )
