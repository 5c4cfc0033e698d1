"""Tables the app shows: metrics side by side, calendar-year returns, exposure summaries.

Nothing is computed here: every number comes from a package function (calendar-year returns
from ``exchina.backtest.metrics.yearly_returns``); this module only formats.
"""

from __future__ import annotations

import math

import pandas as pd

from exchina.backtest.metrics import PERCENT_METRICS

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
    "rebalances_relaxed": "Rebalances with a rule relaxed",
    "worst_relaxation": "Largest relaxation (against its limit)",
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
        if key in PERCENT_METRICS:
            return f"{value:.1%}"
        return f"{value:.2f}"
    return str(value)


def metrics_table(metrics: dict[str, dict]) -> pd.DataFrame:
    """Methodology name -> metrics dict, as a display table (rows = metrics, columns = names)."""
    keys = [k for k in LABELS if any(k in m for m in metrics.values())]
    data = {name: [fmt_metric(k, m.get(k)) for k in keys] for name, m in metrics.items()}
    return pd.DataFrame(data, index=pd.Index([LABELS[k] for k in keys], name="metric"))


def yearly_table(yearly: pd.DataFrame) -> pd.DataFrame:
    """Calendar-year returns (``yearly_returns``) as a display table in the metrics table's
    format: newest year first, one-decimal percentages, the running year marked "to date"."""
    last = yearly.index.max()
    rows = yearly.sort_index(ascending=False)
    index = [f"{y} (to date)" if y == last else str(y) for y in rows.index]
    data = {c: [fmt_metric("total_return", v) for v in rows[c]] for c in rows.columns}
    return pd.DataFrame(data, index=pd.Index(index, name="year"))
