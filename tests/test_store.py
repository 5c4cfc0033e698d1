"""The Parquet store: incremental, atomic, validated writes, a lock, and load_market pivots."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from filelock import FileLock
from store_support import prices as _prices
from store_support import snapshot

from exchina.core.errors import InputError, LockHeldError, MissingDataError
from exchina.core.sources import close_from_adjusted, dividends_from_adjusted, load_market
from exchina.core.store import MarketStore


def test_roundtrip_append_revise_and_identical_rewrite(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    first = st.write_prices(_prices("MP", "2023-12-27", [1.0, 2.0, 3.0, 4.0]), "test")
    assert (first.added, first.revised) == (4, 0)
    before = snapshot(tmp_path)
    stamps = st.read_prices()["stored_at"]
    again = st.write_prices(_prices("MP", "2023-12-27", [1.0, 2.0, 3.0, 4.0]), "test")
    assert (again.added, again.revised, again.unchanged, again.files_written) == (0, 0, 4, [])
    assert snapshot(tmp_path) == before
    pd.testing.assert_series_equal(st.read_prices()["stored_at"], stamps)

    # Revise the last day and append two new ones: only those rows change.
    upd = st.write_prices(_prices("MP", "2024-01-01", [4.5, 5.0, 6.0]), "test2")
    assert (upd.added, upd.revised, upd.unchanged) == (2, 1, 0)
    got = st.read_prices(["MP"])
    assert got["close"].tolist() == [1.0, 2.0, 3.0, 4.5, 5.0, 6.0]
    assert got["date"].is_unique
    assert (got["stored_at"].iloc[:3] == stamps.iloc[:3]).all()
    assert got["source"].tolist() == ["test"] * 3 + ["test2"] * 3
    assert sorted(p.name for p in (tmp_path / "market" / "kind=prices").iterdir()) == [
        "year=2023",
        "year=2024",
    ]
    assert st.version() == 1  # the identical rewrite made no commit
    assert MarketStore(tmp_path, as_stored=0).read_prices()["close"].tolist() == [1, 2, 3, 4]


def test_empty_and_invalid_writes_leave_store_untouched(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2024-01-01", [1.0, 2.0]), "test")
    before = snapshot(tmp_path)
    assert not st.write_prices(_prices("MP", "2024-01-01", [])[:0], "test").changed
    with pytest.raises(InputError, match="price must be positive") as e:
        st.write_prices(_prices("MP", "2024-01-01", [1.0, -2.0, 3.0]), "test", origin="feed")
    assert (e.value.row, e.value.field, e.value.file) == (3, "close", "feed")
    with pytest.raises(InputError, match="unknown currency"):
        st.write_prices(_prices("MP", "2024-01-01", [1.0], currency="XYZ"), "test")
    assert snapshot(tmp_path) == before


def test_range_and_ticker_filters(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("A", "2019-12-30", [1.0] * 10), "t")
    st.write_prices(_prices("B", "2019-12-30", [2.0] * 10), "t")
    got = st.read_prices(["B"], start="2020-01-02", end="2020-01-06")
    assert got["ticker"].unique().tolist() == ["B"]
    assert got["date"].min() == pd.Timestamp("2020-01-02")
    assert got["date"].max() == pd.Timestamp("2020-01-06")
    info = st.info().set_index("key")
    assert info.loc["A", "rows"] == 10 and info.loc["A", "currency"] == "USD"


def test_lock_held_by_another_holder_raises(tmp_path: Path) -> None:
    st = MarketStore(tmp_path, lock_timeout=0.1)
    tmp_path.mkdir(exist_ok=True)
    other = FileLock(str(tmp_path / ".lock"))
    with other, pytest.raises(LockHeldError, match="locked by another"):
        st.write_prices(_prices("MP", "2024-01-01", [1.0]), "test")


def _writer(root: str, ticker: str) -> None:
    st = MarketStore(root)
    for k in range(5):
        st.write_prices(_prices(ticker, "2024-01-01", [1.0 + k + i for i in range(50)]), "p")


def test_two_processes_writing_at_once_keep_all_rows(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), t)) for t in ("A", "B")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    got = MarketStore(tmp_path).read_prices()
    assert got.groupby("ticker").size().to_dict() == {"A": 50, "B": 50}
    assert got.groupby("ticker")["close"].first().to_dict() == {"A": 5.0, "B": 5.0}
    assert MarketStore(tmp_path).verify() == []


def test_jump_of_100x_is_flagged(tmp_path: Path) -> None:
    from exchina.core.validate import validate_prices

    _, warnings = validate_prices(_prices("RBW.L", "2024-01-01", [0.5, 50.0, 0.51], "GBP"), "f.csv")
    assert len(warnings) == 2 and "pence/pounds" in warnings[0] and "row 3" in warnings[0]


def test_close_from_adjusted_inverts_yahoo_adjustment() -> None:
    """Worked example: close 10, 10, 9.5 with a 0.5 dividend on day 3 -> Yahoo's adj factor
    before the ex-date is 1 - 0.5/10 = 0.95."""
    idx = pd.bdate_range("2024-01-01", periods=3)
    close = pd.Series([10.0, 10.0, 9.5], idx)
    div = pd.Series([0.0, 0.0, 0.5], idx)
    adj = close * pd.Series([0.95, 0.95, 1.0], idx)
    pd.testing.assert_series_equal(close_from_adjusted(adj, div), close)
    pd.testing.assert_series_equal(dividends_from_adjusted(close, adj), div)


def test_load_market_from_store_pivots_and_needs_fx(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2024-01-01", [10.0, 11.0, 12.0]), "yahoo")
    st.write_prices(_prices("LYC.AX", "2024-01-02", [7.0, 7.5], "AUD"), "yahoo")
    with pytest.raises(MissingDataError, match=r"AUD.*AUDUSD=X"):
        load_market("store", st)
    fx = pd.DataFrame({"date": ["2024-01-01"], "currency": ["AUD"], "usd_per_unit": [0.68]})
    st.write_fx(fx, "yahoo")
    m = load_market("auto", st)
    assert not m.synthetic and m.source == "store: Yahoo Finance"
    assert m.close.shape == (3, 2) and np.isnan(m.close.loc["2024-01-01", "LYC.AX"])
    assert m.close_usd().loc["2024-01-03", "LYC.AX"] == pytest.approx(7.5 * 0.68)
    assert m.fx["USD"].eq(1.0).all()
    with pytest.raises(MissingDataError, match="no prices for"):
        load_market("store", st, tickers=["NOPE"])


def test_adjusted_only_series_is_used_as_close_and_noted(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    frame = _prices("MP", "2024-01-01", [1.0, 2.0]).rename(columns={"close": "adj_close"})
    st.write_prices(frame, "file:MP.csv")
    m = load_market("store", st)
    assert m.close["MP"].tolist() == [1.0, 2.0]
    assert m.dividends["MP"].eq(0.0).all()
    assert m.meta["adjusted_as_close"] == "MP"
