"""Importing real saved price files from ../shared/realdata, checked value by value."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from store_support import snapshot

from exchina.cli import main
from exchina.core.importer import read_price_file, ticker_from_filename
from exchina.core.sources import load_market
from exchina.core.store import MarketStore


def _files(realdata: Path) -> dict[str, Path]:
    return {
        "MP": realdata / "dsturdy__Factor_Attribution/data/MP.csv",
        "LYC.AX": realdata / "naveenf__asxscreener/data/raw/LYC.AX.csv",
        "4063": realdata / "retasu0__yf_csv/4063.csv",
    }


def test_import_real_files_then_info_and_reimport_changes_nothing(
    realdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    f = _files(realdata)
    store = str(tmp_path / "st")
    assert main(["import", str(f["MP"]), str(f["LYC.AX"]), "--store", store]) == 0
    assert main(["import", str(f["4063"]), "--ticker", "4063.T", "--store", store]) == 0
    capsys.readouterr()
    assert main(["data", "info", "--json", "--store", store]) == 0
    info = {r["key"]: r for r in json.loads(capsys.readouterr().out)["prices"]}
    assert set(info) == {"MP", "LYC.AX", "4063.T"}
    assert (info["MP"]["first"], info["MP"]["last"], info["MP"]["currency"]) == (
        "2020-06-22", "2026-08-03", "USD")  # fmt: skip
    assert (info["LYC.AX"]["first"], info["LYC.AX"]["last"], info["LYC.AX"]["currency"]) == (
        "2024-01-02", "2026-01-02", "AUD")  # fmt: skip
    assert (info["4063.T"]["first"], info["4063.T"]["last"], info["4063.T"]["currency"]) == (
        "2000-01-04", "2022-09-16", "JPY")  # fmt: skip
    assert all(r["currency_inferred"] for r in info.values())
    for key, path in (("MP", f["MP"]), ("LYC.AX", f["LYC.AX"]), ("4063.T", f["4063"])):
        assert info[key]["rows"] == len(pd.read_csv(path))
        assert info[key]["source"] == f"file:{path.name}"

    before = snapshot(Path(store))
    assert main(["import", str(f["MP"]), str(f["LYC.AX"]), "--store", store]) == 0
    assert main(["import", str(f["4063"]), "--ticker", "4063.T", "--store", store]) == 0
    assert snapshot(Path(store)) == before


def test_stored_values_match_the_files(realdata: Path, tmp_path: Path) -> None:
    f = _files(realdata)
    st = MarketStore(tmp_path)
    assert main(["import", str(f["LYC.AX"]), str(f["MP"]), "--store", str(tmp_path)]) == 0
    got = st.read_prices(["LYC.AX"]).set_index("date")
    raw = pd.read_csv(f["LYC.AX"])
    day = pd.Timestamp(raw["Date"].iloc[100][:10])  # '2024-05-28 00:00:00+10:00' -> local date
    assert got.loc[day, "adj_close"] == raw["Close"].iloc[100]
    assert got.loc[day, "volume"] == raw["Volume"].iloc[100]
    assert got["dividends"].sum() == pytest.approx(raw["Dividends"].sum())
    mp = st.read_prices(["MP"]).set_index("date")
    raw_mp = pd.read_csv(f["MP"], parse_dates=["Date"]).set_index("Date")
    assert (mp["adj_close"].to_numpy() == raw_mp["Close"].to_numpy()).all()
    assert mp["close"].isna().all() and mp["dividends"].isna().all()


def test_adjusted_file_with_dividends_rebuilds_the_close(realdata: Path, tmp_path: Path) -> None:
    """ILU.AX pays dividends in this file: its close is rebuilt so that Yahoo's adjustment
    (return ``close_t / (close_{t-1} - D_t)`` across an ex-date) gives back the file's series."""
    path = realdata / "naveenf__asxscreener/data/raw/ILU.AX.csv"
    st = MarketStore(tmp_path)
    assert main(["import", str(path), "--store", str(tmp_path)]) == 0
    st.write_fx(
        pd.DataFrame({"date": ["2024-01-02"], "currency": ["AUD"], "usd_per_unit": [0.68]}), "t"
    )
    m = load_market("store", st)
    assert m.meta["close_rebuilt"] == "ILU.AX"
    c, d = m.close["ILU.AX"], m.dividends["ILU.AX"]
    assert (d > 0).sum() >= 2
    tr = (c / (c.shift(1) - d)).iloc[1:]
    adj = pd.read_csv(path)["Close"].to_numpy()
    assert tr.to_numpy() == pytest.approx(adj[1:] / adj[:-1], rel=1e-9)
    assert c.iloc[-1] == pytest.approx(adj[-1])


def test_yahoo_export_with_adj_close_and_underscore_names(realdata: Path) -> None:
    neo = read_price_file(realdata / "salbaroudi__Py3DSProject/data/NEO.TO.csv")[0]
    raw = pd.read_csv(realdata / "salbaroudi__Py3DSProject/data/NEO.TO.csv")
    assert (neo.ticker, neo.currency) == ("NEO.TO", "CAD")
    assert neo.frame["close"].tolist() == raw["Close"].tolist()
    assert neo.frame["adj_close"].tolist() == raw["Adj Close"].tolist()
    amg = read_price_file(realdata / "fstarosciak__REEprediction/data/AMG_AS.csv")[0]
    assert (amg.ticker, amg.currency, amg.currency_inferred) == ("AMG.AS", "EUR", True)
    assert ticker_from_filename(Path("KGH_WA.csv")) == "KGH.WA"
    assert ticker_from_filename(Path("^TNX.csv")) == "^TNX"
