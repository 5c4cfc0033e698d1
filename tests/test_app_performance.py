"""The Performance page builds and sends only the open tab's chart (six charts at every page
switch took it over a second in the browser: bench/bench_performance_page.py), and every tab
still shows the numbers the package computes. AppTest on the synthetic demo market."""

from __future__ import annotations

import base64
import html
import json

import numpy as np
import pytest
from app_support import APP, FLAGSHIP, PAGE
from streamlit.testing.v1 import AppTest

from exchina.backtest import drawdown_series, rolling_volatility
from exchina.ui import data
from exchina.ui.page_performance import DAILY_TABS, SECTION_TABS

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cold_streamlit_caches")]


def _charts(at: AppTest) -> dict[str, dict]:
    """Chart title (before the source line) -> plotly spec, for every chart on the page."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        out[html.unescape(spec["layout"]["title"]["text"].split("<br>")[0])] = spec
    return out


def _values(array) -> np.ndarray:
    """A trace's y values (plotly writes numpy arrays as base64 typed arrays)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype=float)


def _trace(spec: dict, name: str) -> np.ndarray:
    return _values(next(t for t in spec["data"] if t["name"] == name)["y"])


def _open_tabs(at: AppTest, chart: str, section: str) -> dict[str, dict]:
    at.session_state["performance_chart"] = chart
    at.session_state["performance_section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return _charts(at)


def test_performance_sends_only_the_open_tabs_with_the_packages_numbers():
    at = AppTest.from_file(str(APP), default_timeout=900)
    at.switch_page(PAGE["Performance"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.label for t in at.tabs] == [*DAILY_TABS, *SECTION_TABS]
    res = data.backtest(data.shipped_texts()["flagship"], data.data_key())
    level = res.levels["level_tr"].dropna()

    # the first view: the levels and the calendar-year returns, nothing else built
    shown = _charts(at)
    assert list(shown) == [
        "Index levels (USD, total return)",
        "Return by calendar year (last year to date)",
    ]
    np.testing.assert_allclose(_trace(shown["Index levels (USD, total return)"], FLAGSHIP), level)
    assert any(d.value.index.name == "year" for d in at.dataframe)

    shown = _open_tabs(at, "Drawdown", "Attribution")
    assert list(shown) == [
        "Drawdown from the running peak",
        "Contribution to each holding period's price return (before costs)",
    ]
    np.testing.assert_allclose(
        _trace(shown["Drawdown from the running peak"], FLAGSHIP), drawdown_series(level)
    )
    assert at.radio(key="performance_attr_by").value == "primary_stage"
    assert not any(d.value.index.name == "year" for d in at.dataframe)

    shown = _open_tabs(at, "Rolling volatility", "Export-control events")
    title = "Rolling volatility (63 days, annualised)"
    first, second = shown
    assert first == title and second.startswith("Cumulative excess return vs")
    vol = rolling_volatility(level, 63).dropna()
    np.testing.assert_allclose(_trace(shown[title], FLAGSHIP), vol)
    assert any("excess" in d.value.columns for d in at.dataframe)  # the events table

    # a control inside a tab still works: a shorter window, its own numbers
    at.select_slider(key="performance_vol").set_value(21).run()
    shown = _charts(at)
    np.testing.assert_allclose(
        _trace(shown["Rolling volatility (21 days, annualised)"], FLAGSHIP),
        rolling_volatility(level, 21).dropna(),
    )
