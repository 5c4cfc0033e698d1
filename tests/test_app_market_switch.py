"""The app lets a user switch from the prices in the store to the synthetic demo market and back
(issue 13: after importing a few real tickers there was no way back), without changing the store."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st
from store_support import snapshot
from streamlit.testing.v1 import AppTest

from exchina.core.store import MarketStore
from exchina.ui.layout import BANNER

APP = Path(__file__).resolve().parents[1] / "app.py"
SWITCH = "Use the SYNTHETIC demo market"


def _source(at: AppTest) -> str:
    return next(c.value for c in at.sidebar.caption if "Data source" in c.value)


def test_sidebar_switch_goes_to_the_demo_market_and_back() -> None:
    root = Path(os.environ["EXCHINA_STORE"])  # conftest: a fresh folder per test
    st_ = MarketStore(root)
    dates = pd.bdate_range("2025-01-02", periods=200)
    st_.write_prices(
        pd.DataFrame({"date": dates, "ticker": "MP", "close": 20.0, "volume": 1e6,
                      "currency": "USD"}), "file:MP.csv",
    )  # fmt: skip
    before = snapshot(root)
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.switch_page("src/exchina/ui/page_methodology.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "imported files" in _source(at) and BANNER not in [e.value for e in at.error]
    switch = at.sidebar.toggle(key="use_demo_market")
    assert switch.label == SWITCH and switch.value is False
    switch.set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "SYNTHETIC" in _source(at) and at.error[0].value == BANNER
    at.sidebar.toggle(key="use_demo_market").set_value(False).run()
    assert "imported files" in _source(at) and BANNER not in [e.value for e in at.error]
    assert snapshot(root) == before  # the store is never changed by the switch
    st.cache_data.clear()
