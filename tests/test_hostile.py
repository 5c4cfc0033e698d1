"""Hostile inputs and faults (issue 15): each case asserts the documented exit code, a one-line
message naming what is wrong (no traceback), and that the store and the output folder are
byte-identical afterwards."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from exchina.cli import main
from exchina.core.csvsafe import neutralise_cell
from exchina.core.paths import methodology_file
from exchina.core.store import MarketStore


def snapshot(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.name != ".lock":
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """A store holding MP (USD) for 2025, an output folder with a file in it, an input folder."""
    store = tmp_path / "store"
    dates = pd.bdate_range("2025-01-01", "2025-06-30")
    MarketStore(store).write_prices(
        pd.DataFrame({"date": dates, "ticker": "MP", "close": 20.5, "currency": "USD"}), "seed"
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    inp = tmp_path / "in"
    inp.mkdir()
    return {"store": store, "out": out, "in": inp, "tmp": tmp_path}


def _refused(world, argv: list[str], code: int, needle: str, capsys) -> str:
    before = snapshot(world["store"], world["out"])
    got = main(argv)
    err = capsys.readouterr().err
    assert got == code, err
    assert needle.lower() in err.lower(), err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")  # one closing line says it
    assert snapshot(world["store"], world["out"]) == before
    return err


# -- dates on the command line ------------------------------------------------------------------

BAD_DATES = ["06/12/2025", "19/12/2025", "2025-13-45", "2025-12-19junk", "20251219",
             "1800-01-01", "9999-12-31", "2025-12-19T10:00+09:00", " ", "yesterday"]  # fmt: skip


@pytest.mark.parametrize("value", BAD_DATES)
def test_backtest_start_must_be_an_iso_date(world, capsys, value) -> None:
    argv = ["backtest", "-m", "flagship", "--source", "demo", "--start", value]
    _refused(world, [*argv, "--out", str(world["tmp"] / "bt")], 2, "YYYY-MM-DD", capsys)
    assert not (world["tmp"] / "bt").exists()


@pytest.mark.parametrize("value", ["06/12/2025", "2025-12-19junk", "0001-01-01"])
def test_rebalance_and_universe_dates_are_strict(world, capsys, value) -> None:
    reb = ["rebalance", "--date", value, "--methodology", "flagship", "--source", "demo"]
    _refused(world, [*reb, "--out", str(world["tmp"] / "rb")], 2, "YYYY-MM-DD", capsys)
    _refused(world, ["universe", "--date", value, "--source", "demo"], 2, "YYYY-MM-DD", capsys)
    run = ["run", "-m", "flagship", "--date", value, "--source", "demo"]
    _refused(world, [*run, "--out", str(world["tmp"] / "runs")], 2, "YYYY-MM-DD", capsys)


@pytest.mark.parametrize("year", ["0", "-5", "99999"])
def test_schedule_year_out_of_range(world, capsys, year) -> None:
    _refused(world, ["schedule", "-m", "flagship", "--year", year], 2, "outside", capsys)


# -- methodologies --------------------------------------------------------------------------------


def _meth(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _flagship_with(extra_replace: tuple[str, str] | None = None, append: str = "") -> str:
    text = methodology_file("flagship").read_text(encoding="utf-8")
    if extra_replace:
        assert extra_replace[0] in text
        text = text.replace(*extra_replace, 1)
    return text + append


@pytest.mark.parametrize("ref", ["./flagship.toml", "missing/flagship.toml", "flagship.toml"])
def test_a_methodology_path_that_does_not_exist_is_not_replaced_by_a_shipped_one(
    world, capsys, monkeypatch, ref
) -> None:
    monkeypatch.chdir(world["tmp"])
    argv = ["backtest", "-m", ref, "--source", "demo", "--out", str(world["tmp"] / "bt")]
    _refused(world, argv, 2, "not found", capsys)


def test_a_tracking_parent_path_that_does_not_exist_is_refused(world, capsys) -> None:
    m = _meth(world["in"] / "t.toml", 'name = "t"\n[weighting]\nscheme = "tracking"\n'
              'parent = "./nowhere/flagship.toml"\n')  # fmt: skip
    argv = ["methodology", "show", str(m)]
    _refused(world, argv, 2, "not found", capsys)


@pytest.mark.parametrize("loop", ["self", "pair"])
def test_a_parent_loop_is_named(world, capsys, loop) -> None:
    a = world["in"] / "a.toml"
    b = world["in"] / "b.toml"
    head = '[weighting]\nscheme = "tracking"\n'
    _meth(a, f'name = "a"\n{head}parent = "{"a.toml" if loop == "self" else "b.toml"}"\n')
    _meth(b, f'name = "b"\n{head}parent = "a.toml"\n')
    _refused(world, ["methodology", "show", str(a)], 2, "loop", capsys)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_weight", "inf"),
        ("max_weight", "nan"),
        ("spread_bps", "inf"),
        ("max_china_score", "inf"),
    ],
)
def test_non_finite_numbers_are_refused(world, capsys, key, value) -> None:
    text = methodology_file("flagship").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip().startswith(f"{key} ")]
    assert lines, key
    m = _meth(world["in"] / "m.toml", text.replace(lines[0], f"{key} = {value}", 1))
    _refused(world, ["methodology", "show", str(m)], 2, "finite", capsys)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02\xff\xfe binary",
        "name = 'caf\xe9'\n".encode("latin-1"),
        b'name = "\xc3\x28"\n',
        b'name = "open\n',
        b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    ],
    ids=["binary", "latin1", "invalid-utf8", "open-quote", "deep-nesting"],
)
def test_damaged_toml_is_one_line(world, capsys, content) -> None:
    m = world["in"] / "m.toml"
    m.write_bytes(content)
    _refused(world, ["methodology", "show", str(m)], 2, str(m), capsys)


# -- price files ----------------------------------------------------------------------------------


def _import(world, name: str, content: bytes | str, *extra: str) -> list[str]:
    p = world["in"] / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return ["import", str(p), *extra, "--store", str(world["store"])]


HEADER = "Date,Close,Volume\n"
BAD_FILES = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV"),
    "latin1": ("Date,Close,Désignation\n2025-07-01,1.5,é\n".encode("latin-1"), "UTF-8"),
    "invalid-utf8": (b"Date,Close\n2025-07-01,\xc3\x28\n", "UTF-8"),
    "open-quote": (HEADER + '2025-07-01,"1.5,100\n2025-07-02,1.6,100\n', "quote"),
    "ragged": (HEADER + "2025-07-01,1.5,100,7,8\n", "fields"),
    "duplicate-close": ("Date,Close,Close\n2025-07-01,1.5,99\n", "duplicate column"),
    "date-junk": (HEADER + "2025-07-01junk,1.5,100\n", "not a date"),
    "date-dmy": (HEADER + "01/07/2025,1.5,100\n", "not a date"),
    "date-range": (HEADER + "1066-10-14,1.5,100\n", "outside"),
    "inf-close": (HEADER + "2025-07-01,inf,100\n", "finite"),
    "neg-inf-close": (HEADER + "2025-07-01,-inf,100\n", "finite"),
    "huge-close": (HEADER + "2025-07-01,1e309,100\n", "finite"),
    "inf-volume": (HEADER + "2025-07-01,1.5,inf\n", "finite"),
    "negative-close": (HEADER + "2025-07-01,-1.5,100\n", "positive"),
    "text-close": (HEADER + "2025-07-01,abc,100\n", "not a number"),
    "header-only": (HEADER, "no price rows"),
    "empty": (b"", "empty"),
    "no-date": ("Close\n1.5\n", "Date"),
    "duplicate-date": (HEADER + "2025-07-01,1.5,1\n2025-07-01,1.6,1\n", "duplicate date"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_price_files_are_refused(world, capsys, case) -> None:
    content, needle = BAD_FILES[case]
    _refused(world, _import(world, "MP.csv", content), 2, needle, capsys)


@pytest.mark.parametrize(
    "ticker",
    ["MP\nX", "M\u202eP", "MP X", "MP/../X", "MP,X", "\u200bMP", "MP\t", "A" * 40, "MP;rm"],
    ids=["newline", "rtl-override", "space", "slash", "comma", "zero-width", "tab", "long", "semi"],
)
def test_bad_tickers_are_refused(world, capsys, ticker) -> None:
    argv = _import(world, "x.csv", HEADER + "2025-07-01,1.5,100\n", "--ticker", ticker)
    _refused(world, argv, 2, "not a ticker", capsys)


def test_bad_ticker_in_a_column_names_the_row(world, capsys) -> None:
    text = "Date,Ticker,Close\n2025-07-01,MP,1.5\n2025-07-01,M\u202eP,1.5\n"
    err = _refused(world, _import(world, "prices.csv", text), 2, "not a ticker", capsys)
    assert "row 3" in err


def test_currency_relabel_of_stored_history_is_refused(world, capsys) -> None:
    argv = _import(world, "MP.csv", HEADER + "2025-07-01,14.35,100\n", "--currency", "CNY")
    _refused(world, argv, 2, "stored in USD", capsys)


def test_gzip_csv_imports(world) -> None:
    p = world["in"] / "LYC.AX.csv.gz"
    p.write_bytes(gzip.compress((HEADER + "2025-07-01,7.5,100\n2025-07-02,7.6,100\n").encode()))
    assert main(["import", str(p), "--store", str(world["store"])]) == 0
    assert MarketStore(world["store"]).read_prices(["LYC.AX"])["adj_close"].tolist() == [7.5, 7.6]


def test_damaged_gzip_is_one_line(world, capsys) -> None:
    p = world["in"] / "MP.csv.gz"
    p.write_bytes(gzip.compress(HEADER.encode())[:-9])
    _refused(world, ["import", str(p), "--store", str(world["store"])], 2, "gzip", capsys)


def test_a_folder_given_as_a_price_file_is_refused(world, capsys) -> None:
    _refused(world, ["import", str(world["in"]), "--store", str(world["store"])], 2, "not found",
             capsys)  # fmt: skip


# -- output files and folders --------------------------------------------------------------------


def test_universe_out_pointing_at_a_folder_exits_9(world, capsys) -> None:
    argv = ["universe", "--source", "demo", "--date", "2024-06-24", "--out", str(world["out"])]
    _refused(world, argv, 9, "folder where a file is expected", capsys)


def test_backtest_into_a_folder_with_other_files_is_refused(world, capsys) -> None:
    argv = ["backtest", "-m", "flagship", "--source", "demo", "--out", str(world["out"])]
    _refused(world, argv, 8, "keep.txt", capsys)


def test_backtest_into_the_store_is_refused(world, capsys) -> None:
    argv = ["backtest", "-m", "flagship", "--source", "demo", "--out", str(world["store"])]
    _refused(world, argv, 8, "store", capsys)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+1", "'+1+1"),
     ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("-1.5", "-1.5"),
     ("Lynas", "Lynas"), ("1e5", "1e5")],
)  # fmt: skip
def test_formula_cells_are_neutralised(value, expected) -> None:
    assert neutralise_cell(value) == expected


def test_company_names_are_neutralised_in_written_csvs(world) -> None:
    from exchina.core.paths import data_file
    from exchina.core.sources import load_market
    from exchina.index.rebalance import rebalance, write_rebalance
    from exchina.universe import load_companies

    companies = pd.read_csv(data_file("companies.csv"), dtype=str, keep_default_na=False)
    mp = companies["ticker"] == "LYC.AX"
    companies.loc[mp, "name"] = '=HYPERLINK("http://evil","x")'
    path = world["in"] / "companies.csv"
    companies.to_csv(path, index=False)
    flagship = methodology_file("flagship")
    result = rebalance("2024-06-24", flagship, load_market("demo"), companies=load_companies(path))
    assert "LYC.AX" in set(result.constituents["ticker"])
    out = write_rebalance(result, world["tmp"] / "rb")
    rows = pd.read_csv(out / "constituents.csv", dtype=str, keep_default_na=False)
    assert rows.loc[rows["ticker"] == "LYC.AX", "name"].tolist() == [
        '\'=HYPERLINK("http://evil","x")'
    ]
    assert not rows.map(lambda v: str(v).startswith(("=", "+", "@"))).any().any()


# -- run folders -------------------------------------------------------------------------------


def _scheduled(world) -> list[str]:
    return ["run", "-m", "flagship", "--date", "2024-06-21", "--source", "demo",
            "--out", str(world["tmp"] / "runs")]  # fmt: skip


def test_a_hand_edited_output_is_not_called_unchanged(world, capsys) -> None:
    runs = world["tmp"] / "runs"
    assert main(_scheduled(world)) == 0
    rev = runs / "2024-06-21" / "rev-001"
    with (rev / "constituents.csv").open("a", encoding="utf-8") as fh:
        fh.write("FAKE,0.5\n")
    capsys.readouterr()
    assert main(_scheduled(world)) == 0
    out = capsys.readouterr()
    assert "nothing written" not in out.out and "sha256 does not match" in out.out + out.err
    assert (runs / "latest").read_text().split()[0] == "2024-06-21/rev-002"
    assert (rev / "constituents.csv").read_text().endswith("FAKE,0.5\n")  # kept, not deleted


@pytest.mark.parametrize(
    ("damage", "needle"),
    [("latest-missing-rev", "rev-009"), ("latest-garbage", "latest"), ("manifest-missing", "manifest"),
     ("manifest-invalid", "manifest")],
)  # fmt: skip
def test_damaged_run_folders_are_one_line(world, capsys, damage, needle) -> None:
    runs = world["tmp"] / "runs"
    assert main(_scheduled(world)) == 0
    capsys.readouterr()
    rev = runs / "2024-06-21" / "rev-001"
    if damage == "latest-missing-rev":
        (runs / "latest").write_text("2024-06-21/rev-009\n")
    elif damage == "latest-garbage":
        (runs / "latest").write_bytes(b"\x00\xffgarbage\n")
    elif damage == "manifest-missing":
        (rev / "manifest.json").unlink()
    else:
        (rev / "manifest.json").write_text("{not json")
    before = snapshot(runs)
    code = main(_scheduled(world))
    err = capsys.readouterr().err
    assert code == 10, err
    assert needle in err and "Traceback" not in err
    assert snapshot(runs) == before
    json.dumps(err)


def test_an_infinite_china_weight_is_refused(world, capsys) -> None:
    text = methodology_file("flagship").read_text(encoding="utf-8")
    m = _meth(
        world["in"] / "m.toml", text + "\n[universe.china.weights]\nofftake_revenue_china = inf\n"
    )
    _refused(world, ["methodology", "show", str(m)], 2, "finite", capsys)


@pytest.mark.parametrize(
    ("err", "needle"),
    [(30, "read-only"), (28, "no space left"), (13, "permission denied")],
    ids=["read-only", "disk-full", "permission"],
)
def test_os_errors_writing_outputs_are_one_line(world, capsys, monkeypatch, err, needle) -> None:
    import os

    real = os.replace

    def refuse(src, dst, *a, **k):
        if str(dst).startswith(str(world["tmp"] / "bt")):
            raise OSError(err, os.strerror(err), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", refuse)
    argv = ["backtest", "-m", "equal_weight", "--source", "demo", "--start", "2024-01-01",
            "--end", "2024-06-28", "--benchmark", "none", "--no-peer"]  # fmt: skip
    _refused(world, [*argv, "--out", str(world["tmp"] / "bt")], 9, needle, capsys)
    assert [p.name for p in (world["tmp"] / "bt").iterdir()] == []  # temporaries removed
