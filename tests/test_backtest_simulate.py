"""The engine against worked examples, a plain day-by-day loop and bt on real ASX prices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.backtest import simulate, simulate_detailed
from exchina.backtest.costs import CostModel
from exchina.core.errors import InputError, MissingDataError

ASX = ["LYC", "ILU", "ARU", "IGO", "PLS", "MIN"]


def _asx_closes(realdata: Path) -> pd.DataFrame:
    """Adjusted closes of six ASX names; the Date column carries +10/+11 offsets (local midnight)."""
    out = {}
    for t in ASX:
        raw = pd.read_csv(realdata / "naveenf__asxscreener/data/raw" / f"{t}.AX.csv")
        dates = pd.to_datetime(raw["Date"].str.slice(0, 10))
        out[t] = pd.Series(raw["Close"].to_numpy(dtype=float), index=dates)
    frame = pd.DataFrame(out).sort_index()
    frame.index.name = "date"
    return frame


def _quarterly_weights(prices: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = prices.index[::63][:-1]
    w = rng.dirichlet(np.ones(prices.shape[1]), len(dates))
    w[1, 2] = 0.0  # a name leaves and comes back
    w[1] /= w[1].sum()
    return pd.DataFrame(w, index=dates, columns=prices.columns)


def _loop_levels(prices: pd.DataFrame, weights: pd.DataFrame, base: float = 1000.0) -> pd.Series:
    """Independent reference: walk the days, hold shares, rebalance at the close by hand."""
    px = prices.ffill()
    shares: dict[str, float] = {}
    value = base
    out = {}
    for date in px.loc[weights.index[0] :].index:
        if shares:
            value = sum(n * px.at[date, t] for t, n in shares.items())
        if date in weights.index:
            shares = {t: value * w / px.at[date, t] for t, w in weights.loc[date].items() if w}
        out[date] = value
    return pd.Series(out)


def test_two_names_worked_example() -> None:
    prices = pd.DataFrame(
        {"A": [10.0, 11.0, 12.0, 12.0], "B": [20.0, 20.0, 18.0, 24.0]},
        index=pd.bdate_range("2024-01-01", periods=4),
    )
    weights = pd.DataFrame({"A": [0.5, 0.5], "B": [0.5, 0.5]}, index=prices.index[[0, 2]])
    lv = simulate(prices, weights, base=100.0)["level_pr"]
    # day 1: 50*1.1 + 50 = 105; day 2: 60 + 45 = 105 then rebalance; day 3: 52.5 + 52.5*24/18 = 122.5
    np.testing.assert_allclose(lv.to_numpy(), [100.0, 105.0, 105.0, 122.5], rtol=1e-12)


def test_dividends_are_reinvested_across_the_index() -> None:
    prices = pd.DataFrame({"A": [10.0, 10.0, 11.0]}, index=pd.bdate_range("2024-01-01", periods=3))
    divs = pd.DataFrame({"A": [0.0, 0.5, 0.0]}, index=prices.index)
    weights = pd.DataFrame({"A": [1.0]}, index=prices.index[:1])
    lv = simulate(prices, weights, dividends=divs, base=100.0)
    np.testing.assert_allclose(lv["level_pr"], [100.0, 100.0, 110.0])
    np.testing.assert_allclose(lv["level_tr"], [100.0, 105.0, 115.5])


def test_costs_charge_traded_weight_after_the_first_rebalance() -> None:
    prices = pd.DataFrame(
        {"A": [10.0, 20.0, 20.0], "B": [10.0, 10.0, 10.0]},
        index=pd.bdate_range("2024-01-01", periods=3),
    )
    weights = pd.DataFrame({"A": [0.5, 0.5], "B": [0.5, 0.5]}, index=prices.index[[0, 1]])
    sim = simulate_detailed(prices, weights, cost_bps=50.0, base=100.0)
    # before day 1's trades: A is 2/3, B 1/3; trading to 1/2 each moves 1/3 of the value
    assert sim.turnover.iloc[1] == pytest.approx(1 / 6)
    assert sim.cost.iloc[1] == pytest.approx((1 / 3) * 50e-4)
    assert sim.levels["level_pr"].iloc[1] == pytest.approx(150.0 * (1 - (1 / 3) * 50e-4))
    assert sim.cost.iloc[0] == 0.0


def test_square_root_impact_grows_with_the_share_of_adtv() -> None:
    model = CostModel(spread_bps=10.0, impact_bps_at_full_adtv=100.0, aum_usd=1e6)
    bps = model.bps(np.array([0.25, 0.01, 0.1]), np.array([1e6, 1e6, np.nan]))
    # 0.25 * 1e6 / 1e6 = 25% of ADTV -> 100 * 0.5; unknown ADTV charged as a full day's volume
    np.testing.assert_allclose(bps, [10 + 50.0, 10 + 10.0, 10 + 100.0])
    assert model.unknown_adtv(
        np.array([0.25, 0.0, 0.1]), np.array([1e6, np.nan, np.nan])
    ).tolist() == [
        False,
        False,
        True,
    ]


def test_fx_converts_local_prices_to_usd() -> None:
    idx = pd.bdate_range("2024-01-01", periods=3)
    local = pd.DataFrame({"A": [100.0, 100.0, 100.0], "B": [5.0, 5.0, 6.0]}, index=idx)
    fx = pd.DataFrame({"A": [0.5, 0.6, 0.6], "B": [1.0, 1.0, 1.0]}, index=idx)
    weights = pd.DataFrame({"A": [0.5], "B": [0.5]}, index=idx[:1])
    pd.testing.assert_frame_equal(simulate(local, weights, fx=fx), simulate(local * fx, weights))
    assert simulate(local, weights, fx=fx)["level_pr"].iloc[1] == pytest.approx(1000 * 1.1)


def test_missing_prices_freeze_the_value_and_are_reported() -> None:
    idx = pd.bdate_range("2024-01-01", periods=5)
    prices = pd.DataFrame(
        {"A": [10.0, 11.0, np.nan, np.nan, 12.0], "B": [10.0, 10.0, 10.0, 10.0, 10.0]}, index=idx
    )
    weights = pd.DataFrame({"A": [0.5], "B": [0.5]}, index=idx[:1])
    sim = simulate_detailed(prices, weights, base=100.0)
    np.testing.assert_allclose(sim.levels["level_pr"], [100, 105, 105, 105, 110])
    gap = sim.gaps.iloc[0]
    assert (gap["ticker"], gap["first_missing"], gap["last_missing"], gap["rows"]) == (
        "A",
        idx[2],
        idx[3],
        2,
    )


def test_a_name_never_priced_cannot_be_bought() -> None:
    idx = pd.bdate_range("2024-01-01", periods=3)
    prices = pd.DataFrame({"A": [10.0, 10.0, 10.0], "B": [np.nan, 5.0, 5.0]}, index=idx)
    with pytest.raises(MissingDataError, match="B"):
        simulate(prices, pd.DataFrame({"A": [0.5], "B": [0.5]}, index=idx[:1]))
    # unweighted, a late listing is harmless
    assert (
        simulate(prices, pd.DataFrame({"A": [1.0], "B": [0.0]}, index=idx[:1])).notna().all().all()
    )


def test_cash_left_over_earns_nothing() -> None:
    idx = pd.bdate_range("2024-01-01", periods=2)
    prices = pd.DataFrame({"A": [10.0, 12.0]}, index=idx)
    lv = simulate(prices, pd.DataFrame({"A": [0.5]}, index=idx[:1]), base=100.0)
    assert lv["level_pr"].iloc[-1] == pytest.approx(110.0)


@pytest.mark.parametrize(
    ("weights_index", "message"),
    [(["2024-01-06"], "not a date of the prices"), (["2024-01-03", "2024-01-02"], "ascending")],
)
def test_bad_rebalance_dates_are_named(weights_index: list[str], message: str) -> None:
    prices = pd.DataFrame({"A": [1.0, 1.0, 1.0]}, index=pd.bdate_range("2024-01-01", periods=3))
    weights = pd.DataFrame({"A": 1.0}, index=pd.DatetimeIndex(weights_index))
    with pytest.raises(InputError, match=message):
        simulate(prices, weights)


def test_agrees_with_a_plain_loop_on_real_prices(realdata: Path) -> None:
    prices = _asx_closes(realdata)
    weights = _quarterly_weights(prices)
    ours = simulate(prices, weights)["level_pr"]
    ref = _loop_levels(prices, weights)
    np.testing.assert_allclose(ours.to_numpy(), ref.reindex(ours.index).to_numpy(), rtol=1e-9)
    assert ours.index[0] == weights.index[0] and ours.index[-1] == prices.index[-1]


def test_agrees_with_bt_on_real_prices(realdata: Path) -> None:
    import bt  # the peer library (dev extra)

    prices = _asx_closes(realdata)
    weights = _quarterly_weights(prices, seed=11)
    strategy = bt.Strategy("s", [bt.algos.WeighTarget(weights), bt.algos.Rebalance()])
    res = bt.run(bt.Backtest(strategy, prices, integer_positions=False, progress_bar=False))
    ref = res.prices.iloc[:, 0].loc[weights.index[0] :]
    ours = simulate(prices, weights)["level_pr"]
    np.testing.assert_allclose(
        ours.to_numpy(), (ref / ref.iloc[0] * 1000.0).reindex(ours.index).to_numpy(), rtol=1e-9
    )


def test_impact_is_sized_against_adtv_known_at_each_rebalance() -> None:
    prices = pd.DataFrame(
        {"A": [10.0, 20.0, 20.0], "B": [10.0, 10.0, 10.0]},
        index=pd.bdate_range("2024-01-01", periods=3),
    )
    weights = pd.DataFrame({"A": [0.5, 0.5], "B": [0.5, 0.5]}, index=prices.index[[0, 1]])
    adtv = pd.DataFrame({"A": [1e6, 4e6], "B": [1e6, 1e6]}, index=weights.index)
    sim = simulate_detailed(
        prices, weights, cost_bps=10.0, impact_bps_at_full_adtv=100.0, adtv_usd=adtv, aum_usd=1e8
    )
    # each name trades 1/6 of a 100M fund: A is 16.7M against 4M ADTV, B against 1M
    dw = 1 / 6
    expected = dw * (10 + 100 * np.sqrt(dw * 1e8 / 4e6)) + dw * (10 + 100 * np.sqrt(dw * 1e8 / 1e6))
    assert sim.cost.iloc[1] == pytest.approx(expected / 1e4)
    assert sim.unknown_adtv.empty
