"""Refactors of the index layer change no number: the shipped methodologies' demo backtests on a
frozen copy of the data give the weights and levels recorded before the restructuring, to 1e-9
(see ``tests/golden_support.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from golden_support import GOLDEN, METHODOLOGIES, frozen_backtest


@pytest.mark.slow
@pytest.mark.parametrize("name", METHODOLOGIES)
def test_backtest_equals_the_frozen_weights_and_levels(name: str) -> None:
    weights, levels = frozen_backtest(name)
    want_w = pd.read_parquet(GOLDEN / f"{name}.weights.parquet")
    want_l = pd.read_parquet(GOLDEN / f"{name}.levels.parquet")
    assert list(weights.index) == list(want_w.index)
    cols = sorted(set(weights.columns) | set(want_w.columns))
    got = weights.reindex(columns=cols, fill_value=0.0).to_numpy(float)
    want = want_w.reindex(columns=cols, fill_value=0.0).to_numpy(float)
    assert np.abs(got - want).max() <= 1e-9
    assert list(levels.index) == list(want_l.index)
    rel = np.abs(levels.to_numpy(float) / want_l.to_numpy(float) - 1).max()
    assert rel <= 1e-9


def test_backtest_screens_and_weights_a_custom_master() -> None:
    """``run_backtest(companies=...)`` uses the master it is given at every rebalance."""
    from golden_support import DATA, frozen_data

    from exchina.backtest import run_backtest
    from exchina.core.demo import demo_market
    from exchina.index import load_methodology
    from exchina.universe import load_companies, load_facts

    with frozen_data():
        market = demo_market()
        master = load_companies(DATA / "companies.csv")
        m = load_methodology(DATA / "methodologies" / "flagship.toml")
        full = run_backtest(m, market, start="2025-01-01", end="2025-12-31", companies=master)
        facts = load_facts(DATA / "exposure_facts.csv", companies=master)
        without = master[master["ticker"] != "LYC.AX"]
        facts = facts[facts["company_id"].isin(without["company_id"])]
        less = run_backtest(
            m, market, start="2025-01-01", end="2025-12-31", companies=without, facts=facts
        )
    assert full.weights["LYC.AX"].gt(0).all()
    assert "LYC.AX" not in less.weights.columns
    assert "LYC.AX" not in set(less.universe["ticker"])
