"""Tables the app shows: metrics side by side, calendar-year returns, exposure summaries.

``yearly_returns`` is the one number computed here (the backtest layer has no calendar-year
function yet); everything else reformats what package functions returned.
"""

from __future__ import annotations

import math

import pandas as pd

PCT_METRICS = (
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
)
RATIO_METRICS = (
    "sharpe",
    "sortino",
    "calmar",
    "information_ratio",
    "beta",
    "correlation",
    "up_capture",
    "down_capture",
)
DATE_METRICS = ("start", "end", "max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery")
LABELS = {
    "total_return": "Total return",
    "cagr": "CAGR (total return)",
    "cagr_price_return": "CAGR (price return)",
    "volatility": "Volatility (annualised)",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown": "Max drawdown",
    "max_drawdown_peak": "Max drawdown peak",
    "max_drawdown_trough": "Max drawdown trough",
    "max_drawdown_recovery": "Recovered on",
    "calmar": "Calmar ratio",
    "benchmark_cagr": "Benchmark CAGR",
    "excess_cagr": "Excess CAGR",
    "tracking_error": "Tracking error",
    "information_ratio": "Information ratio",
    "beta": "Beta",
    "correlation": "Correlation",
    "up_capture": "Up capture",
    "down_capture": "Down capture",
    "turnover_per_rebalance": "Turnover per rebalance (one-way)",
    "turnover_annual": "Turnover a year",
    "cost_total": "Trading costs (total)",
    "cost_drag_annual": "Cost drag a year",
    "rebalances": "Rebalances",
    "start": "Start",
    "end": "End",
}


def fmt_metric(key: str, value: object) -> str:
    """A metric as text: percentages, ratios to two decimals, n/a for missing."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if key in PCT_METRICS:
            return f"{value:.1%}"
        return f"{value:.2f}"
    return str(value)


def metrics_table(metrics: dict[str, dict]) -> pd.DataFrame:
    """Methodology name -> metrics dict, as a display table (rows = metrics, columns = names)."""
    keys = [k for k in LABELS if any(k in m for m in metrics.values())]
    data = {name: [fmt_metric(k, m.get(k)) for k in keys] for name, m in metrics.items()}
    return pd.DataFrame(data, index=pd.Index([LABELS[k] for k in keys], name="metric"))


def yearly_returns(levels: pd.DataFrame) -> pd.DataFrame:
    """Calendar-year return of each level column (first year from its first level; the last
    year to date). Rows are years, NaN where a column has no level in the year."""
    out = {}
    for col in levels.columns:
        s = levels[col].dropna()
        if s.empty:
            continue
        year_end = s.groupby(s.index.year).last()
        start = pd.concat([pd.Series([s.iloc[0]], index=[year_end.index[0]]), year_end.iloc[:-1]])
        start.index = year_end.index
        out[col] = year_end / start.to_numpy() - 1.0
    frame = pd.DataFrame(out)
    frame.index.name = "year"
    return frame
