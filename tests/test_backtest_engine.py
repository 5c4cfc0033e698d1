"""run_backtest end to end on the demo market: point in time, invariants, the CLI command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.backtest import BacktestResult, resolve_benchmark, run_backtest
from exchina.backtest.engine import _priced_weights, _PriceIndex
from exchina.cli import main
from exchina.core.market import Market

START, END, CUT = "2019-01-01", "2020-03-31", pd.Timestamp("2019-09-30")


@pytest.fixture(scope="module")
def market() -> Market:
    from exchina.core.sources import load_market

    return load_market("demo")


@pytest.fixture(scope="module")
def flagship():
    from exchina.index.methodology import load_methodology, resolve_methodology

    return load_methodology(resolve_methodology("flagship"))


@pytest.fixture(scope="module")
def result(market: Market, flagship) -> BacktestResult:
    return run_backtest(flagship, market, START, END, benchmark="REMX")


def _perturbed_after(market: Market, cut: pd.Timestamp) -> Market:
    """The same market up to ``cut``; prices, volumes and dividends after it changed."""
    rng = np.random.default_rng(1)
    after = market.close.index > cut
    shock = np.exp(np.cumsum(rng.normal(0, 0.05, (int(after.sum()), market.close.shape[1])), 0))
    close = market.close.copy()
    close.loc[after] = close.loc[after].to_numpy() * shock
    volume = market.volume.copy()
    volume.loc[after] = volume.loc[after].to_numpy() * 5.0
    dividends = market.dividends.copy()
    dividends.loc[after] = 0.01 * close.loc[after].fillna(0.0).to_numpy()
    return replace(market, close=close, volume=volume, dividends=dividends)


@pytest.mark.slow
def test_no_lookahead(market: Market, flagship, result: BacktestResult) -> None:
    other = run_backtest(flagship, _perturbed_after(market, CUT), START, END, benchmark="REMX")
    before = result.weights.index[result.weights.index <= CUT]
    assert len(before) >= 3

    def held(w: pd.DataFrame) -> pd.DataFrame:
        w = w.loc[before]
        return w.loc[:, (w != 0).any()]

    pd.testing.assert_frame_equal(held(other.weights), held(result.weights))
    uni = result.universe[result.universe["date"].isin(before)].reset_index(drop=True)
    uni_other = other.universe[other.universe["date"].isin(before)].reset_index(drop=True)
    pd.testing.assert_frame_equal(uni_other, uni)
    pd.testing.assert_frame_equal(other.levels.loc[:CUT], result.levels.loc[:CUT])
    # the perturbation is real: later levels and decisions move
    assert not np.allclose(other.levels.loc[CUT:, "level_pr"], result.levels.loc[CUT:, "level_pr"])


def test_result_invariants(result: BacktestResult, market: Market, flagship) -> None:
    assert result.synthetic and result.label == market.label
    assert result.weights.sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert result.costs["turnover"].iloc[0] == pytest.approx(1.0)
    assert result.costs["cost"].iloc[0] == 0.0 and (result.costs["cost"].iloc[1:] > 0).all()
    assert (result.costs["review"] < result.costs["effective"]).all()
    min_days = flagship.universe.min_history_days
    for (date, w), review in zip(result.weights.iterrows(), result.costs["review"], strict=True):
        uni = result.universe[result.universe["date"] == date].set_index("ticker")
        held = w[w > 0].index
        assert uni.loc[held, "eligible"].all()
        # a listing enters only once it has the history the rules ask for, as known at review
        assert (market.asof(review).history_days(list(held)) >= min_days).all()
    lv = result.levels
    assert lv["benchmark"].iloc[0] == pytest.approx(lv["level_tr"].iloc[0])
    assert (lv["level_tr"] >= lv["level_pr"] - 1e-9).all()
    assert lv.index[0] == result.weights.index[0]
    m = result.metrics()
    assert m["data_source"] == market.label and m["benchmark"] == "REMX"
    assert m["rebalances"] == len(result.weights)


def test_stale_names_are_dropped_and_their_weight_shared(market: Market) -> None:
    prices = _PriceIndex(market)
    day = market.dates[-100]
    names = market.close.columns[market.close.loc[day].notna().to_numpy()][:3]
    stale = replace(market, close=market.close.assign(**{names[0]: np.nan}))
    notes: list[str] = []
    w = pd.Series([0.5, 0.3, 0.2], index=names)
    out = _priced_weights(w, _PriceIndex(stale), day, 5, notes)
    assert list(out.index) == list(names[1:])
    assert out.to_numpy() == pytest.approx([0.6, 0.4])
    assert names[0] in notes[0]
    assert _priced_weights(w, prices, day, 5, []).equals(w)


def test_default_benchmark_is_the_ticker_with_the_methodology_as_peer(
    market: Market, flagship
) -> None:
    bench, peer = resolve_benchmark(flagship, market=market)
    assert bench == "REMX" and peer is not None and peer.name != flagship.name
    bench, peer = resolve_benchmark(flagship, "remx_like", market=market)
    assert bench.name.startswith("REMX-like") and peer is None  # the benchmark is the peer
    assert resolve_benchmark(flagship, "none", market=market)[0] is None


def test_cli_writes_the_outputs(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = ["backtest", "--methodology", "equal_weight", "--source", "demo", "--start", START]
    code = main([*args, "--end", END, "--benchmark", "REMX", "--no-peer", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "levels.csv",
        "levels.parquet",
        "weights.parquet",
        "metrics.json",
        "report.html",
    }
    assert "SYNTHETIC DATA" in (out / "report.html").read_text()
    assert json.loads((out / "metrics.json").read_text())["peer"] is None  # --no-peer


def test_metrics_json_carries_the_peer_methodology(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = ["backtest", "--methodology", "flagship", "--source", "demo", "--start", START]
    assert main([*args, "--end", END, "--out", str(out)]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    # levels.parquet: full precision (levels.csv rounds to 10 significant digits, which alone
    # can move a ratio of two levels by 1e-9)
    levels = pd.read_parquet(out / "levels.parquet").set_index("date")
    assert doc["peer"]["methodology"] == "REMX-like Rare Earth & Strategic Metals"
    peer = levels["peer"].dropna()
    expected = peer.iloc[-1] / peer.iloc[0] - 1.0
    assert doc["peer"]["total_return"] == pytest.approx(expected, rel=1e-9)


def test_cli_bad_date_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = ["--methodology", "flagship", "--source", "demo", "--start", "2019-13-45"]
    code = main(["backtest", *args, "--out", str(out)])
    assert code == 2
    assert not out.exists()
