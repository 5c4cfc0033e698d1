"""Exposures, attribution and event windows on small worked examples; the events loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.backtest import (
    attribution,
    china_band,
    china_exposure,
    event_windows,
    exposures,
    load_events,
    simulate,
)
from exchina.core.errors import InputError

IDX = pd.bdate_range("2024-01-01", periods=6)
PRICES = pd.DataFrame(
    {
        "A": [10.0, 11.0, 12.0, 12.0, 13.0, 13.0],
        "B": [20.0, 18.0, 18.0, 20.0, 22.0, 21.0],
        "C": [5.0, 5.0, 6.0, 6.0, 6.0, 6.5],
    },
    index=IDX,
)
WEIGHTS = pd.DataFrame(
    {"A": [0.5, 0.2], "B": [0.3, 0.4], "C": [0.2, 0.4]}, index=IDX[[0, 3]]
).rename_axis("date")
UNIVERSE = pd.DataFrame(
    {
        "date": [IDX[0]] * 3 + [IDX[3]] * 3,
        "ticker": ["A", "B", "C"] * 2,
        "primary_stage": ["mining", "mining", "magnet", "mining", "magnet", "magnet"],
        "country": ["AU", "US", "JP", "AU", "US", "JP"],
        "china_score": [5.0, 30.0, 60.0, 5.0, 30.0, np.nan],
    }
)


def test_exposures_use_the_universe_known_at_each_rebalance() -> None:
    by_stage = exposures(WEIGHTS, UNIVERSE, "primary_stage")
    assert by_stage.loc[IDX[0]].to_dict() == pytest.approx({"magnet": 0.2, "mining": 0.8})
    # B was reclassified as a magnet maker at the second review
    assert by_stage.loc[IDX[3]].to_dict() == pytest.approx({"magnet": 0.8, "mining": 0.2})
    bands = exposures(WEIGHTS, UNIVERSE, "china_band")
    assert bands.loc[IDX[3], "unknown"] == pytest.approx(0.4)
    assert bands.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])


def test_china_band_labels_and_weighted_score() -> None:
    labels = china_band(pd.Series([0.0, 9.99, 10.0, 49.0, 50.0, 100.0, np.nan])).tolist()
    assert labels == ["0-10", "0-10", "10-25", "25-50", "50-100", "50-100", "unknown"]
    score = china_exposure(WEIGHTS, UNIVERSE)
    assert score.iloc[0] == pytest.approx(0.5 * 5 + 0.3 * 30 + 0.2 * 60)
    assert score.iloc[1] == pytest.approx((0.2 * 5 + 0.4 * 30) / 0.6)  # C has no score


def test_attribution_adds_up_to_each_period_return() -> None:
    att = attribution(PRICES, WEIGHTS, UNIVERSE, "primary_stage")
    lv = simulate(PRICES, WEIGHTS)["level_pr"]
    for (start, end), part in att.groupby(["period_start", "period_end"]):
        assert part["contribution"].sum() == pytest.approx(lv[end] / lv[start] - 1, rel=1e-12)
    first = att[att["period_start"] == IDX[0]].set_index("group")
    # mining = A (0.5, +20%) + B (0.3, 0%): 0.10 over 0.8 of weight
    assert first.loc["mining", "contribution"] == pytest.approx(0.10)
    assert first.loc["mining", "return"] == pytest.approx(0.125)


def test_event_window_cumulative_excess_worked_example() -> None:
    dates = pd.bdate_range("2024-03-01", periods=10)
    index = pd.Series(100.0 * 1.01 ** np.arange(10), index=dates)
    bench = pd.Series(100.0, index=dates)
    events = pd.DataFrame(
        {"date": [pd.Timestamp("2024-03-09"), pd.Timestamp("2024-03-14")], "event_id": ["a", "b"]}
    )
    win = event_windows(index, bench, events, pre=2, post=3)
    # 2024-03-09 is a Saturday: day 0 is Monday 03-11 (position 6); base is position 3
    assert win["event_id"].unique().tolist() == ["a"]  # b's window runs past the data
    assert win["offset"].tolist() == [-2, -1, 0, 1, 2, 3]
    assert win["date"].iloc[2] == pd.Timestamp("2024-03-11")
    np.testing.assert_allclose(win["excess"], 1.01 ** np.arange(1, 7) - 1)


def test_shipped_events_load() -> None:
    events = load_events()
    assert events["date"].is_monotonic_increasing
    assert events["event_id"].is_unique
    assert (events["date"] == pd.Timestamp("2025-04-04")).any()


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("2025-13-01,x,t,rare_earths,s,https://a.b", "date", "YYYY-MM-DD"),
        ("2025-01-01,a,t,rare_earths,s,https://a.b", "event_id", "duplicate"),
        ("2025-01-01,x,,rare_earths,s,https://a.b", "title", "empty title"),
        ("2025-01-01,x,t,rare_earths,s,ftp://a.b", "source_url", "URL"),
    ],
)
def test_events_loader_names_row_and_field(
    tmp_path: Path, row: str, field: str, message: str
) -> None:
    path = tmp_path / "events.csv"
    header = "date,event_id,title,commodities,source_title,source_url"
    path.write_text(f"{header}\n2024-01-01,a,t,gallium,s,https://a.b\n{row}\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        load_events(path)
    assert (err.value.row, err.value.field) == (3, field)


def test_brinson_hand_worked_example() -> None:
    """Two groups, one period. Index: A 60% at +10%, B 40% at 0% (Rp = 6%). Benchmark: A 50% at
    +8%, B 50% at +2% (Rb = 5%). Allocation A = 0.1 x (0.08 - 0.05) = 0.003, B = -0.1 x (0.02 -
    0.05) = 0.003; selection A = 0.5 x 0.02 = 0.01, B = 0.5 x -0.02 = -0.01; interaction A =
    0.1 x 0.02 = 0.002, B = -0.1 x -0.02 = 0.002; total = 0.01 = Rp - Rb."""
    from exchina.backtest import brinson

    period = {"period_start": pd.Timestamp("2024-03-15"), "period_end": pd.Timestamp("2024-06-21")}
    index = pd.DataFrame(
        [
            {**period, "group": "A", "weight": 0.6, "return": 0.10, "contribution": 0.06},
            {**period, "group": "B", "weight": 0.4, "return": 0.00, "contribution": 0.0},
        ]
    )
    bench = pd.DataFrame(
        [
            {**period, "group": "A", "weight": 0.5, "return": 0.08, "contribution": 0.04},
            {**period, "group": "B", "weight": 0.5, "return": 0.02, "contribution": 0.01},
        ]
    )
    out = brinson(index, bench).set_index("group")
    assert out.loc["A", "allocation"] == pytest.approx(0.003)
    assert out.loc["B", "allocation"] == pytest.approx(0.003)
    assert out.loc["A", "selection"] == pytest.approx(0.01)
    assert out.loc["B", "selection"] == pytest.approx(-0.01)
    assert out.loc["A", "interaction"] == pytest.approx(0.002)
    assert out.loc["B", "interaction"] == pytest.approx(0.002)
    assert out["total"].sum() == pytest.approx(0.06 - 0.05)


def test_brinson_against_the_peer_adds_up_to_the_return_difference() -> None:
    """On a demo backtest with its REMX-like peer, every period's allocation + selection +
    interaction equals the index's price return minus the peer's over that period."""
    from exchina.backtest import attribution, run_backtest
    from exchina.core.sources import load_market
    from exchina.index import load_methodology, resolve_methodology

    market = load_market("demo")
    flagship = load_methodology(resolve_methodology("flagship"))
    remx_like = load_methodology(resolve_methodology("remx_like"))
    result = run_backtest(
        flagship, market, "2021-01-01", "2022-12-31", benchmark=None, peer=remx_like
    )
    table = result.brinson("primary_stage")
    ours = result.attribution("primary_stage").groupby("period_start")["contribution"].sum()
    theirs = (
        attribution(
            result.peer_prices_usd, result.peer_weights, result.peer_universe, "primary_stage"
        )
        .groupby("period_start")["contribution"]
        .sum()
    )
    totals = table.groupby("period_start")["total"].sum()
    np.testing.assert_allclose(totals.to_numpy(), (ours - theirs).reindex(totals.index), atol=1e-12)
    # the two methodologies weight the stages differently, so allocation effects are not zero
    assert (table["allocation"].abs() > 0).any()
