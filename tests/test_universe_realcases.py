"""Real cases on the shipped data: each company's score moves the right way when its facts change.

MP stopped shipping concentrate to China on 2025-04-17; Neo sold its Chinese separation plants on
2025-04-01; Australia ordered Yuxiao to divest Northern Minerals in June 2024 (fully out by 2025);
Shenghe took 19.9% of Peak in 2022 and all of it (scheme effective 2025-09-30).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchina.core.market import Market
from exchina.universe import (
    ChinaScoreRules,
    UniverseRules,
    build_universe,
    explain,
    load_companies,
    load_facts,
    score_companies,
)


@pytest.fixture(scope="module")
def shipped() -> dict[str, pd.DataFrame]:
    companies = load_companies()
    return {"companies": companies, "facts": load_facts(companies=companies)}


def _score(shipped: dict, company_id: str, date: str) -> pd.Series:
    return score_companies(shipped["facts"], date, ChinaScoreRules(), shipped["companies"]).loc[
        company_id
    ]


def test_mp_score_falls_after_stopping_china_shipments(shipped: dict) -> None:
    before = _score(shipped, "mp_materials", "2025-04-16")
    after = _score(shipped, "mp_materials", "2025-04-18")
    year_on = _score(shipped, "mp_materials", "2026-04-17")
    assert before["china_score"] > after["china_score"] > year_on["china_score"]
    assert before["china_flags"] == after["china_flags"] == ""  # Shenghe ~8% < 10% threshold
    e = explain("MP", "2025-04-18", companies=shipped["companies"], facts=shipped["facts"])
    offtake = e.table.loc[e.table["factor"] == "offtake_revenue_china"].iloc[0]
    assert offtake["status"] == "ended" and offtake["multiplier"] < 1
    # one year after the end the relationship counts half (half-life 1 year)
    e_year = explain("MP", "2026-04-17", companies=shipped["companies"], facts=shipped["facts"])
    off_year = e_year.table.loc[e_year.table["factor"] == "offtake_revenue_china"].iloc[0]
    assert off_year["multiplier"] == pytest.approx(0.5 ** (365 / 365.25))
    # the DoD deal of July 2025 is reported and does not lower the score
    july = _score(shipped, "mp_materials", "2025-07-11")
    assert july["allied_backing_usd_m"] > 0 and "US DoD" in july["allied_backers"]
    assert _score(shipped, "mp_materials", "2025-07-09")["allied_backing_usd_m"] == 0


def test_neo_score_falls_after_selling_chinese_plants(shipped: dict) -> None:
    before = _score(shipped, "neo_performance", "2025-03-31")
    after = _score(shipped, "neo_performance", "2025-04-02")
    year_on = _score(shipped, "neo_performance", "2026-04-01")
    assert before["china_score"] > after["china_score"] > year_on["china_score"]
    e = explain("NEO.TO", "2026-04-01", companies=shipped["companies"], facts=shipped["facts"])
    fac = e.table.loc[e.table["factor"] == "facilities_china"].set_index("status")
    # a year on, the remaining 35% in force outweighs the decayed 50% of the sold plants
    assert fac.loc["in_force", "role"] == "sets factor"
    assert fac.loc["ended", "role"] == "superseded"


def test_northern_minerals_after_divestment_order(shipped: dict) -> None:
    before_stake = _score(shipped, "northern_minerals", "2023-01-01")
    before_order = _score(shipped, "northern_minerals", "2024-05-31")
    after_exit = _score(shipped, "northern_minerals", "2025-06-30")
    assert "chinese_ownership_pct" in before_stake["unknown_factors"]
    assert "chinese_ownership_pct" not in before_order["unknown_factors"]
    assert before_order["china_score"] > after_exit["china_score"]
    assert before_order["china_flags"] == after_exit["china_flags"] == ""  # not state-linked


def test_peak_excluded_once_shenghe_owns_it(shipped: dict) -> None:
    before = _score(shipped, "peak_rare_earths", "2022-01-31")
    stake = _score(shipped, "peak_rare_earths", "2025-06-30")
    owned = _score(shipped, "peak_rare_earths", "2025-10-01")
    assert before["china_flags"] == "" and before["china_score"] < 100
    assert stake["china_flags"] == "chinese_state_holder_pct"  # 19.9% state-linked from 2022
    assert owned["china_score"] == 100.0
    assert "chinese_largest_holder" in owned["china_flags"].split(";")
    assert owned["graded_score"] > stake["graded_score"]
    # in the universe it is out for the flag (and, from 2025-10-01, for the delisting)
    c = shipped["companies"]
    peak = c.loc[c["company_id"] == "peak_rare_earths"]
    idx = pd.bdate_range("2021-01-01", "2025-10-31", name="date")
    market = Market(
        close=pd.DataFrame({"PEK.AX": np.full(len(idx), 0.3)}, index=idx),
        volume=pd.DataFrame({"PEK.AX": np.full(len(idx), 1e7)}, index=idx),
        dividends=pd.DataFrame({"PEK.AX": np.zeros(len(idx))}, index=idx),
        currency=pd.Series({"PEK.AX": "AUD"}),
        fx=pd.DataFrame({"USD": 1.0, "AUD": 0.7}, index=idx),
        shares=pd.DataFrame({"PEK.AX": np.full(len(idx), 1e9)}, index=idx),
        source="synthetic test market",
        synthetic=True,
    )
    rules = UniverseRules(statuses=["producer", "developer", "explorer", "delisted"])
    u_after = build_universe("2025-10-01", rules, market, companies=peak, facts=shipped["facts"])
    reasons = u_after.loc["PEK.AX", "reasons"].split(";")
    assert "delisted on 2025-10-01" in reasons
    assert "china flags: chinese_largest_holder, chinese_state_holder_pct" in reasons
    u_before = build_universe("2022-01-31", rules, market, companies=peak, facts=shipped["facts"])
    assert "china flags" not in u_before.loc["PEK.AX", "reasons"]


def test_astron_flag_follows_its_redomiciling(shipped: dict) -> None:
    assert _score(shipped, "astron", "2025-08-20")["china_flags"] == "domicile_china"
    assert _score(shipped, "astron", "2025-08-22")["china_flags"] == ""


def test_an_old_ownership_flag_lapses_but_still_scores(shipped: dict) -> None:
    """Arafura's Chinese state-linked holder (ECE, 22% in 2010) flags it while the filing is
    recent; fifteen years on, with no newer source, the flag lapses (policy
    ``flag_stale_after_years``) and the stake counts as discounted graded ownership instead."""
    early = _score(shipped, "arafura", "2012-06-29")
    late = _score(shipped, "arafura", "2025-12-12")
    assert early["china_flags"] == "chinese_state_holder_pct" and early["china_score"] == 100
    assert late["china_flags"] == "" and 0 < late["china_score"] < 100
    never = ChinaScoreRules(flag_stale_after_years=None)
    kept = score_companies(shipped["facts"], "2025-12-12", never, shipped["companies"])
    assert kept.loc["arafura", "china_flags"] == "chinese_state_holder_pct"
