"""The app says one thing one way on every page: eligible and held counts, the stage basis,
series names and colours, the edited methodology's name, the calendar-year table's format.
Runs on the synthetic demo market with AppTest (the result cache is shared by the session)."""

from __future__ import annotations

import json
import re

import pytest
from app_support import FLAGSHIP, PAGE, open_page
from streamlit.testing.v1 import AppTest

from exchina.backtest.series import series_color

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cold_streamlit_caches")]

REMX_LIKE = "REMX-like Rare Earth & Strategic Metals"


def _open(page: str | None = None) -> AppTest:
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _traces(at: AppTest) -> list[dict]:
    out = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        out += [t for t in spec["data"] if t.get("name")]
    return out


def _captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_eligible_and_held_agree_between_universe_and_weights():
    at = _open("Weights")
    text = _captions(at)
    m = re.search(r"selection cut-off (\d{4}-\d\d-\d\d)", text)
    held, elig = re.search(r"\*\*(\d+) names held\*\* of \*\*(\d+) eligible\*\*", text).groups()
    buf = re.search(r"(\d+) are members kept by the buffer", text).group(1)
    assert m is not None
    at.switch_page(PAGE["Universe"]).run()
    at.date_input(key="universe_date").set_value(m.group(1))
    at.run()
    assert not at.exception
    text = _captions(at)
    # the same eligible count, with the buffer-kept members named as such on both pages
    assert f"**{elig} eligible**" in text
    assert f"{buf} held and kept by the members' buffer" in text
    table = next(d.value for d in at.dataframe if "standing" in d.value.columns)
    assert int(table["eligible"].sum()) == int(elig)
    kept = table[table["standing"] == "held, kept by buffer"]
    assert len(kept) == int(buf) and kept["eligible"].all()
    assert int(held) <= int(elig)


def test_stage_charts_name_their_basis():
    at = _open("Weights")
    text = _captions(at)
    assert "revenue shares" in text  # the flagship's stage bounds use revenue shares
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any("By supply-chain stage (revenue share)" in t for t in titles)
    at.radio(key="weights_by").set_value("primary_stage")
    at.run()
    assert "Through time by primary stage" in _captions(at)


def test_series_have_distinct_names_and_one_colour_everywhere():
    at = _open()
    traces = _traces(at)
    at.switch_page(PAGE["Performance"]).run()
    traces += _traces(at)
    colours: dict[str, set[str]] = {}
    for t in traces:
        colour = (t.get("line") or {}).get("color") or (t.get("marker") or {}).get("color")
        if colour:
            colours.setdefault(t["name"], set()).add(colour)
    names = set(colours)
    assert {FLAGSHIP, REMX_LIKE, "REMX (benchmark ticker)"} <= names
    assert all(len(c) == 1 for c in colours.values()), colours  # one colour a series
    assert colours[REMX_LIKE] != colours["REMX (benchmark ticker)"]
    for name in (FLAGSHIP, REMX_LIKE, "REMX (benchmark ticker)"):
        assert colours[name] == {series_color(name)}
    metrics = next(d.value for d in at.dataframe if "Max drawdown" in d.value.index)
    assert FLAGSHIP in metrics.columns and REMX_LIKE in metrics.columns


def test_calendar_year_table_has_one_format():
    at = _open("Performance")
    yearly = next(d.value for d in at.dataframe if d.value.index.name == "year")
    assert yearly.index[0].endswith("(to date)")
    values = yearly.to_numpy().ravel()
    assert all(re.fullmatch(r"-?\d+\.\d%|n/a", v) for v in values), values[:5]


def test_edited_methodology_gets_its_own_name():
    at = _open("Methodology")
    at.number_input(key="mf_spread").set_value(40.0)  # the name is left as the flagship's
    at.button[0].click()
    at.run()
    assert not at.exception
    assert f"{FLAGSHIP} (edited)" in at.success[0].value
    at.switch_page(PAGE["Downloads"]).run()
    assert f"{FLAGSHIP} (edited)" in _captions(at)
    assert at.title[0].value == "Downloads"


def test_relaxations_and_missing_prices_are_on_the_pages():
    """Overview, Weights and Performance show the backtest's structured relaxations
    (``relaxation_summary()``, one table row per ``relaxations`` row), Weights the latest
    rebalance's own (``RebalanceResult.relaxations``), and the price gaps."""
    from exchina.ui import data

    key = data.data_key()
    text = data.shipped_texts()["flagship"]
    res = data.backtest(text, key)
    reb = data.current_rebalance(text, key)
    summary = res.relaxation_summary()
    # the demo flagship relaxes rules (liquidity, top-up) at most rebalances: something to show
    assert summary["rebalances_relaxed"] > 0 and summary["worst_relaxation"]
    head = f"rules relaxed at {summary['rebalances_relaxed']} of {len(res.weights)} rebalances"
    for page in ("Overview", "Weights", "Performance"):
        at = _open(None if page == "Overview" else page)
        labels = [e.label for e in at.expander]
        mine = [x for x in labels if x.startswith(f"**{FLAGSHIP}**")]
        assert mine, (page, labels)
        assert head in mine[0] and f"largest: {summary['worst_relaxation']}" in mine[0]
        if len(res.gaps):
            assert f"{len(res.gaps)} stretches where a held name had no price" in mine[0]
        tables = [d.value for d in at.dataframe if "what gave way" in d.value.columns]
        assert tables and len(tables[0]) == len(res.relaxations), page
        assert set(tables[0]["rule"]) == set(res.relaxations["rule"])
        if page == "Weights":
            shown = [w.value for w in at.warning if "Rule relaxed at this rebalance" in w.value]
            assert len(shown) == len(reb.relaxations)
            assert all(r.text() in w for r, w in zip(reb.relaxations, shown, strict=True))
        if page == "Performance":
            metrics = next(d.value for d in at.dataframe if "Max drawdown" in d.value.index)
            row = metrics.loc["Rebalances with a rule relaxed"]
            assert row.iloc[0] == str(summary["rebalances_relaxed"])
