"""The one annualisation convention of every level series in exchina (metrics, factsheet, sweep,
report and app).

* CAGR uses the elapsed calendar time: ``(last / first) ** (365.25 / days) - 1``;
* volatility (and Sharpe, Sortino, tracking error) use the series' own number of returns a
  year: returns divided by elapsed calendar years (about 261 on a weekday calendar), not 252.

Rolling windows chosen in the app stay in trading days (a window is a count of returns); only
their annualising factor comes from here.
"""

from __future__ import annotations

import math

import pandas as pd

DAYS_PER_YEAR = 365.25

CONVENTION = (
    "CAGR annualised with the elapsed calendar time ((end / start) ^ (365.25 / days) - 1); "
    "volatility with the series' own number of returns a year ({ppy:.1f}: returns divided by "
    "elapsed years)"
)
"""How figures are annualised, for a page or file to state (format with ``ppy``)."""


def years_elapsed(levels: pd.Series) -> float:
    """Calendar years from the first to the last level of a series (NaNs dropped)."""
    s = levels.dropna()
    if len(s) < 2:
        return math.nan
    return (pd.Timestamp(s.index[-1]) - pd.Timestamp(s.index[0])).days / DAYS_PER_YEAR


def periods_per_year(levels: pd.Series) -> float:
    """Returns per calendar year of a level series (its own calendar, not 252)."""
    years = years_elapsed(levels)
    return (len(levels.dropna()) - 1) / years if years > 0 else math.nan


def calendar_cagr(levels: pd.Series) -> float:
    """Growth from the first to the last level a calendar year (-1 if the level hit zero)."""
    s = levels.dropna().astype(float)
    years = years_elapsed(s)
    if not years > 0:
        return math.nan
    growth = float(s.iloc[-1] / s.iloc[0])
    return growth ** (1.0 / years) - 1.0 if growth > 0 else -1.0


NET_OF_COSTS = "backtest total return, net of transaction costs"
"""The series of the Overview, the Performance page, the report and the sweep (``metrics()``)."""
INDEX_LEVEL = "index level, no transaction costs"
"""The series of the factsheet: the daily calculation's level, to which no costs are charged."""
