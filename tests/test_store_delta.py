"""The Delta Lake store: one commit per import, versions and --as-stored, migration of the old
Parquet layout, currency relabelling refused, `data verify` naming damaged files and the repair,
and every store fault one line with a documented exit code."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from store_support import prices as _prices
from store_support import snapshot

from exchina.cli import main
from exchina.core.errors import DamagedDataError, InputError
from exchina.core.sources import load_market
from exchina.core.store import MarketStore


def _csv(path: Path, closes: list[float], start: str = "2025-06-02") -> Path:
    dates = pd.bdate_range(start, periods=len(closes))
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": closes}).to_csv(path, index=False)
    return path


def test_an_import_of_several_years_and_tables_is_one_commit(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    fx = pd.DataFrame({"date": ["2019-06-03", "2024-06-03"], "currency": "AUD",
                       "usd_per_unit": [0.7, 0.66]})  # fmt: skip
    with st.lock():
        st.write_prices(_prices("MP", "2019-12-30", [1.0] * 300), "t")  # 2019 .. 2021
        st.write_fx(fx, "t")
    assert st.version() == 0 and len(st.versions()) == 1
    assert st.versions()["operation"].tolist() == ["CREATE TABLE"]  # created with its data
    assert sorted(st.read_prices()["date"].dt.year.unique()) == [2019, 2020, 2021]
    with st.lock():  # a revision of two years and a new one: one more commit
        st.write_prices(_prices("MP", "2020-12-31", [2.0] * 300), "t")  # 2020 .. 2022
    assert st.versions()["operation"].tolist() == ["CREATE TABLE", "WRITE"]
    px = st.read_prices(["MP"])
    days = pd.bdate_range("2019-12-30", periods=300).union(
        pd.bdate_range("2020-12-31", periods=300)
    )
    assert px["date"].tolist() == list(days)
    assert px.set_index("date")["close"].loc["2020-12-31":].eq(2.0).all()
    assert px.set_index("date")["close"].loc[:"2020-12-30"].eq(1.0).all()
    assert st.verify() == []


def test_failure_inside_a_transaction_writes_nothing(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2024-01-01", [1.0, 2.0]), "t")
    before = snapshot(tmp_path)
    with pytest.raises(InputError), st.lock():
        st.write_prices(_prices("LYC.AX", "2023-01-02", [5.0] * 400, "AUD"), "t")
        st.write_prices(_prices("MP", "2024-01-01", [1.0, -2.0]), "t")  # rejected
    assert snapshot(tmp_path) == before and st.version() == 0


def test_currency_relabel_is_refused_and_replace_series_replaces_it(tmp_path: Path, capsys) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2025-06-02", [20.50, 20.75]), "t")
    before = snapshot(tmp_path)
    f = _csv(tmp_path.parent / "MP.csv", [14.35], "2025-06-04")
    code = main(["import", str(f), "--currency", "CNY", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "stored in USD" in err and "CNY" in err and "--replace-series" in err
    assert snapshot(tmp_path) == before
    assert st.read_prices(["MP"])["close"].tolist() == [20.50, 20.75]
    code = main(
        ["import", str(f), "--currency", "CNY", "--replace-series", "--store", str(tmp_path)]
    )
    assert code == 0
    got = st.read_prices(["MP"])
    assert got["adj_close"].tolist() == [14.35] and set(got["currency"]) == {"CNY"}


def test_as_stored_reads_an_earlier_version_and_a_time(tmp_path: Path) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2024-01-01", [1.0, 2.0]), "t")
    t0 = pd.Timestamp.now(tz="UTC")
    st.write_prices(_prices("MP", "2024-01-02", [2.5, 3.0]), "t")
    assert load_market("store", tmp_path).close["MP"].tolist() == [1.0, 2.5, 3.0]
    old = load_market("store", tmp_path, as_stored="0")
    assert old.close["MP"].tolist() == [1.0, 2.0] and old.meta["store_version"] == "0"
    by_time = load_market("auto", tmp_path, as_stored=t0.isoformat())
    assert by_time.close["MP"].tolist() == [1.0, 2.0]
    with pytest.raises(InputError, match="no store version 7"):
        load_market("store", tmp_path, as_stored="7")
    with pytest.raises(InputError, match="store version"):
        load_market("store", tmp_path, as_stored="yesterday")


def test_store_version_is_recorded_in_backtest_and_rebalance_outputs(tmp_path: Path) -> None:
    assert main(["data", "demo", "--store", str(tmp_path / "s")]) == 0
    store = ["--source", "store", "--store", str(tmp_path / "s")]
    bt = ["backtest", "-m", "equal_weight", "--start", "2024-01-01", "--end", "2024-06-28"]
    assert (
        main([*bt, "--benchmark", "none", "--no-peer", *store, "--out", str(tmp_path / "bt")]) == 0
    )
    assert json.loads((tmp_path / "bt/metrics.json").read_text())["store_version"] == "0"
    rb = ["rebalance", "--date", "2024-06-24", "--methodology", "equal_weight"]
    assert main([*rb, *store, "--out", str(tmp_path / "rb"), "--as-stored", "0"]) == 0
    assert json.loads((tmp_path / "rb/report.json").read_text())["store_version"] == "0"


def _legacy_store(root: Path) -> None:
    """A store in the pre-Delta layout: prices/<year>.parquet and fx/<year>.parquet."""
    from exchina.core.store import FX, PRICES

    now = pd.Timestamp("2025-01-01", tz="UTC")
    for year in (2023, 2024):
        px = _prices("MP", f"{year}-03-01", [10.0, 11.0]).assign(
            adj_close=[9.0, 10.0], dividends=0.0, splits=0.0, currency_inferred=False,
            source="yahoo", stored_at=now,
        )  # fmt: skip
        (root / "prices").mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(px[PRICES.schema.names], PRICES.schema, preserve_index=False)
        pq.write_table(table, root / "prices" / f"{year}.parquet")
    fx = pd.DataFrame({"date": pd.to_datetime(["2024-03-01"]), "currency": "AUD",
                       "usd_per_unit": 0.66, "source": "yahoo", "stored_at": now})  # fmt: skip
    (root / "fx").mkdir()
    pq.write_table(
        pa.Table.from_pandas(fx, FX.schema, preserve_index=False), root / "fx/2024.parquet"
    )


def test_an_old_parquet_store_migrates_on_first_use_and_keeps_its_files(tmp_path, capsys) -> None:
    _legacy_store(tmp_path)
    old = snapshot(tmp_path)
    st = MarketStore(tmp_path)
    got = st.read_prices()
    assert got["close"].tolist() == [10.0, 11.0, 10.0, 11.0]
    assert st.read_fx()["usd_per_unit"].tolist() == [0.66]
    assert "migrated the store" in capsys.readouterr().err
    assert st.version() == 0 and st.verify() == []
    moved = snapshot(tmp_path / "legacy-parquet")
    assert moved == {k: v for k, v in old.items()}  # every old file kept, byte for byte
    assert not (tmp_path / "prices").exists()
    assert MarketStore(tmp_path).version() == 0  # no second migration


def test_a_damaged_old_store_file_is_named_and_nothing_changes(tmp_path, capsys) -> None:
    _legacy_store(tmp_path)
    (tmp_path / "prices/2024.parquet").write_bytes(b"PAR1 not really")
    before = snapshot(tmp_path)
    assert main(["data", "info", "--store", str(tmp_path)]) == 10
    err = capsys.readouterr().err
    assert "prices/2024.parquet" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert snapshot(tmp_path) == before


def _damage_newest_file(root: Path) -> Path:
    files = sorted((root / "market").rglob("*.parquet"), key=lambda p: p.stat().st_mtime_ns)
    victim = files[-1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    return victim


def test_a_damaged_data_file_gives_one_line_and_verify_names_the_repair(tmp_path, capsys) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2024-01-01", [1.0, 2.0]), "t")
    st.write_prices(_prices("LYC.AX", "2025-01-01", [7.0, 7.1], "AUD"), "t")
    victim = _damage_newest_file(tmp_path)
    before = snapshot(tmp_path)
    for argv in (["data", "info"], ["universe", "--source", "store", "--date", "2025-01-02"]):
        assert main([*argv, "--store", str(tmp_path)]) == 10
        err = capsys.readouterr().err
        assert "data verify" in err and "Traceback" not in err
    assert main(["data", "verify", "--store", str(tmp_path)]) == 10
    err = capsys.readouterr().err
    assert victim.name in err and "exchina data restore 0" in err
    assert snapshot(tmp_path) == before  # checking changes nothing
    assert main(["data", "restore", "0", "--store", str(tmp_path)]) == 0
    assert main(["data", "verify", "--store", str(tmp_path)]) == 0
    assert st.read_prices()["ticker"].unique().tolist() == ["MP"]
    assert st.version() == 2 and len(st.versions()) == 3  # history kept


def test_a_damaged_commit_log_is_named(tmp_path, capsys) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2024-01-01", [1.0, 2.0]), "t")
    log = tmp_path / "market/_delta_log/00000000000000000000.json"
    log.write_text("{not json")
    assert main(["data", "info", "--store", str(tmp_path)]) == 10
    assert "_delta_log" in capsys.readouterr().err
    with pytest.raises(DamagedDataError):
        st.read_prices()


def test_store_pointing_at_a_file_exits_9(tmp_path, capsys) -> None:
    f = tmp_path / "store.txt"
    f.write_text("not a store\n")
    for argv in (
        ["data", "info"],
        ["import", str(f)],
        ["backtest", "-m", "flagship", "--out", str(tmp_path / "o")],
    ):
        assert main([*argv, "--store", str(f)]) == 9
        assert "must be a folder" in capsys.readouterr().err
    assert f.read_text() == "not a store\n"


def test_disk_full_during_the_commit_leaves_the_store_as_it_was(
    tmp_path, capsys, monkeypatch
) -> None:
    import deltalake

    st = MarketStore(tmp_path)
    st.write_prices(_prices("MP", "2024-01-01", [1.0, 2.0]), "t")
    before = snapshot(tmp_path)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    # the data files are in the table folder by then: they must be taken out again
    monkeypatch.setattr(deltalake.DeltaTable, "create_write_transaction", full)
    f = _csv(tmp_path.parent / "MP.csv", [3.0, 4.0], "2024-01-03")
    assert main(["import", str(f), "--store", str(tmp_path)]) == 9
    assert "no space left" in capsys.readouterr().err
    assert snapshot(tmp_path) == before
