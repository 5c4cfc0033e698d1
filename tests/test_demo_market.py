"""The synthetic demo market: deterministic, labelled, and shaped like real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import exchina.core.sources as sources
from exchina.core.demo import (
    BENCHMARK,
    DEMO_SOURCE,
    HALT_END,
    HALT_START,
    INSTRUMENT_COLUMNS,
    _generate,
    demo_market,
    event_dates,
)
from exchina.core.store import MarketStore


def instruments() -> pd.DataFrame:
    """A small universe: every size, a late listing, a delisting, a Chinese comparator."""
    rows = [
        ("BIG.AX", "AUD", "mining:0.6;separation_refining:0.4", "producer", "large", "", "", "AU"),
        ("MAG.T", "JPY", "magnet", "producer", "large", "", "", "JP"),
        ("MIDCO", "USD", "mining;separation_refining", "producer", "mid", "2020-06-22", "", "US"),
        ("SML.TO", "CAD", "separation_refining", "developer", "small", "", "", "CA"),
        ("TINY.AX", "AUD", "mining", "explorer", "micro", "", "", "AU"),
        ("GONE.L", "GBP", "metal_alloy", "delisted", "small", "", "2018-06-29", "GB"),
        (
            "600111.SS",
            "CNY",
            "mining:0.2;separation_refining:0.8",
            "producer",
            "large",
            "",
            "",
            "CN",
        ),
    ]
    return pd.DataFrame(rows, columns=list(INSTRUMENT_COLUMNS))


def test_same_seed_same_numbers_other_seed_differs() -> None:
    a = demo_market(11, instruments())
    _generate.cache_clear()
    b = demo_market(11, instruments())
    assert a is not b
    pd.testing.assert_frame_equal(a.close, b.close)
    pd.testing.assert_frame_equal(a.fx, b.fx)
    c = demo_market(12, instruments())
    assert not np.allclose(a.close.fillna(0).to_numpy(), c.close.fillna(0).to_numpy())
    assert demo_market(11, instruments()) is demo_market(11, instruments())  # cached


def test_adding_a_company_leaves_the_others_unchanged() -> None:
    base = demo_market(3, instruments().iloc[:3])
    more = demo_market(3, instruments())
    pd.testing.assert_series_equal(base.close["BIG.AX"], more.close["BIG.AX"])


def test_labelled_synthetic_everywhere() -> None:
    m = demo_market(7, instruments())
    assert m.synthetic and m.source == "synthetic demo market (seed 7)"
    assert m.label.startswith("SYNTHETIC DEMO MARKET")
    assert DEMO_SOURCE == "synthetic-demo"


def test_calendar_listing_delisting_and_halt() -> None:
    m = demo_market(7, instruments())
    assert m.close.index[0] == pd.Timestamp("2010-01-04")
    assert m.close.index[-1] >= pd.Timestamp("2026-09-30")
    assert m.close.index.name == "date" and m.close.index.is_monotonic_increasing
    mid = m.close["MIDCO"]
    assert mid.loc[:"2020-06-19"].isna().all() and mid.first_valid_index() == pd.Timestamp(
        "2020-06-22"
    )
    gone = m.close["GONE.L"]
    assert (
        gone.last_valid_index() == pd.Timestamp("2018-06-29")
        and gone.loc["2018-07-02":].isna().all()
    )
    # The halt: documented choice is the first small/micro ticker listed throughout.
    assert m.meta["halt"] == f"SML.TO {HALT_START}..{HALT_END}"
    halt = m.close.loc[HALT_START:HALT_END, "SML.TO"]
    assert halt.isna().all() and m.volume.loc[HALT_START:HALT_END, "SML.TO"].eq(0).all()
    assert m.close["SML.TO"].loc[HALT_END:].iloc[1:3].notna().all()


def test_volatility_and_size_by_company_type() -> None:
    m = demo_market(7, instruments())
    vol = np.log(m.close.ffill()).diff().std() * np.sqrt(252)
    assert vol["TINY.AX"] > vol["SML.TO"] > vol["BIG.AX"] and vol["TINY.AX"] > 2 * vol["BIG.AX"]
    mcap = m.mcap_usd()
    assert mcap["BIG.AX"] > mcap["MIDCO"] > mcap["SML.TO"] > mcap["TINY.AX"] > 0
    assert 1e10 < mcap["BIG.AX"] < 1e11 and 1e7 < mcap["TINY.AX"] < 3e8


def test_fx_dividends_and_benchmark() -> None:
    m = demo_market(7, instruments())
    assert set(m.fx.columns) == {"USD", "AUD", "JPY", "CAD", "GBP", "CNY"}
    assert m.fx["USD"].eq(1.0).all() and (m.fx > 0).all().all()
    assert 0.004 < m.fx["JPY"].iloc[-1] < 0.03
    paid = m.dividends["BIG.AX"][m.dividends["BIG.AX"] > 0]
    assert set(paid.index.month) == {3, 9} and len(paid) == 2 * 17
    assert m.dividends["TINY.AX"].eq(0).all()
    assert m.currency[BENCHMARK] == "USD" and (m.close[BENCHMARK] > 0).all()
    assert m.meta["benchmark"] == BENCHMARK and m.dividends[BENCHMARK].gt(0).sum() >= 15


def test_export_control_events_lift_ex_china_names() -> None:
    m = demo_market(7, instruments())
    r = np.log(m.close.ffill()).diff()
    days = [m.close.index[m.close.index.searchsorted(d)] for d in event_dates()]
    days = [d for d in days if d <= m.close.index[-1]]
    ex_china = r[["BIG.AX", "MAG.T", "SML.TO"]].loc[days].mean().mean()
    china = r["600111.SS"].loc[days].mean()
    assert ex_china > 0.02 and china < ex_china


def test_load_market_auto_falls_back_to_demo_with_notice(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(sources, "demo_market", lambda seed: demo_market(seed, instruments()))
    m = sources.load_market(
        "auto", MarketStore(tmp_path), tickers=["BIG.AX", "REMX"], start="2020-01-01"
    )
    err = capsys.readouterr().err
    assert "SYNTHETIC demo market" in err and "exchina fetch" in err and err.count("\n") == 1
    assert m.synthetic and m.tickers == ["BIG.AX", "REMX"]
    assert m.close.index[0] == pd.Timestamp("2020-01-01")
    with pytest.raises(Exception, match="unknown source"):
        sources.load_market("web")
