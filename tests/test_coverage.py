"""A store that lacks what the universe needs is missing data (exit 4), never an "infeasible"
blamed on the methodology; ``exchina data remove`` takes series out in one commit."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_support import snapshot

from exchina.cli import main
from exchina.core.errors import MissingDataError
from exchina.core.importer import import_files
from exchina.core.sources import load_market
from exchina.core.store import MarketStore
from exchina.index import load_methodology, resolve_methodology
from exchina.index.coverage import names_needed, require_coverage
from exchina.universe import load_companies
from exchina.universe.coverage import check_eligible_data, considered, coverage

DATE = pd.Timestamp("2024-06-14")
GRID = Path(__file__).resolve().parents[1] / "data/grids/flagship_sensitivity.toml"


def _meth(name: str):
    return load_methodology(resolve_methodology(name))


@pytest.fixture(scope="module")
def demo():
    return load_market("demo")


def _only(market, tickers: list[str]):
    """The market holding only ``tickers`` (a partial store)."""
    keep = lambda f: f[tickers]  # noqa: E731
    return replace(
        market,
        close=keep(market.close),
        volume=keep(market.volume),
        dividends=keep(market.dividends),
        shares=keep(market.shares),
        currency=market.currency[tickers],
    )


def _considered_priced(demo, name: str) -> list[str]:
    cand = considered(load_companies(), _meth(name).universe, DATE)
    return [t for t in cand["ticker"] if t in demo.tickers]


def test_names_needed_is_the_fewest_names_the_rules_can_hold() -> None:
    # flagship: min_constituents 20 is a top-up target, not a floor; its caps need 10 names
    assert names_needed(_meth("flagship")) == (10, "1 / max_weight 0.1")
    assert names_needed(_meth("remx_like")) == (13, "1 / max_weight 0.08")  # 12.5 -> 13
    m = _meth("flagship")
    strict = m.model_copy(
        update={"constraints": m.constraints.model_copy(update={"min_names": 15})}
    )
    assert names_needed(strict) == (15, "min_names")


def test_threshold_is_the_methodologys_minimum_of_priced_names(demo) -> None:
    m = _meth("flagship")
    priced = _considered_priced(demo, "flagship")
    assert len(priced) > 11  # the demo prices the whole master
    master = load_companies()
    require_coverage(demo.asof(DATE), m, master, DATE)  # full coverage: no error
    require_coverage(_only(demo, priced[:10]).asof(DATE), m, master, DATE)  # 10 of 10 needed
    with pytest.raises(MissingDataError) as err:
        require_coverage(_only(demo, priced[:9]).asof(DATE), m, master, DATE)
    msg = str(err.value)
    assert err.value.exit_code == 4
    lacking = len(priced) - 9
    assert f"for {lacking} of the {len(priced)} companies" in msg
    assert "9 are priced" in msg and "needs at least 10" in msg and "1 / max_weight" in msg
    assert priced[9] in msg and priced[0] not in msg.split("consider (")[1].split(")")[0]
    assert "exchina fetch" in msg and "--source demo" in msg


def test_a_master_of_the_priced_companies_runs(demo) -> None:
    """A quant's own universe: five names, a master of those five: no missing-data error."""
    m = _meth("flagship")
    priced = _considered_priced(demo, "flagship")[:5]
    master = load_companies()
    require_coverage(_only(demo, priced), m, master[master["ticker"].isin(priced)], DATE)


def test_gaps_in_volumes_shares_and_fx_are_counted(demo) -> None:
    priced = _considered_priced(demo, "flagship")[:4]
    part = _only(demo, priced)
    vol, sh = part.volume.copy(), part.shares.copy()
    vol[priced[0]] = np.nan
    sh[priced[1]] = np.nan
    fx = part.fx.drop(columns=[c for c in part.fx.columns if c != "USD"])
    part = replace(part, volume=vol, shares=sh, fx=fx)
    no_facts = pd.DataFrame(
        {"company_id": pd.Series(dtype=str), "effective_from": pd.Series(dtype="datetime64[ns]"),
         "shares_outstanding": pd.Series(dtype=float), "free_float": pd.Series(dtype=float)}
    )  # fmt: skip
    cov = coverage(part, _meth("flagship").universe, load_companies(), DATE, no_facts)
    assert cov.no_volume == [priced[0]]
    assert cov.no_shares == [priced[1]]
    non_usd = [t for t in priced if part.currency[t] != "USD"]
    assert cov.no_fx == non_usd
    assert cov.priced == 4 and len(cov.no_price) == len(cov.considered) - 4
    with pytest.raises(MissingDataError, match=r"1 without volumes \(" + priced[0]):
        require_coverage(part, _meth("flagship"), load_companies(), DATE, no_facts)


@pytest.fixture(scope="module")
def mp_uuuu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import REALDATA

    if not REALDATA.is_dir():
        pytest.fail(f"real data folder not found at {REALDATA} (set EXCHINA_SHARED)")
    root = tmp_path_factory.mktemp("mp_uuuu")
    src = REALDATA / "dsturdy__Factor_Attribution/data"
    import_files([src / "MP.csv", src / "UUUU.csv"], MarketStore(root))
    return root


