"""Index levels by divisor: a hand-worked example, continuity, FX and units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchina.core.errors import MissingDataError
from exchina.index import index_calculation, index_levels

DATES = pd.bdate_range("2024-01-01", periods=6)
PRICES = pd.DataFrame(
    {"A": [10, 11, 12, 12, 13, 13.0], "B": [20, 20, 18, 19, 19, 20.0]}, index=DATES
)
WEIGHTS = pd.DataFrame({"A": [0.5, 0.25], "B": [0.5, 0.75]}, index=[DATES[0], DATES[3]])


def test_hand_worked_levels() -> None:
    div = pd.DataFrame(0.0, index=DATES, columns=["A", "B"])
    div.loc[DATES[4], "B"] = 1.0
    levels, units = index_calculation(WEIGHTS, PRICES, dividends=div)
    # day 1: 1000 x (0.5 x 11/10 + 0.5 x 20/20) = 1050; day 2: 0.5 x 1.2 + 0.5 x 0.9 -> 1050
    # day 3: 1000 x (0.6 + 0.5 x 19/20) = 1075, then reweight to 25/75 after the close
    # day 4: 1075 x (0.25 x 13/12 + 0.75 x 19/19) = 1097.3958...
    # day 5: 1075 x (0.25 x 13/12 + 0.75 x 20/19) = 1139.8300...
    expected_pr = [1000, 1050, 1050, 1075, 1075 * (0.25 * 13 / 12 + 0.75), 0]
    expected_pr[5] = 1075 * (0.25 * 13 / 12 + 0.75 * 20 / 19)
    np.testing.assert_allclose(levels["level_pr"], expected_pr, rtol=1e-12)
    # dividend of 1.0 on B (ex-date day 4): points = units_B x 1 = 0.75 x 1075 / 19
    pts = 0.75 * 1075 / 19
    tr4 = 1075 * (expected_pr[4] + pts) / 1075
    assert levels["level_tr"].iloc[4] == pytest.approx(tr4, rel=1e-12)
    assert levels["level_tr"].iloc[5] == pytest.approx(tr4 * expected_pr[5] / expected_pr[4])
    # shares per index point at each rebalance
    assert units.loc[DATES[0]].tolist() == pytest.approx([0.5 * 1000 / 10, 0.5 * 1000 / 20])
    assert units.loc[DATES[3]].tolist() == pytest.approx([0.25 * 1075 / 12, 0.75 * 1075 / 19])


def test_divisor_keeps_the_level_continuous() -> None:
    levels, units = index_calculation(WEIGHTS, PRICES)
    reb = DATES[3]
    # the level at the rebalance close equals the new basket's value per divisor
    assert float(units.loc[reb] @ PRICES.loc[reb]) == pytest.approx(levels.loc[reb, "level_pr"])
    # the divisor of a close is the one after that close's rebalance: it changes there and
    # nowhere else
    changes = levels["divisor"].diff().fillna(0).ne(0)
    assert list(levels.index[changes]) == [reb]


def test_constant_prices_keep_the_base_level() -> None:
    flat = pd.DataFrame(5.0, index=DATES, columns=["A", "B"])
    levels = index_levels(WEIGHTS, flat, base=100.0)
    assert np.allclose(levels["level_pr"], 100.0) and np.allclose(levels["level_tr"], 100.0)


def test_fx_converts_to_usd() -> None:
    fx = pd.DataFrame({"A": np.linspace(1.0, 1.5, 6), "B": 1.0}, index=DATES)
    local = index_levels(WEIGHTS, PRICES, fx=fx)
    usd = index_levels(WEIGHTS, PRICES * fx)
    pd.testing.assert_frame_equal(local, usd)


def test_missing_price_for_a_held_name_is_an_error() -> None:
    px = PRICES.copy()
    px["C"] = np.nan
    w = WEIGHTS.assign(A=[0.4, 0.25], C=[0.1, 0.0])
    with pytest.raises(MissingDataError, match="'C'"):
        index_levels(w, px)
