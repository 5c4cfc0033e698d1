"""The universe's inputs prepared once (``UniverseInputs``) give, at every date, exactly the
universe a single-date build gives, see nothing after the date, and the screens' failures table
says the same as the ``reasons`` text. The one ADTV (``TradedValue``) on hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_universe_screens import synthetic_market

from exchina.core.demo import demo_market
from exchina.core.market import Market, TradedValue
from exchina.universe import UniverseInputs, UniverseRules, build_universe
from exchina.universe.screening import SCREENS, exclusion_counts
from exchina.universe.screens import screen_universe

RULES = UniverseRules(max_china_score=30.0, min_adtv_usd=2e6)


@pytest.fixture(scope="module")
def market() -> Market:
    return demo_market()


def test_prepared_inputs_equal_a_single_date_build(market: Market) -> None:
    """At dates from the first year to the last, with and without members, the backtest's
    path (inputs from the whole market, screened on a cut) equals the CLI's single-date path."""
    inputs = UniverseInputs(market)
    dates = market.dates[[130, 700, 1500, 2600, 3500, len(market.dates) - 1]]
    members: list[str] = []
    for t in dates:
        cut = market.asof(t)
        alone = build_universe(t, RULES, cut, members)
        prepared = build_universe(t, RULES, cut, members, inputs=inputs)
        pd.testing.assert_frame_equal(prepared, alone, check_exact=True)
        members = list(alone.index[alone["eligible"]][:8])
    assert members  # the later dates ran with members (their buffers)


def test_prepared_inputs_see_nothing_after_the_date(market: Market) -> None:
    """Prices and volumes after ``t`` changed by orders of magnitude: the universe at ``t``
    from inputs prepared on the whole changed market is the same."""
    t = market.dates[2000]
    later = market.close.index > t
    spiked = Market(
        pd.concat([market.close.loc[~later], market.close.loc[later] * 1e3]),
        pd.concat([market.volume.loc[~later], market.volume.loc[later] * 0.0]),
        market.dividends,
        market.currency,
        market.fx,
        market.shares,
        market.source,
        market.synthetic,
    )
    base = build_universe(t, RULES, market.asof(t), inputs=UniverseInputs(market))
    changed = build_universe(t, RULES, spiked.asof(t), inputs=UniverseInputs(spiked))
    pd.testing.assert_frame_equal(changed, base, check_exact=True)


def test_inputs_refuse_another_market(market: Market) -> None:
    inputs = UniverseInputs(synthetic_market())
    with pytest.raises(ValueError, match="not a cut"):
        build_universe(market.dates[-1], RULES, market, inputs=inputs)


def test_failures_table_says_what_the_reasons_say(market: Market) -> None:
    t = market.dates[1500]
    screened = screen_universe(t, RULES, market.asof(t))
    u, failures = screened.frame, screened.failures
    assert set(failures["screen"]) <= {s.name for s in SCREENS}
    joined = failures.groupby("ticker", sort=False)["reason"].agg(";".join)
    pd.testing.assert_series_equal(
        joined.reindex(u.index).fillna(""), u["reasons"], check_names=False
    )
    assert (u["eligible"] == ~u.index.isin(failures["ticker"])).all()
    counts = exclusion_counts(failures, u.index[~u["eligible"]])
    assert sum(counts.values()) == len(failures)
    assert counts.get("adtv_usd", 0) == int(failures["screen"].eq("adtv").sum()) > 0


def test_traded_value_hand_worked() -> None:
    """Close 10, (none), 12, 12 and volumes 100, 50, (unknown), 0 in a currency at 0.5 USD:
    traded USD 500, 0 (no price), 0 (no volume), 0. ADTV over the last 3 rows is 0, over 4 is
    125; a ticker with no volume at all has none."""
    close = np.array([[10.0, 1.0], [np.nan, 1.0], [12.0, 1.0], [12.0, 1.0]]) * 0.5
    volume = np.array([[100.0, np.nan], [50.0, np.nan], [np.nan, np.nan], [0.0, np.nan]])
    traded = TradedValue.of(close, volume)
    np.testing.assert_array_equal(traded.usd[:, 0], [500.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(traded.adtv(4, 3), [0.0, np.nan])
    np.testing.assert_array_equal(traded.adtv(4, 4), [125.0, np.nan])
    np.testing.assert_array_equal(traded.adtv(1, 63), [500.0, np.nan])
    assert np.isnan(traded.adtv(0, 63)).all()


def test_backtest_adtv_is_the_market_adtv_at_each_review(market: Market) -> None:
    from exchina.backtest.engine import adtv_at

    tickers = market.tickers[:6]
    reviews = pd.DatetimeIndex([market.dates[10], market.dates[900], pd.Timestamp("2030-01-01")])
    got = adtv_at(market, tickers, reviews, window=63)
    for r in reviews:
        want = market.asof(r).adtv_usd(63, tickers)
        np.testing.assert_array_equal(got.loc[r].to_numpy(), want.to_numpy())
