"""A store that lacks most of the universe is missing data (exit 4) naming what is missing and
how to fill it, not an "infeasible" blamed on the methodology (issue: MP and UUUU only)."""

from __future__ import annotations

import pandas as pd

from exchina.cli import main
from exchina.core.sources import load_market
from exchina.core.store import MarketStore


def test_store_with_two_tickers_is_missing_data(tmp_path, capsys) -> None:
    demo = load_market("demo").window("2018-01-01", "2026-01-30")
    rows = []
    for t in ("MP", "UUUU"):
        s = demo.close[t].dropna()
        rows.append(pd.DataFrame({"date": s.index, "ticker": t, "close": s.to_numpy(),
                                  "volume": demo.volume[t].reindex(s.index).to_numpy(),
                                  "currency": "USD"}))  # fmt: skip
    st = MarketStore(tmp_path / "store")
    st.write_prices(pd.concat(rows, ignore_index=True), "file:test", "test")
    code = main(["backtest", "-m", "flagship", "--source", "store", "--store",
                 str(tmp_path / "store"), "--out", str(tmp_path / "bt"), "--no-peer",
                 "--benchmark", "none", "--start", "2025-01-01"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 4, err
    assert "has no prices up to" in err and "exchina fetch --universe" in err
    assert "infeasible" not in err.lower()
    assert not (tmp_path / "bt").exists()
