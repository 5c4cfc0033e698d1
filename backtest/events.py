"""China's export-control announcements and how the index moved around them.

``load_events`` reads ``data/events.csv`` (date, event_id, title, commodities, source_title,
source_url) with errors naming file, row and field. ``event_windows`` measures, for each event, the
index's cumulative return minus its benchmark's from the close before the window to each day of
it: day 0 is the first trading day on or after the announcement date.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from exchina.core.errors import InputError
from exchina.core.paths import data_file

EVENT_COLUMNS = ["date", "event_id", "title", "commodities", "source_title", "source_url"]


def load_events(path: str | Path | None = None) -> pd.DataFrame:
    """The events table, validated: ISO dates, unique non-empty ids, titles, http(s) sources."""
    p = Path(path) if path is not None else data_file("events.csv")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise InputError("events file not found", file=p) from None
    missing = [c for c in EVENT_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"missing columns {missing}", file=p, row=1)
    seen: set[str] = set()
    dates = []
    cells = zip(raw["date"], raw["event_id"], raw["title"], raw["source_url"], strict=True)
    for i, (date, event_id, title, url) in enumerate(cells, start=2):
        try:
            d = pd.Timestamp(dt_str := date.strip())
            if len(dt_str) != 10:
                raise ValueError
        except ValueError:
            raise InputError(
                f"expected a date YYYY-MM-DD, got {date!r}", file=p, row=i, field="date"
            ) from None
        dates.append(d)
        eid = event_id.strip()
        if not eid:
            raise InputError("empty event id", file=p, row=i, field="event_id")
        if eid in seen:
            raise InputError(f"duplicate event id {eid!r}", file=p, row=i, field="event_id")
        seen.add(eid)
        if not title.strip():
            raise InputError("empty title", file=p, row=i, field="title")
        if not url.startswith(("http://", "https://")):
            raise InputError(
                f"expected an http(s) URL, got {url!r}",
                file=p,
                row=i,
                field="source_url",
            )
    out = raw[EVENT_COLUMNS].copy()
    out["date"] = pd.DatetimeIndex(dates) if dates else pd.DatetimeIndex([])
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def event_windows(
    index: pd.Series,
    benchmark: pd.Series,
    events: pd.DataFrame,
    pre: int = 5,
    post: int = 20,
) -> pd.DataFrame:
    """Long frame, one row per (event, day offset -pre..post): ``event_id``, ``event_date``,
    ``offset``, ``date``, ``index_return`` and ``benchmark_return`` (cumulative from the close of
    day -pre-1) and ``excess`` (their difference). Events whose window does not fit inside the
    dates both series have are left out."""
    both = pd.concat([index.rename("i"), benchmark.rename("b")], axis=1, join="inner").dropna()
    dates = both.index
    i_lv, b_lv = both["i"].to_numpy(), both["b"].to_numpy()
    offsets = np.arange(-pre, post + 1)
    rows = []
    for event_id, date in zip(events["event_id"], events["date"], strict=True):
        day0 = int(dates.searchsorted(pd.Timestamp(date)))
        first, last = day0 - pre - 1, day0 + post
        if first < 0 or last >= len(dates):
            continue
        span = slice(day0 - pre, last + 1)
        ir = i_lv[span] / i_lv[first] - 1.0
        br = b_lv[span] / b_lv[first] - 1.0
        rows.append(
            pd.DataFrame(
                {
                    "event_id": event_id,
                    "event_date": pd.Timestamp(date),
                    "offset": offsets,
                    "date": dates[span],
                    "index_return": ir,
                    "benchmark_return": br,
                    "excess": ir - br,
                }
            )
        )
    cols = [
        "event_id",
        "event_date",
        "offset",
        "date",
        "index_return",
        "benchmark_return",
        "excess",
    ]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
