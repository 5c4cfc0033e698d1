"""A rebalance end to end on the synthetic demo market: outputs, determinism, failure modes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from exchina.cli import main
from exchina.core.market import SYNTHETIC_LABEL
from exchina.core.sources import load_market
from exchina.index import (
    UCITS,
    load_methodology,
    rebalance,
    shipped_methodologies,
    write_rebalance,
)

FIXTURES = Path(__file__).parent / "fixtures" / "index"
FLAGSHIP = shipped_methodologies()["flagship"]
DATE = "2025-12-19"


@pytest.fixture(scope="module")
def demo():
    return load_market("demo")


@pytest.fixture(scope="module")
def flagship_run(demo):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return rebalance(DATE, FLAGSHIP, demo)


def test_flagship_rebalance_meets_its_rules(flagship_run) -> None:
    r = flagship_run
    c = r.constituents
    assert c["weight"].sum() == pytest.approx(1.0, abs=1e-9)
    assert UCITS.violations(c["weight"]) == []
    assert r.report["weights_by_stage"]["mining"] <= 0.40 + 1e-6
    assert r.report["weights_by_stage"]["separation_refining"] >= 0.10 - 1e-6
    stages = r.report["weights_by_stage"]
    assert stages["metal_alloy"] + stages["magnet"] >= 0.15 - 1e-6
    assert (c["china_score"] <= 35 + 10).all()  # entry 35, buffer 10 for members
    assert sum(r.report["weights_by_china_band"].values()) == pytest.approx(1.0)
    assert r.cutoff == pd.Timestamp("2025-12-12")
    # shares per unit price the basket at the base level
    assert float(c["shares_per_unit"] @ c["price_usd"]) == pytest.approx(1000.0)


def test_outputs_are_labelled_and_deterministic(flagship_run, demo, tmp_path: Path) -> None:
    a = write_rebalance(flagship_run, tmp_path / "a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        again = rebalance(DATE, FLAGSHIP, demo)
    b = write_rebalance(again, tmp_path / "b")
    names = ["constituents.csv", "constituents.parquet", "trades.csv", "report.json"]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    report = json.loads((a / "report.json").read_text())
    assert report["synthetic"] is True and SYNTHETIC_LABEL in report["data_source"]
    assert report["methodology"]["hash"] == load_methodology(FLAGSHIP).digest()
    assert report["optimizer"]["status"] == "optimal"
    for name in ("constituents.csv", "trades.csv"):
        assert SYNTHETIC_LABEL in (a / name).read_text()
    assert set(pd.read_parquet(a / "constituents.parquet")["data_source"]) == {demo.label}


def test_trades_against_previous_holdings(flagship_run, demo) -> None:
    previous = flagship_run.weights
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        nxt = rebalance("2026-03-20", FLAGSHIP, demo, previous=previous)
    t = nxt.trades.set_index("ticker")
    assert (t["weight"] - t["previous_weight"] - t["trade_weight"]).abs().max() < 1e-8
    assert nxt.report["turnover"] == pytest.approx(0.5 * t["trade_weight"].abs().sum())
    assert set(previous.index) <= set(t.index)


def test_tracking_a_parent_with_a_china_budget(demo) -> None:
    r = rebalance(DATE, FIXTURES / "tracking_remx.toml", demo)
    assert r.report["weighted_china_score"] <= 25 + 1e-6
    held = r.universe.reindex(r.constituents["ticker"])
    expected = float(held["confidence"].to_numpy() @ r.constituents["weight"].to_numpy())
    assert r.report["weighted_confidence"] == pytest.approx(expected)
    assert 0.0 <= r.report["weighted_confidence"] <= 1.0
    assert r.optimized.diagnostics["tracking_error"] > 0


def test_cli_rebalance_writes_outputs(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "rebalance",
            "--date",
            DATE,
            "--methodology",
            str(FLAGSHIP),
            "--source",
            "demo",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "constituents.csv",
        "constituents.parquet",
        "report.json",
        "trades.csv",
    ]
    assert "SYNTHETIC" in capsys.readouterr().out
    nxt = tmp_path / "next"
    code = main(
        [
            "rebalance",
            "--date",
            "2026-03-20",
            "--methodology",
            str(FLAGSHIP),
            "--source",
            "demo",
            "--holdings",
            str(out / "constituents.csv"),
            "--out",
            str(nxt),
        ]
    )
    assert code == 0
    assert json.loads((nxt / "report.json").read_text())["turnover"] > 0


def test_cli_infeasible_run_exits_3_and_writes_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "rebalance",
            "--date",
            DATE,
            "--methodology",
            str(FIXTURES / "impossible_floor.toml"),
            "--source",
            "demo",
            "--out",
            str(out),
        ]
    )
    assert code == 3
    assert "stage_bounds.recycling floor 80.0%" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_bad_holdings_names_row_and_field(tmp_path: Path, capsys) -> None:
    h = tmp_path / "h.csv"
    h.write_text("ticker,weight\nMP,0.5\nLYC.AX,lots\n")
    code = main(
        [
            "rebalance",
            "--date",
            DATE,
            "--methodology",
            str(FLAGSHIP),
            "--source",
            "demo",
            "--holdings",
            str(h),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "row 3, field 'weight'" in capsys.readouterr().err


def test_price_age_is_counted_in_business_days() -> None:
    """max_price_age_days = 5 business days: prices to Friday 2025-12-05 are fresh enough for the
    2025-12-12 cut-off (7 calendar days, 5 business days); prices to Thursday 2025-12-04 are not."""
    from exchina.core.errors import StaleDataError
    from exchina.core.sources import load_market
    from exchina.index import load_methodology, rebalance, resolve_methodology

    meth = load_methodology(resolve_methodology("flagship"))
    demo = load_market("demo")
    assert meth.schedule.max_price_age_days == 5
    fresh = rebalance("2025-12-19", meth, demo.asof("2025-12-05"))
    assert fresh.weights.sum() == pytest.approx(1.0)
    with pytest.raises(StaleDataError, match="6 business days"):
        rebalance("2025-12-19", meth, demo.asof("2025-12-04"))
