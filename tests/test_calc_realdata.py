"""Real-data replay: the daily calculation and a rebalance on real Yahoo prices in
``../shared/realdata`` (2024-01 to 2026-01; AUD and JPY approximated from the CurrencyShares
trusts FXA and FXY, as labelled in the store), checked against the backtest to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest

from exchina.backtest import run_backtest
from exchina.core.paths import methodology_file
from exchina.core.sources import load_market
from exchina.index.methodology import Costs, load_methodology
from exchina.index.rebalance import rebalance
from exchina.ops.calc_output import read_levels, verify_calc
from exchina.ops.calc_run import run_calc
from tests.test_backtest_methodologies import real_store  # noqa: F401  (the fixture)


@pytest.mark.slow
def test_daily_calc_and_rebalance_replay_real_prices(real_store, tmp_path) -> None:  # noqa: F811
    market = load_market("store", real_store, start="2024-01-02", end="2026-01-02")
    assert not market.synthetic
    fx_sources = set(real_store.read_fx()["source"])
    assert fx_sources == {"approx: CurrencyShares FXA/FXY"}  # the FX proxy says what it is
    text = methodology_file("flagship").read_text(encoding="utf-8")
    path = tmp_path / "flagship_2024.toml"
    path.write_text(text.replace("base_date = 2012-12-31", "base_date = 2024-07-01"))
    out = tmp_path / "calc"
    first = run_calc(path, out, "2025-06-02", "2025-10-31", market=market)
    assert first.status == "written"
    longer = run_calc(path, out, "2025-06-02", "2025-12-31", market=market)
    assert longer.status == "extended" and verify_calc(out) == []
    lv = read_levels(out)
    assert np.isfinite(lv[["level_pr", "level_tr", "level_ntr"]].to_numpy()).all()
    assert (lv["level_ntr"] <= lv["level_tr"] + 1e-9).all()
    meth = load_methodology(path)
    free = meth.model_copy(update={"costs": Costs(spread_bps=0.0, impact_bps_at_full_adtv=0.0)})
    bt = run_backtest(free, market, None, "2025-12-31")
    for col in ("level_pr", "level_tr"):
        np.testing.assert_allclose(lv[col], bt.levels.loc[lv.index, col], rtol=1e-9)
    res = rebalance("2025-12-19", path, market.asof("2025-12-19"))
    assert res.weights.sum() == pytest.approx(1.0)
    assert "SYNTHETIC" not in res.report["data_source"]
