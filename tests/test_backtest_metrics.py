"""Metrics against empyrical on the same real series, and worked examples for the rest."""

from __future__ import annotations

import math
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from exchina.backtest import drawdown_series, performance_metrics, rolling_volatility, simulate

RF_DAILY = (1.04) ** (1 / 252) - 1  # a 4% annual rate, stated per period as the API expects


def _close(realdata: Path, ticker: str) -> pd.Series:
    raw = pd.read_csv(realdata / "naveenf__asxscreener/data/raw" / f"{ticker}.AX.csv")
    return pd.Series(
        raw["Close"].to_numpy(dtype=float), index=pd.to_datetime(raw["Date"].str.slice(0, 10))
    )


@pytest.fixture
def series(realdata: Path) -> tuple[pd.Series, pd.Series]:
    prices = pd.DataFrame({t: _close(realdata, t) for t in ["LYC", "ILU", "ARU", "IGO"]})
    weights = pd.DataFrame(0.25, index=prices.index[::63][:-1], columns=prices.columns)
    index = simulate(prices, weights)["level_tr"]
    bench = _close(realdata, "STW").reindex(index.index)
    return index, bench


def test_metrics_agree_with_empyrical(series: tuple[pd.Series, pd.Series]) -> None:
    index, bench = series
    m = performance_metrics(index, bench, periods_per_year=252, risk_free=RF_DAILY)
    r = index.pct_change().dropna()
    assert bench.isna().sum() == 1  # STW misses a day the ASX names trade: alignment matters
    both = pd.concat([index, bench], axis=1).dropna()
    ra, rb = both.iloc[:, 0].pct_change().dropna(), both.iloc[:, 1].pct_change().dropna()
    years = (index.index[-1] - index.index[0]).days / 365.25  # CAGR by calendar time, by hand
    cagr = (index.iloc[-1] / index.iloc[0]) ** (1 / years) - 1
    byears = (both.index[-1] - both.index[0]).days / 365.25
    bench_cagr = (both.iloc[-1, 1] / both.iloc[0, 1]) ** (1 / byears) - 1
    expected = {
        "cagr": cagr,
        "volatility": empyrical.annual_volatility(r),
        "sharpe": empyrical.sharpe_ratio(r, risk_free=RF_DAILY),
        "sortino": empyrical.sortino_ratio(r, required_return=RF_DAILY),
        "max_drawdown": empyrical.max_drawdown(r),
        "calmar": cagr / abs(empyrical.max_drawdown(r)),
        "beta": empyrical.beta(ra, rb),
        "information_ratio": empyrical.excess_sharpe(ra, rb) * math.sqrt(252),
        "up_capture": empyrical.up_capture(ra, rb),
        "down_capture": empyrical.down_capture(ra, rb),
        "benchmark_cagr": bench_cagr,
        "excess_cagr": (both.iloc[-1, 0] / both.iloc[0, 0]) ** (1 / byears) - 1 - bench_cagr,
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(value, rel=1e-9), key
    assert m["tracking_error"] == pytest.approx(np.std(ra - rb, ddof=1) * math.sqrt(252), rel=1e-12)


def test_drawdown_dates_worked_example() -> None:
    idx = pd.bdate_range("2024-01-01", periods=6)
    lv = pd.Series([100.0, 120.0, 90.0, 60.0, 110.0, 125.0], index=idx)
    m = performance_metrics(lv)
    assert m["max_drawdown"] == pytest.approx(-0.5)
    assert (m["max_drawdown_peak"], m["max_drawdown_trough"], m["max_drawdown_recovery"]) == (
        "2024-01-02",
        "2024-01-04",
        "2024-01-08",
    )
    np.testing.assert_allclose(drawdown_series(lv), [0, 0, -0.25, -0.5, -1 / 12, 0])


def test_constant_returns_give_nan_sharpe_not_infinity() -> None:
    lv = pd.Series(100.0 * 1.001 ** np.arange(30), index=pd.bdate_range("2024-01-01", periods=30))
    m = performance_metrics(lv)
    assert m["volatility"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(m["sharpe"]) or abs(m["sharpe"]) > 1e6  # float noise, never inf
    assert not math.isinf(m["sortino"])


def test_turnover_and_cost_drag() -> None:
    lv = pd.Series(np.linspace(100, 110, 505), index=pd.bdate_range("2020-01-01", periods=505))
    turnover = pd.Series([1.0, 0.2, 0.4])
    cost = pd.Series([0.0, 0.01, 0.01])
    m = performance_metrics(lv, turnover=turnover, cost=cost)
    # 504 weekday returns from Wed 2020-01-01: 100 weeks (700 days) and 4 weekdays more, Thu Fri
    # Mon Tue (6 days), so the last level is on 2021-12-07, 706 calendar days later
    years = 706 / 365.25
    assert (lv.index[-1] - lv.index[0]).days == 706
    assert m["turnover_per_rebalance"] == pytest.approx(0.3)
    assert m["turnover_annual"] == pytest.approx(0.6 / years)
    assert m["cost_total"] == pytest.approx(1 - 0.99**2)
    assert m["cost_drag_annual"] == pytest.approx(1 - 0.99 ** (2 / years))


def test_default_annualisation_is_calendar_cagr_and_own_periods_per_year() -> None:
    # 10% a calendar year on weekdays: 261 returns a year, not 252; CAGR exactly 10%
    days = pd.bdate_range("2019-12-31", "2025-12-31")
    years = (days - days[0]).days / 365.25
    lv = pd.Series(100 * 1.10**years, index=days)
    m = performance_metrics(lv)
    assert m["periods_per_year"] == pytest.approx((len(days) - 1) / (2192 / 365.25))
    assert 260 < m["periods_per_year"] < 262
    assert m["cagr"] == pytest.approx(0.10, abs=1e-12)
    r = lv.pct_change().dropna()
    assert m["volatility"] == pytest.approx(r.std() * math.sqrt(m["periods_per_year"]))


def test_rolling_volatility_matches_a_window_by_hand(series: tuple[pd.Series, pd.Series]) -> None:
    index, _ = series
    rv = rolling_volatility(index, window=21)  # 21 trading days, annualised by own calendar
    r = index.pct_change()
    s = index.dropna()
    ppy = (len(s) - 1) / ((s.index[-1] - s.index[0]).days / 365.25)
    assert rv.iloc[100] == pytest.approx(r.iloc[80:101].std() * math.sqrt(ppy), rel=1e-12)
    assert rv.iloc[:21].isna().all()