COMMANDS = {
    "backtest": ["backtest"],
    "rebalance": ["rebalance", "--date", "2025-12-19"],
    "universe": ["universe"],
    "calc": ["calc", "--methodology", "flagship", "--from", "2025-12-01", "--to", "2026-01-30"],
    "factsheet": ["factsheet", "--methodology", "flagship", "--no-pdf"],
    "sweep": ["sweep", "--grid", str(GRID), "--workers", "1", "--no-progress"],
    "run": ["run", "--methodology", "flagship", "--date", "2025-12-19", "--no-calc"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_store_of_mp_and_uuuu_is_missing_data_in_every_command(
    command: str, mp_uuuu: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    before = snapshot(mp_uuuu)
    out = ["--out", str(tmp_path / "out")] if command != "universe" else []
    args = [*COMMANDS[command], *out, "--source", "store", "--store", str(mp_uuuu)]
    assert main(args) == 4
    err = capsys.readouterr().err
    assert "missing data, not a methodology failure" in err
    assert "infeasible" not in err.lower() and "per-name caps" not in err
    named = err.split("consider (")[1].split(")")[0]
    assert "LYC.AX" in named and "MP" not in named.split(", ")
    assert "2 are priced" in err and re.search(r"needs at least 1\d \(", err)  # 10, or a variant's
    assert "`exchina fetch --universe`" in err and "exchina import" in err
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.name != ".lock"]
    assert not files  # nothing written
    assert snapshot(mp_uuuu) == before


def _versions(root: Path) -> int:
    return len(MarketStore(root).versions())


def test_data_remove_takes_a_ticker_out_in_one_commit(
    mp_uuuu: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import shutil

    root = tmp_path / "store"
    shutil.copytree(mp_uuuu, root)
    st = MarketStore(root)
    mp_before = st.read_prices(["MP"])
    n = _versions(root)
    assert main(["data", "remove", "UUUU", "--store", str(root)]) == 0
    assert "removed UUUU (price rows 4875" in capsys.readouterr().out
    assert _versions(root) == n + 1  # one atomic Delta commit
    after = st.read_prices()
    assert set(after["ticker"]) == {"MP"}
    pd.testing.assert_frame_equal(after, mp_before)  # MP untouched, stored_at included
    # restore brings it back: nothing was lost
    assert main(["data", "restore", str(n - 1), "--store", str(root)]) == 0
    assert set(MarketStore(root).read_prices()["ticker"]) == {"MP", "UUUU"}


def test_data_remove_unknown_ticker_changes_nothing(
    mp_uuuu: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import shutil

    root = tmp_path / "store"
    shutil.copytree(mp_uuuu, root)
    before = snapshot(root)
    assert main(["data", "remove", "UUUU", "NOPE", "--store", str(root)]) == 2
    err = capsys.readouterr().err
    assert "holds no series NOPE" in err and "nothing was removed" in err
    assert snapshot(root) == before


def test_removing_everything_returns_auto_to_the_demo(tmp_path: Path, capsys) -> None:
    st = MarketStore(tmp_path)
    dates = pd.bdate_range("2024-01-02", periods=3)
    st.write_prices(
        pd.DataFrame({"date": dates, "ticker": "LYC.AX", "close": [1.0, 2.0, 3.0],
                      "currency": "AUD"}), "test"
    )  # fmt: skip
    st.write_fx(pd.DataFrame({"date": dates, "currency": "AUD", "usd_per_unit": 0.66}), "test")
    assert not load_market("auto", st).synthetic
    assert main(["data", "remove", "LYC.AX", "AUDUSD=X", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "FX rows 3" in out and "`auto` uses the demo market" in out
    assert len(st.read_fx()) == 0
    assert load_market("auto", st).synthetic


def _check(rows: dict[str, tuple[bool, str]], needed: int) -> None:
    """``check_eligible_data`` on a universe of (eligible, failed screens ';'-joined) rows."""
    universe = pd.DataFrame(
        {"eligible": [e for e, _ in rows.values()]}, index=pd.Index(list(rows), name="ticker")
    )
    failures = pd.DataFrame(
        [(t, s) for t, (_, screens) in rows.items() for s in screens.split(";") if s],
        columns=["ticker", "screen"],
    )
    check_eligible_data(universe, failures, DATE, "store: test", needed)


NO_SHARES = "float_mcap_unknown"


def test_too_few_eligible_for_want_of_data_is_missing_data() -> None:
    """3 eligible, 10 needed: 7 names failing only for want of data make up the difference (exit
    4); a name also failing a rule (China score) does not count, so 6 would not (the rules')."""
    rows = {f"OK{i}": (True, "") for i in range(3)}
    rows |= {f"NS{i}": (False, NO_SHARES) for i in range(6)}
    rows["NV"] = (False, "adtv_unknown")
    rows["CN"] = (False, "china_score;" + NO_SHARES)
    with pytest.raises(MissingDataError) as err:
        _check(rows, 10)
    msg = str(err.value)
    assert "3 companies are eligible" in msg and "needs at least 10" in msg
    assert "7 more fail only for want of data" in msg
    assert "6 without a share count (NS0, NS1, NS2, NS3, NS4 and 1 more)" in msg
    assert "1 without volumes (NV)" in msg and "CN" not in msg
    del rows["NV"]
    _check(rows, 10)  # 3 + 6 < 10: the rules'
    _check(rows, 3)  # enough eligible
