"""The data commands end to end: bad files are rejected with file and row, exit 2, nothing
written; fetch failures exit 7; the demo can be written to the store, labelled synthetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_support import snapshot

import exchina.core.yahoo as yahoo
from exchina.cli import main
from exchina.core.sources import load_market
from exchina.core.store import MarketStore
from tests.test_yahoo_adapter import FakeClient

GOOD = "Date,Close,Volume\n2024-01-02,10.0,100\n2024-01-03,10.5,120\n2024-01-04,10.2,90\n"
BAD = {
    "text_price.csv": ("Date,Close\n2024-01-02,10.0\n2024-01-03,ten\n", "row 3", "not a number"),
    "dup_dates.csv": (
        "Date,Close\n2024-01-02,10.0\n2024-01-03,10.5\n2024-01-03,10.6\n",
        "row 4",
        "duplicate date 2024-01-03 for dup_dates (first at row 3)",
    ),
    "negative.csv": ("Date,Close\n2024-01-02,10.0\n2024-01-03,-1.5\n", "row 3", "positive"),
    "unknown_ccy.csv": (
        "Date,Ticker,Close,Currency\n2024-01-02,X,10.0,USD\n2024-01-03,X,10.5,XXQ\n",
        "row 3",
        "unknown currency",
    ),
    "empty.csv": ("", "empty.csv", "empty file"),
    "header_only.csv": ("Date,Close\n", "row 2", "no price rows"),
    "bad_date.csv": ("Date,Close\n2024-13-02,10.0\n", "row 2", "not a date"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_is_rejected_and_store_untouched(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = tmp_path / "store"
    good = tmp_path / "GOOD.csv"
    good.write_text(GOOD)
    assert main(["import", str(good), "--store", str(store)]) == 0
    before = snapshot(store)
    text, where, reason = BAD[name]
    bad = tmp_path / name
    bad.write_text(text)
    capsys.readouterr()
    # The good file is re-imported with a revision alongside: nothing lands if one file is bad.
    good.write_text(GOOD.replace("10.2", "10.3"))
    assert main(["import", str(good), str(bad), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad) in err and where in err and reason in err
    assert snapshot(store) == before


def test_info_on_empty_store_points_to_demo(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info", "--store", str(tmp_path)]) == 0
    assert "SYNTHETIC demo market" in capsys.readouterr().out


def test_fetch_all_empty_exits_7_and_store_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    good = tmp_path / "MP.csv"
    good.write_text(GOOD)
    store = tmp_path / "store"
    assert main(["import", str(good), "--store", str(store)]) == 0
    before = snapshot(store)
    monkeypatch.setattr(yahoo, "YFinanceClient", lambda: FakeClient({}, offline=True))
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    assert main(["fetch", "MP", "LYC.AX", "--store", str(store), "--json"]) == 7
    err = capsys.readouterr().err
    assert "no usable data" in err
    assert snapshot(store) == before


def test_fetch_partial_failure_stores_good_and_lists_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    client = FakeClient({"MP": [10.0, 11.0]})
    monkeypatch.setattr(yahoo, "YFinanceClient", lambda: client)
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    assert main(["fetch", "MP", "GONE", "--store", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["failures"] == {"GONE": yahoo.NO_DATA}
    assert "GONE: no data returned" in out.err
    assert MarketStore(tmp_path).read_prices()["ticker"].unique().tolist() == ["MP"]


def test_fetch_without_tickers_is_an_input_error(tmp_path: Path) -> None:
    assert main(["fetch", "--store", str(tmp_path)]) == 2


def test_demo_written_to_store_is_labelled_synthetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import exchina.cli.data_cmds  # noqa: F401  (the command imports demo_market lazily)
    import exchina.core.demo as demo
    from tests.test_demo_market import instruments

    real = demo.demo_market
    monkeypatch.setattr(demo, "demo_market", lambda seed=7: real(seed, instruments()))
    assert main(["data", "demo", "--store", str(tmp_path)]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert main(["data", "info", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC demo data" in out and "synthetic-demo" in out
    m = load_market("store", MarketStore(tmp_path))
    assert m.synthetic and "SYNTHETIC" in m.label and "REMX" in m.tickers
