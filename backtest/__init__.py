"""Point-in-time simulation of an index: costs, currencies, analytics and reports.

The engine (``simulate``) works on plain frames, so a quant can run their own weights; the rest
(``run_backtest``, metrics, exposures, attribution, event windows, the HTML report) builds on it.
"""

from exchina.backtest.attribution import attribution, brinson
from exchina.backtest.costs import CostModel
from exchina.backtest.engine import resolve_benchmark, run_backtest
from exchina.backtest.events import event_windows, load_events
from exchina.backtest.exposures import china_band, china_exposure, exposures
from exchina.backtest.metrics import (
    drawdown_series,
    metrics,
    performance_metrics,
    rolling_volatility,
    yearly_returns,
)
from exchina.backtest.output import write_backtest
from exchina.backtest.report import render_report
from exchina.backtest.result import BacktestResult
from exchina.backtest.simulate import Simulation, simulate, simulate_detailed

__all__ = [
    "BacktestResult",
    "CostModel",
    "Simulation",
    "attribution",
    "brinson",
    "china_band",
    "china_exposure",
    "drawdown_series",
    "event_windows",
    "exposures",
    "load_events",
    "metrics",
    "performance_metrics",
    "render_report",
    "resolve_benchmark",
    "rolling_volatility",
    "run_backtest",
    "simulate",
    "simulate_detailed",
    "write_backtest",
    "yearly_returns",
]
