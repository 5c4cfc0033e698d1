"""Performance statistics of an index level series, with every convention stated.

Conventions (the same as empyrical's, so the numbers can be checked against it):

* returns are simple returns of consecutive levels; annualisation is ``exchina.backtest.annualise``
  (the one convention of every page): CAGR by elapsed calendar time,
  ``(last / first) ** (365.25 / days) - 1``, and a year of returns is the series' own
  ``periods_per_year`` (returns / elapsed years: about 261 on a weekday calendar, not 252) unless
  the caller passes one;
* ``risk_free`` is a rate PER PERIOD (daily for daily data), not an annual one: convert an annual
  rate ``r`` with ``(1 + r) ** (1 / periods_per_year) - 1``;
* volatility, Sharpe, tracking error use the sample standard deviation (ddof=1), annualised with
  ``sqrt(periods_per_year)``; Sortino's downside deviation is ``sqrt(mean(min(r - rf, 0)^2))``;
  a zero standard deviation gives NaN, never an infinite ratio;
* the benchmark LEVELS are aligned on the dates both series have, then turned into returns; information ratio = annualised mean
  active return / tracking error; beta = cov / var; benchmark and excess CAGR by calendar time on
  the aligned dates; up (down) capture = growth a year (``periods_per_year`` returns) of the
  index on days the benchmark rose (fell) / that of the benchmark on those days.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from exchina.backtest.annualise import calendar_cagr, years_elapsed
from exchina.backtest.annualise import periods_per_year as own_periods_per_year

PERCENT_METRICS = frozenset(
    {
        "total_return",
        "cagr",
        "cagr_price_return",
        "volatility",
        "max_drawdown",
        "benchmark_cagr",
        "excess_cagr",
        "tracking_error",
        "turnover_per_rebalance",
        "turnover_annual",
        "cost_total",
        "cost_drag_annual",
    }
)
"""Metrics that are fractions (shown as percentages by the report and the app)."""


def _series(levels: pd.Series | pd.DataFrame, column: str) -> pd.Series:
    s = levels[column] if isinstance(levels, pd.DataFrame) else levels
    return s.dropna().astype(float)


def _cagr(r: np.ndarray, ppy: float) -> float:
    if len(r) == 0:
        return math.nan
    growth = float(np.prod(1.0 + r))
    return growth ** (ppy / len(r)) - 1.0 if growth > 0 else -1.0


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 and math.isfinite(den) else math.nan


def drawdown_series(levels: pd.Series | pd.DataFrame, column: str = "level_tr") -> pd.Series:
    """Drawdown from the running peak at each date (0 at a new high, -0.3 = 30% below the peak)."""
    s = _series(levels, column)
    return (s / s.cummax() - 1.0).rename("drawdown")


def rolling_volatility(
    levels: pd.Series | pd.DataFrame,
    window: int = 63,
    periods_per_year: float | None = None,
    column: str = "level_tr",
) -> pd.Series:
    """Annualised volatility of returns over a trailing ``window`` of returns (ddof=1); the
    window is a count of returns (trading days), annualised with the series' own periods a year
    unless ``periods_per_year`` is given."""
    s = _series(levels, column)
    ppy = own_periods_per_year(s) if periods_per_year is None else periods_per_year
    r = s.pct_change()
    return (r.rolling(window).std() * math.sqrt(ppy)).rename("rolling_volatility")


def _drawdown_dates(s: pd.Series) -> dict:
    dd = s / s.cummax() - 1.0
    dates = pd.DatetimeIndex(s.index)
    trough = int(dd.argmin())  # positions of the first lowest and highest points (NaN skipped)
    peak = int(s.iloc[: trough + 1].argmax())
    rec = dates[trough:][(s.iloc[trough:] >= s.iloc[peak]).to_numpy()]
    return {
        "max_drawdown": float(dd.min()),
        "max_drawdown_peak": str(dates[peak].date()),
        "max_drawdown_trough": str(dates[trough].date()),
        "max_drawdown_recovery": str(rec[0].date()) if len(rec) else None,
    }


def _benchmark_stats(s: pd.Series, bench: pd.Series, ppy: float) -> dict:
    """Statistics against the benchmark on the dates both LEVEL series have (returns are taken
    after aligning, so a date one calendar lacks never pairs a 2-day return with a 1-day one)."""
    both = pd.concat([s, bench.astype(float)], axis=1, join="inner").dropna()
    rets = both.pct_change().dropna()
    x, y = rets.iloc[:, 0].to_numpy(), rets.iloc[:, 1].to_numpy()
    if len(x) < 2:
        return {}
    active = x - y
    te = float(np.std(active, ddof=1) * math.sqrt(ppy))
    var = float(np.mean((y - y.mean()) ** 2))
    cov = float(np.mean((y - y.mean()) * x))
    up, down = y > 0, y < 0
    bench_cagr = calendar_cagr(both.iloc[:, 1])
    return {
        "benchmark_cagr": bench_cagr,
        "excess_cagr": calendar_cagr(both.iloc[:, 0]) - bench_cagr,
        "tracking_error": te,
        "information_ratio": _ratio(float(np.mean(active)) * ppy, te),
        "beta": _ratio(cov, var),
        "correlation": float(np.corrcoef(x, y)[0, 1]) if np.std(x) and np.std(y) else math.nan,
        "up_capture": _ratio(_cagr(x[up], ppy), _cagr(y[up], ppy)) if up.any() else math.nan,
        "down_capture": (
            _cagr(x[down], ppy) / _cagr(y[down], ppy)
            if down.any() and _cagr(y[down], ppy)
            else math.nan
        ),
    }


def performance_metrics(
    levels: pd.Series | pd.DataFrame,
    benchmark: pd.Series | None = None,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
    *,
    column: str = "level_tr",
    turnover: pd.Series | None = None,
    cost: pd.Series | None = None,
) -> dict:
    """CAGR, volatility, Sharpe, Sortino, max drawdown (with dates), Calmar; against a benchmark
    level series: tracking error, information ratio, beta, up/down capture; with the rebalance
    ``turnover`` (one-way, first row = initial build) and ``cost`` (fraction of value) series of a
    simulation: average turnover and the cost drag. ``periods_per_year``: None (the default) is
    the series' own; CAGR is always by calendar time. See the module doc for conventions."""
    s = _series(levels, column)
    r = s.pct_change().dropna()
    x = r.to_numpy()
    ppy = own_periods_per_year(s) if periods_per_year is None else periods_per_year
    ex = x - risk_free
    sd = float(np.std(ex, ddof=1)) if len(ex) > 1 else math.nan
    downside = float(np.sqrt(np.mean(np.minimum(ex, 0.0) ** 2)) * math.sqrt(ppy)) if len(ex) else 0
    cagr = calendar_cagr(s)
    out: dict = {
        "start": str(s.index[0].date()),
        "end": str(s.index[-1].date()),
        "periods": len(x),
        "periods_per_year": ppy,
        "risk_free_per_period": risk_free,
        "total_return": float(s.iloc[-1] / s.iloc[0] - 1.0),
        "cagr": cagr,
        "volatility": float(np.std(x, ddof=1) * math.sqrt(ppy)) if len(x) > 1 else math.nan,
        "sharpe": _ratio(float(np.mean(ex)), sd) * math.sqrt(ppy),
        "sortino": _ratio(float(np.mean(ex)) * ppy, downside),
    }
    out |= _drawdown_dates(s)
    out["calmar"] = _ratio(cagr, abs(out["max_drawdown"]))
    if benchmark is not None:
        out |= _benchmark_stats(s, benchmark, ppy)
    years = years_elapsed(s)
    if turnover is not None and len(turnover) > 1:
        later = turnover.iloc[1:]
        out["turnover_per_rebalance"] = float(later.mean())
        out["turnover_annual"] = float(later.sum() / years)
    if cost is not None and len(cost):
        kept = float(np.prod(1.0 - cost.to_numpy()))
        out["cost_total"] = 1.0 - kept
        out["cost_drag_annual"] = 1.0 - kept ** (1.0 / years)
    return out


metrics = performance_metrics


def yearly_returns(levels: pd.DataFrame) -> pd.DataFrame:
    """Calendar-year return of each level column (first year from its first level; the last
    year to date). Rows are years, NaN where a column has no level in the year."""
    out = {}
    for col in levels.columns:
        s = levels[col].dropna()
        if s.empty:
            continue
        year_end = s.groupby(pd.DatetimeIndex(s.index).year).last()
        start = pd.concat([pd.Series([s.iloc[0]], index=[year_end.index[0]]), year_end.iloc[:-1]])
        start.index = year_end.index
        out[col] = year_end / start.to_numpy() - 1.0
    frame = pd.DataFrame(out)
    frame.index.name = "year"
    return frame
