"""Output files: stamped with the data source, synthetic banner, plotly.js inlined once, atomic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import exchina.backtest.output as output
from exchina.backtest import BacktestResult, load_events, simulate_detailed, write_backtest

LABEL = "SYNTHETIC DEMO MARKET - not real prices (synthetic demo market (seed 7))"


def _result(synthetic: bool = True) -> BacktestResult:
    rng = np.random.default_rng(5)
    idx = pd.bdate_range("2023-01-02", "2025-12-31", name="date")
    prices = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.02, (len(idx), 3)), axis=0)),
        index=idx,
        columns=pd.Index(["A", "B", "C"], name="ticker"),
    )
    weights = pd.DataFrame(
        [[0.5, 0.3, 0.2], [0.2, 0.4, 0.4], [0.3, 0.3, 0.4]],
        index=pd.DatetimeIndex(idx[[0, 250, 500]], name="date"),
        columns=prices.columns,
    )
    sim = simulate_detailed(prices, weights, cost_bps=20.0)
    bench = prices["A"] / prices["A"].iloc[0] * 1000.0
    universe = pd.concat(
        pd.DataFrame(
            {
                "ticker": ["A", "B", "C"],
                "primary_stage": ["mining", "magnet", "recycling"],
                "country": ["AU", "US", "JP"],
                "china_score": [5.0, 20.0, 60.0],
                "confidence": [1.0, 0.5, 0.2],
            }
        ).assign(date=d)
        for d in weights.index
    )
    return BacktestResult(
        methodology="test index",
        digest="0" * 64,
        levels=sim.levels.assign(benchmark=bench.reindex(sim.levels.index)),
        weights=weights,
        drifted=sim.drifted,
        trades=weights - sim.drifted,
        costs=pd.DataFrame(
            {
                "review": weights.index - pd.offsets.BDay(5),
                "effective": weights.index,
                "status": "optimal",
                "turnover": sim.turnover.to_numpy(),
                "cost": sim.cost.to_numpy(),
            }
        ),
        universe=universe,
        prices_usd=prices,
        gaps=sim.gaps,
        label=LABEL if synthetic else "store: yahoo, prices to 2025-12-31",
        synthetic=synthetic,
        benchmark_name="A",
    )


def test_every_file_carries_the_data_source(tmp_path: Path) -> None:
    out = write_backtest(_result(), tmp_path / "run", events=load_events())
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "levels.csv",
        "levels.parquet",
        "metrics.json",
        "report.html",
        "weights.parquet",
    ]
    levels = pd.read_csv(out / "levels.csv")
    assert list(levels.columns) == ["date", "level_pr", "level_tr", "benchmark", "data_source"]
    assert (levels["data_source"] == LABEL).all()
    assert (pd.read_parquet(out / "levels.parquet")["data_source"] == LABEL).all()
    weights = pd.read_parquet(out / "weights.parquet")
    assert weights.groupby("date")["weight"].sum().tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert (weights["data_source"] == LABEL).all()
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["data_source"] == LABEL and doc["synthetic"] is True
    assert doc["metrics"]["cagr"] == pytest.approx(_result().metrics()["cagr"])
    assert len(doc["rebalances"]) == 3
    # weighted China score and confidence beside it at each rebalance, worked by hand
    first = doc["evidence"][0]
    assert first["date"] == "2023-01-02"
    assert first["weighted_china_score"] == pytest.approx(0.5 * 5 + 0.3 * 20 + 0.2 * 60)
    assert first["weighted_confidence"] == pytest.approx(0.5 * 1.0 + 0.3 * 0.5 + 0.2 * 0.2)
    assert doc["metrics"]["weighted_confidence_last"] == pytest.approx(0.3 + 0.3 * 0.5 + 0.08)


def test_report_is_self_contained_with_a_synthetic_banner(tmp_path: Path) -> None:
    page = (write_backtest(_result(), tmp_path / "run") / "report.html").read_text()
    assert 'class="banner">SYNTHETIC DATA' in page
    assert "cdn.plot.ly/plotly-" not in page and "<script src=" not in page
    assert page.count("plotly.js v") == 1  # the library once, however many charts
    assert page.count("Plotly.newPlot") >= 6
    real = (write_backtest(_result(False), tmp_path / "real") / "report.html").read_text()
    assert 'class="banner"' not in real and "store: yahoo" in real


def test_a_failed_write_leaves_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write_backtest(_result(), tmp_path / "run")
    before = (out / "levels.csv").read_text()

    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(output, "render_report", boom)
    with pytest.raises(RuntimeError):
        write_backtest(_result(False), tmp_path / "run")
    assert (out / "levels.csv").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
