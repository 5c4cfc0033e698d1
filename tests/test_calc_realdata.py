"""Real-data replay of the calculation agent on the two windows of ``../shared/realdata`` with the
most names: 2019-10 to 2021-07 (the ASX rare-earth names saved by StockMonitor, MP with volumes,
the Tokyo magnet makers, Neo in Toronto) and 2024-01 to 2026-01 (``real_store`` of
test_backtest_methodologies). Spot FX is not in that folder: AUD, JPY and CAD are approximated from
the CurrencyShares trusts FXA (100 AUD a share), FXY (10,000 JPY) and FXC (100 CAD), written as
Yahoo-style ``AUDUSD=X`` files named ``approx-FXA-...`` and imported like prices, so the store's
source label says what they are. Company masters are the companies each store prices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.backtest import run_backtest, simulate
from exchina.core.errors import MissingDataError
from exchina.core.importer import import_files
from exchina.core.market import Market
from exchina.core.sources import load_market
from exchina.core.store import MarketStore
from exchina.index import load_methodology, resolve_methodology
from exchina.index.corporate_actions import CorporateActionRules
from exchina.index.daily_calc import calculate_daily
from exchina.index.methodology import Costs, Methodology, Relax
from exchina.index.rebalance import rebalance
from exchina.index.rulebook import to_toml
from exchina.index.withholding import withholding_rates
from exchina.ops.calc_output import read_levels, verify_calc
from exchina.ops.calc_run import run_calc
from exchina.universe import load_companies, load_facts
from tests.conftest import REALDATA
from tests.test_backtest_methodologies import real_store  # noqa: F401  (the fixture)

FX_PROXY = {"AUD": ("FXA", 100.0), "JPY": ("FXY", 10_000.0), "CAD": ("FXC", 100.0)}
ASX_2019 = ["LYC", "ILU", "ARU", "ASM", "VML", "HAS", "NTU", "IXR", "PEK", "ARR", "RNU", "MEI"]
TOKYO = ["4063", "6762", "5486"]
START_2019, END_2019 = "2019-10-08", "2021-07-09"


def import_fx_proxy(store: MarketStore, folder: Path, currencies: list[str]) -> None:
    """USD per unit from the currency trusts, as Yahoo-export-shaped ``<CCY>USD=X`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    for ccy in currencies:
        fund, units = FX_PROXY[ccy]
        raw = pd.read_csv(REALDATA / "dsturdy__Factor_Attribution/data" / f"{fund}.csv")
        path = folder / f"approx-{fund}-{ccy}USD=X.csv"
        pd.DataFrame({"Date": raw["Date"], "Close": raw["Close"] / units}).to_csv(path, index=False)
        import_files([path], store, ticker=f"{ccy}USD=X")


@pytest.fixture(scope="module")
def store_2019(tmp_path_factory: pytest.TempPathFactory) -> MarketStore:
    if not REALDATA.is_dir():
        pytest.fail(f"real data folder not found at {REALDATA} (set EXCHINA_SHARED)")
    root = tmp_path_factory.mktemp("real2019")
    st = MarketStore(root / "store")
    stitched = REALDATA / "jamespang14__StockMonitor/stock_data_stitched"
    import_files([stitched / f"{t}.AX.csv" for t in ASX_2019], st)
    import_files([REALDATA / "dieperdev__yfinance-stock-data/data/MP.csv"], st)
    import_files([REALDATA / "salbaroudi__Py3DSProject/data/NEO.TO.csv"], st)
    for t in TOKYO:  # saved without the exchange suffix
        import_files([REALDATA / "retasu0__yf_csv" / f"{t}.csv"], st, ticker=f"{t}.T")
    import_fx_proxy(st, root / "fx", ["AUD", "JPY", "CAD"])
    return st


def held_master(market: Market) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The company master and exposure facts of the companies ``market`` prices."""
    master = load_companies()
    held = master[master["ticker"].isin(market.tickers)]
    facts = load_facts()
    return held, facts[facts["company_id"].isin(held["company_id"])]


def test_fx_files_import_like_prices_and_say_they_are_approximations(store_2019) -> None:
    fx = store_2019.read_fx()
    sources = fx.groupby("currency")["source"].first().to_dict()
    assert sources == {
        "AUD": "file:approx-FXA-AUDUSD=X.csv",
        "CAD": "file:approx-FXC-CADUSD=X.csv",
        "JPY": "file:approx-FXY-JPYUSD=X.csv",
    }
    m = load_market("store", store_2019, start=START_2019, end=END_2019)
    assert m.meta["fx_sources"] == ";".join(sorted(sources.values())) and not m.synthetic
    fxa = pd.read_csv(REALDATA / "dsturdy__Factor_Attribution/data/FXA.csv", index_col="Date")
    day = pd.Timestamp("2020-03-23")  # the March 2020 low of the Australian dollar
    aud = float(m.fx["AUD"].loc[day])
    assert aud == pytest.approx(float(fxa["Close"].loc["2020-03-23"]) / 100.0, rel=1e-12)
    assert 0.55 < aud < 0.62


def test_rebalance_2019_window_lacks_share_counts_not_rules(store_2019) -> None:
    """No share count is known for these names in 2021 (shares.csv starts later, the saved
    files have none): missing data (exit 4) naming them, never an infeasible methodology."""
    m = load_market("store", store_2019, start=START_2019, end=END_2019)
    companies, facts = held_master(m)
    with pytest.raises(MissingDataError) as err:
        rebalance("2021-03-19", resolve_methodology("flagship"), m, companies=companies,
                  facts=facts)  # fmt: skip
    msg = str(err.value)
    assert err.value.exit_code == 4 and "not a methodology failure" in msg
    assert "without a share count (LYC.AX" in msg and "exchina fetch" in msg


def test_daily_calc_replays_2019_window_like_the_simulator(store_2019) -> None:
    """Quarterly equal weights over rare-earth and magnet names priced from the window's start:
    the calculation agent's index shares and divisor give the simulator's levels to 1e-9 on real
    prices, gaps (Neo's file ends 2020-10: held at its last price by both) and proxy FX; the net
    series keeps the withholding taxes (Australia 30%, Japan 15.315%, Canada 25%) off the
    dividends."""
    m = load_market("store", store_2019, start=START_2019, end=END_2019)
    tickers = [*(f"{t}.AX" for t in ("LYC", "ILU", "ARU", "HAS", "NTU", "VML")), "4063.T",
               "6762.T", "NEO.TO"]  # fmt: skip
    prices, fx = m.close[tickers], m.fx_for(tickers)
    dividends = m.dividends[tickers].fillna(0.0)
    ready = prices.ffill().notna().all(axis=1)
    qe = prices.index.to_series().groupby(pd.DatetimeIndex(prices.index).to_period("Q")).max()
    dates = pd.DatetimeIndex([d for d in qe if ready[d]])
    weights = pd.DataFrame(1.0 / len(tickers), index=dates, columns=tickers)
    country = load_companies().set_index("ticker")["country"].reindex(tickers)
    wht = withholding_rates(country, None, {})
    calc = calculate_daily(
        weights, prices, fx=fx, dividends=dividends, withholding=wht,
        rules=CorporateActionRules(suspension_max_days=None),
    )  # fmt: skip
    sim = simulate(prices, weights, dividends=dividends, fx=fx)
    common = calc.levels.index.intersection(sim.index)
    assert len(common) > 390 and len(dates) >= 6  # 2019-12-31 to 2021-07-09
    for col in ("level_pr", "level_tr"):
        np.testing.assert_allclose(
            calc.levels.loc[common, col].to_numpy(), sim.loc[common, col].to_numpy(), rtol=1e-9
        )
    lv = calc.levels
    assert (dividends.to_numpy() > 0).any() and wht["ILU.AX"] == pytest.approx(0.30)
    assert (lv["level_ntr"] <= lv["level_tr"] + 1e-9).all()
    assert lv["level_ntr"].iloc[-1] < lv["level_tr"].iloc[-1]


def _replay_methodology(tmp_path: Path) -> tuple[Path, Methodology]:
    """The flagship based 2024-07-01, UCITS off and the cap allowed to give way (a handful of
    real names cannot hold 5/10/40: test_backtest_methodologies), costs off."""
    m = load_methodology(resolve_methodology("flagship"))
    c = m.constraints.model_copy(
        update={"ucits": False, "relax": [Relax(rule="max_weight", limit=0.4)]}
    )
    m = m.model_copy(
        update={
            "base_date": pd.Timestamp("2024-07-01").date(),
            "constraints": c,
            "costs": Costs(spread_bps=0.0, impact_bps_at_full_adtv=0.0),
        }
    )
    path = tmp_path / "flagship_2024.toml"
    path.write_text(to_toml(m), encoding="utf-8")
    return path, load_methodology(path)


@pytest.mark.slow
def test_daily_calc_and_rebalance_replay_2024_window(real_store, tmp_path) -> None:  # noqa: F811
    market = load_market("store", real_store, start="2024-01-02", end="2026-01-02")
    assert set(real_store.read_fx()["source"]) == {"approx: CurrencyShares FXA/FXY"}
    companies, facts = held_master(market)
    path, meth = _replay_methodology(tmp_path)
    out = tmp_path / "calc"
    kw = {"market": market, "companies": companies, "facts": facts}
    # on these names the first rebalance the rules can make is 2025-09-19 (before it, too few
    # have share counts and volumes: the 2024 and early-2025 reviews are noted and skipped)
    first = run_calc(path, out, "2025-09-19", "2025-10-31", **kw)
    assert first.status == "written"
    longer = run_calc(path, out, "2025-09-19", "2025-12-31", **kw)
    assert longer.status == "extended" and verify_calc(out) == []
    lv = read_levels(out)
    assert lv.index[0] == pd.Timestamp("2025-09-19") and lv.index[-1] == pd.Timestamp("2025-12-31")
    assert lv.loc["2025-09-19", "level_pr"] == pytest.approx(meth.base_level)
    assert np.isfinite(lv[["level_pr", "level_tr", "level_ntr"]].to_numpy()).all()
    assert (lv["level_ntr"] <= lv["level_tr"] + 1e-9).all()
    bt = run_backtest(
        meth, market, None, "2025-12-31", benchmark=None, companies=companies, facts=facts
    )
    for col in ("level_pr", "level_tr"):
        np.testing.assert_allclose(lv[col], bt.levels.loc[lv.index, col], rtol=1e-9)
    res = rebalance("2025-12-19", path, market.asof("2025-12-19"), companies=companies,
                    facts=facts)  # fmt: skip
    assert res.weights.sum() == pytest.approx(1.0)
    assert "SYNTHETIC" not in res.report["data_source"]
