"""Two independent computations of the same index agree: the divisor method of
``exchina.index.index_levels`` (level = value / divisor, divisor adjusted at each rebalance) and
the backtest core ``exchina.backtest.simulate`` (holdings drift between rebalances), on the demo
market's local prices, dividends and FX, quarterly rebalances."""

from __future__ import annotations

import numpy as np
import pandas as pd

from exchina.backtest import simulate
from exchina.core.sources import load_market
from exchina.index import index_levels

TICKERS = ["LYC.AX", "ILU.AX", "4063.T", "6762.T", "NEO.TO", "SOLB.BR", "UUUU"]


def test_divisor_levels_equal_simulated_levels() -> None:
    m = load_market("demo").window("2015-01-01", "2019-12-31")
    prices = m.close[TICKERS].ffill()
    fx = m.fx_for(TICKERS)
    dividends = m.dividends[TICKERS].fillna(0.0)
    dates = prices.index[prices.index.is_quarter_end | (prices.index == prices.index[0])]
    rng = np.random.default_rng(3)
    raw = rng.uniform(0.5, 1.5, size=(len(dates), len(TICKERS)))
    weights = pd.DataFrame(raw / raw.sum(axis=1, keepdims=True), index=dates, columns=TICKERS)

    by_divisor = index_levels(weights, prices, dividends=dividends, fx=fx)
    by_holdings = simulate(prices, weights, dividends=dividends, fx=fx)

    common = by_divisor.index.intersection(by_holdings.index)
    assert len(common) > 1000 and (dividends.to_numpy() > 0).any()
    for col in ("level_pr", "level_tr"):
        np.testing.assert_allclose(
            by_holdings.loc[common, col].to_numpy(),
            by_divisor.loc[common, col].to_numpy(),
            rtol=1e-9,
        )
