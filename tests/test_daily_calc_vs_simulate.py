"""The day-by-day calculation agrees with the backtest engine on the same constituents: with no
corporate action and no suspension rule, ``calculate_daily`` (index shares, divisor) and
``exchina.backtest.simulate`` (drifting holdings) give the same PR and TR levels to 1e-9, on the
demo market's local prices, dividends, FX and gaps (its 2016 halt included)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from exchina.backtest import simulate
from exchina.core.sources import load_market
from exchina.index.corporate_actions import CorporateActionRules
from exchina.index.daily_calc import calculate_daily

TICKERS = [
    "LYC.AX",
    "ILU.AX",
    "4063.T",
    "6762.T",
    "NEO.TO",
    "SOLB.BR",
    "UUUU",
    "ARU.AX",
    "PEK.AX",
    "600259.SS",
]


def test_daily_levels_equal_simulated_levels() -> None:
    m = load_market("demo").window("2015-01-01", "2019-12-31")
    tickers = [t for t in TICKERS if t in m.tickers]
    prices = m.close[tickers]
    fx = m.fx_for(tickers)
    dividends = m.dividends[tickers].fillna(0.0)
    first = prices.ffill().notna().all(axis=1)
    dates = prices.index[(prices.index.is_quarter_end | (prices.index == prices.index[0])) & first]
    rng = np.random.default_rng(5)
    raw = rng.uniform(0.5, 1.5, size=(len(dates), len(tickers)))
    weights = pd.DataFrame(raw / raw.sum(axis=1, keepdims=True), index=dates, columns=tickers)

    calc = calculate_daily(
        weights, prices, fx=fx, dividends=dividends,
        rules=CorporateActionRules(suspension_max_days=None),
    )  # fmt: skip
    sim = simulate(prices, weights, dividends=dividends, fx=fx)
    common = calc.levels.index.intersection(sim.index)
    assert len(common) > 1000 and (dividends.to_numpy() > 0).any()
    assert prices.loc[common].isna().any().any()  # gaps held at the last price by both
    for col in ("level_pr", "level_tr"):
        np.testing.assert_allclose(
            calc.levels.loc[common, col].to_numpy(), sim.loc[common, col].to_numpy(), rtol=1e-9
        )
    # without withholding the net series is the gross one
    np.testing.assert_allclose(calc.levels["level_ntr"], calc.levels["level_tr"], rtol=1e-12)
