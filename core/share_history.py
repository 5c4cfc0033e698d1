"""Shares-outstanding history from Yahoo (``yfinance.Ticker.get_shares_full``) as store rows.

What yfinance returns (yfinance 1.x ``base.get_shares_full``): a Series of share counts, unnamed,
indexed by the report timestamps localised to the exchange's time zone
(``2024-05-31 00:00:00-04:00``), sorted by time, with gaps of months between reports and, on
some dates, two rows with different counts (yfinance issue #1954: MSFT 7,432,309,760 and
7,698,290,176 on one day; the maintainers cannot tell which is right). It returns None when Yahoo
has no share series, and asks for only the last 18 months unless given ``start``.

``share_rows`` turns that into the store's long ``date, ticker, shares`` rows: the calendar date
in the exchange's zone, non-positive or missing counts dropped, and one count a date. Where a
date has several counts, the one closest (by ratio) to the count kept before it is kept (the
first date compares with the series' median): a share count moves little between reports, so
the continuous one is the likelier. Each such date is reported. Gaps stay gaps: the market
carries the last count forward, so a review date sees the count last reported on or before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def share_rows(counts: pd.Series | None, ticker: str) -> tuple[pd.DataFrame, list[str]]:
    """``(rows, notes)``: long ``date, ticker, shares`` rows from a ``get_shares_full`` Series."""
    empty = pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "ticker": pd.Series(dtype=object),
            "shares": pd.Series(dtype="float64"),
        }
    )
    if counts is None or not len(counts):
        return empty, []
    index = pd.DatetimeIndex(counts.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # the wall-clock date in the exchange's zone
    values = pd.to_numeric(pd.Series(counts.to_numpy(), index=index), errors="coerce")
    values = values[np.isfinite(values.to_numpy(dtype=float)) & (values.to_numpy(dtype=float) > 0)]
    if values.empty:
        return empty, []
    days = values.index.normalize().as_unit("ns")
    frame = pd.DataFrame({"date": days, "shares": values.to_numpy(dtype=float)})
    frame = frame.sort_values("date", kind="stable")
    anchor = float(np.median(frame["shares"]))
    kept: list[tuple[pd.Timestamp, float]] = []
    conflicts = []
    day_values = frame["date"].to_numpy()
    share_values = frame["shares"].to_numpy(dtype=float)
    for day in np.unique(day_values):
        options = np.unique(share_values[day_values == day])
        if len(options) > 1:
            conflicts.append(pd.Timestamp(day))
            ref = kept[-1][1] if kept else anchor
            options = options[[int(np.argmin(np.abs(np.log(options / ref))))]]
        kept.append((pd.Timestamp(day), float(options[0])))
    out = pd.DataFrame(
        {
            "date": pd.DatetimeIndex([d for d, _ in kept]).as_unit("ns"),
            "ticker": ticker,
            "shares": [v for _, v in kept],
        }
    )
    notes = (
        [
            f"{ticker}: Yahoo gave several share counts on {len(conflicts)} date(s) (first "
            f"{conflicts[0].date()}); kept the count closest to the one before"
        ]
        if conflicts
        else []
    )
    return out, notes
