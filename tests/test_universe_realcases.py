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
    classify_stages,
    explain,
    load_companies,
    load_facts,
    load_stage_facts,
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


def _flat_market(
    ticker: str, currency: str, price: float, shares: float, start: str, end: str, fx: float = 1.0
) -> Market:
    """One ticker at a constant price, volume 1e7 and share count: a synthetic test market."""
    idx = pd.bdate_range(start, end, name="date")
    rates = {"USD": 1.0} if currency == "USD" else {"USD": 1.0, currency: fx}
    return Market(
        close=pd.DataFrame({ticker: np.full(len(idx), price)}, index=idx),
        volume=pd.DataFrame({ticker: np.full(len(idx), 1e7)}, index=idx),
        dividends=pd.DataFrame({ticker: np.zeros(len(idx))}, index=idx),
        currency=pd.Series({ticker: currency}),
        fx=pd.DataFrame(rates, index=idx),
        shares=pd.DataFrame({ticker: np.full(len(idx), shares)}, index=idx),
        source="synthetic test market",
        synthetic=True,
    )


def test_mp_score_falls_after_stopping_china_shipments(shipped: dict) -> None:
    """The halt of 2025-04-17 is known from a report of 2025-04-18; the same report is the first
    fresh source of the Shenghe offtake, so the score at the halt reflects the (decaying) ended
    relationships, and it falls as they decay and the zero facts stand."""
    after = _score(shipped, "mp_materials", "2025-04-18")
    year_on = _score(shipped, "mp_materials", "2026-04-17")
    assert after["china_score"] > year_on["china_score"]
    assert after["china_flags"] == year_on["china_flags"] == ""  # Shenghe ~8% < 10% threshold
    halt = explain("MP", "2025-04-18", companies=shipped["companies"], facts=shipped["facts"])
    zero = halt.table.set_index("fact_id").loc[
        ["mp-offtake-china-halt-2025", "mp-processing-china-halt-2025"]
    ]
    assert (zero["status"] == "in_force").all() and (zero["value"] == 0).all()
    # a day earlier the halt was not public: its facts are not seen
    eve = explain("MP", "2025-04-17", companies=shipped["companies"], facts=shipped["facts"])
    assert "mp-offtake-china-halt-2025" not in set(eve.table["fact_id"])
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
    assert (fac.loc[["in_force"], "role"] == "sets factor").any()
    assert (fac.loc[["ended"], "role"] == "superseded").all()


def test_northern_minerals_after_divestment_order(shipped: dict) -> None:
    """Huatai's 22.59% (2017) is the first Chinese stake on record; Yuxiao's stake ends with the
    Treasurer's order (June 2024; last shares out 2025-03-28),
    but the buyers of its shares, Qogir Trading and Hong Kong Ying Tak (Hong Kong, 16.82%
    together from 2024-09-02), keep Chinese ownership high: the score does not fall."""
    before_stake = _score(shipped, "northern_minerals", "2017-01-31")  # Huatai public 2017-02-01
    before_order = _score(shipped, "northern_minerals", "2024-05-31")
    after_exit = _score(shipped, "northern_minerals", "2025-06-30")
    assert "chinese_ownership_pct" in before_stake["unknown_factors"]
    assert "chinese_ownership_pct" not in before_order["unknown_factors"]
    assert before_order["china_flags"] == after_exit["china_flags"] == ""  # not state-linked
    e = explain("NTU.AX", "2025-06-30", companies=shipped["companies"], facts=shipped["facts"])
    own = e.table.loc[e.table["factor"] == "chinese_ownership_pct"].set_index("fact_id")
    assert own.loc["ntu-own-residual-2025", "status"] == "ended"
    assert own.loc["ntu-own-hk-2024", "role"] == "sets factor"
    assert after_exit["china_score"] > before_order["china_score"]


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
    market = _flat_market("PEK.AX", "AUD", 0.3, 1e9, "2021-01-01", "2025-10-31", fx=0.7)
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


def test_arafura_ece_stake_flags_then_lapses_then_ends(shipped: dict) -> None:
    """ECE's holding in Arafura (22.17% in 2010, 24.85% from 2012, diluted to about 19% in
    2018) flags Arafura while the filing is recent; by the end of 2017 the 2012 source is over
    five years old and the flag lapses (``flag_stale_after_years``) though the stake still scores
    as graded ownership; the stake ends in 2019 and in 2025 nothing flags Arafura even under a
    policy that never lapses flags."""
    early = _score(shipped, "arafura", "2012-06-29")
    lapsed = _score(shipped, "arafura", "2017-12-29")
    late = _score(shipped, "arafura", "2025-12-12")
    assert early["china_flags"] == "chinese_state_holder_pct" and early["china_score"] == 100
    assert lapsed["china_flags"] == "" and 0 < lapsed["china_score"] < 100
    never = ChinaScoreRules(flag_stale_after_years=None)
    kept = score_companies(shipped["facts"], "2017-12-29", never, shipped["companies"])
    assert kept.loc["arafura", "china_flags"] == "chinese_state_holder_pct"
    ended = score_companies(shipped["facts"], "2025-12-12", never, shipped["companies"])
    assert ended.loc["arafura", "china_flags"] == "" and late["china_flags"] == ""
    e = explain("ARU.AX", "2025-12-12", companies=shipped["companies"], facts=shipped["facts"])
    ece = e.table.loc[e.table["counterparty"].astype(str).str.contains("ECE|East China")]
    assert (ece["status"] == "ended").all() and len(ece) >= 4
    assert late["china_score"] < lapsed["china_score"]


def test_mp_processing_was_all_chinese_before_2023(shipped: dict) -> None:
    """Until MP separated its own oxides (mid-2023) Shenghe processed all of its concentrate:
    processing dependence 1.0; then about half; none once shipments to China stopped."""

    def processing(date: str) -> pd.DataFrame:
        e = explain("MP", date, companies=shipped["companies"], facts=shipped["facts"])
        t = e.table
        return t.loc[t["factor"] == "processing_dependence_china"].set_index("fact_id")

    before = processing("2022-12-30")
    assert before.loc["mp-processing-china-pre2023", "value"] == 1.0
    assert before.loc["mp-processing-china-pre2023", "role"] == "sets factor"
    after = processing("2023-07-03")
    assert after.loc["mp-processing-china-pre2023", "status"] == "ended"
    # the half-and-half phase is known from the report of the halt (2025-04-17), when it ended
    assert "mp-processing-china-2023" not in after.index
    stopped = processing("2025-04-18")
    assert stopped.loc["mp-processing-china-2023", ("value", "status")].tolist() == [0.5, "ended"]
    assert stopped.loc["mp-processing-china-halt-2025", ("value", "status")].tolist() == [
        0.0,
        "in_force",
    ]
    scores = [
        _score(shipped, "mp_materials", d)["china_score"] for d in ("2022-12-30", "2026-04-17")
    ]
    assert scores[0] > scores[1]


def test_neo_still_runs_chinese_plants_after_the_sale(shipped: dict) -> None:
    """Neo sold control of its Chinese separation plants on 2025-04-01 but kept plants in China
    (and a minority in the sold ones): facilities and processing in China fall, not to zero."""
    before = explain("NEO.TO", "2025-03-31", companies=shipped["companies"], facts=shipped["facts"])
    after = explain("NEO.TO", "2025-04-02", companies=shipped["companies"], facts=shipped["facts"])
    for factor in ("facilities_china", "processing_dependence_china"):
        b = before.table.loc[(before.table["factor"] == factor) & before.table["in_force"]]
        a = after.table.loc[(after.table["factor"] == factor) & after.table["in_force"]]
        assert 0 < a["value"].max() < b["value"].max()


def test_cotec_and_mkango_count_the_exim_letter_once(shipped: dict) -> None:
    """HyProMag USA's US$92m EXIM letter of interest (2025-06-12) counts for CoTec, its
    majority owner, and not again for Mkango."""
    s = score_companies(shipped["facts"], "2025-12-31", ChinaScoreRules(), shipped["companies"])
    assert s.loc["cotec", "allied_backing_usd_m"] == 92.0
    assert "US EXIM" not in s.loc["mkango", "allied_backers"]
    before = score_companies(
        shipped["facts"], "2025-06-11", ChinaScoreRules(), shipped["companies"]
    )
    assert before.loc["cotec", "allied_backing_usd_m"] == 0.0


@pytest.mark.parametrize(
    ("company", "expected"),
    [
        # concentrate seller; separated oxides from mid-2023 (concentrate still most revenue);
        # separation its primary stage from the DoD deal of July 2025
        ("mp_materials", ["mining", "mining", "mining", "separation_refining"]),
        ("lynas", ["separation_refining"] * 4),
        ("iluka", ["mining"] * 4),
        ("energy_fuels", ["separation_refining"] * 4),
        ("neo_performance", ["metal_alloy"] * 4),
    ],
)
def test_primary_stage_follows_dated_stage_evidence(
    shipped: dict, company: str, expected: list[str]
) -> None:
    stage_facts = load_stage_facts()
    got = [
        classify_stages(shipped["companies"], stage_facts, d).loc[company, "primary_stage"]
        for d in ("2021-06-30", "2023-06-30", "2024-06-28", "2026-03-31")
    ]
    assert got == expected


def test_usa_rare_earth_becomes_a_metal_maker_with_less_common_metals(shipped: dict) -> None:
    stage_facts = load_stage_facts()
    c = shipped["companies"]
    before = classify_stages(c, stage_facts, "2025-11-17").loc["usa_rare_earth"]
    after = classify_stages(c, stage_facts, "2025-11-19").loc["usa_rare_earth"]
    assert (before["primary_stage"], before["stage_fact"]) == ("magnet", "usar-stage-2025")
    assert (after["primary_stage"], after["stage_fact"]) == ("metal_alloy", "usar-stage-lcm")
    assert not after["stage_default"]


@pytest.mark.parametrize(
    ("company", "before", "after"),
    [
        # Kalgoorlie and the first heavy rare earths: still a separator, on new evidence
        ("lynas", "lyc-stage-2012", "lyc-stage-2025"),
        # mixed carbonate for Neo, then its own separated NdPr oxide at White Mesa
        ("energy_fuels", "uuuu-stage-2021", "uuuu-stage-2024"),
        # out of Chinese separation: a downstream (powders and magnets) company
        ("neo_performance", "neo-stage-2017", "neo-stage-2025"),
        # the DoD deal: separated products and magnets become MP's primary business
        ("mp_materials", "mp-stage-2023-primary-mining", "mp-stage-2025"),
    ],
)
def test_stage_evidence_changes_when_known(
    shipped: dict, company: str, before: str, after: str
) -> None:
    """A change takes hold on the later of its effective date and the day its source is public
    (point in time: never on the effective date when the evidence came out later)."""
    stage_facts = load_stage_facts()
    row = stage_facts.set_index("fact_id").loc[after]
    change = max(row["effective_from"], row["known_from"])
    day_before = pd.Timestamp(change) - pd.Timedelta(days=1)
    c = shipped["companies"]
    assert classify_stages(c, stage_facts, day_before).loc[company, "stage_fact"] == before
    assert classify_stages(c, stage_facts, change).loc[company, "stage_fact"] == after


def test_no_shipped_fact_is_known_before_its_source(shipped: dict) -> None:
    """Point in time: a fact counts from the day the source cited for it is public."""
    for frame in (shipped["facts"], load_stage_facts()):
        early = frame.loc[frame["known_from"] < frame["source_date"], "fact_id"]
        assert early.empty, list(early)


def test_companies_enter_the_chain_on_their_dated_entry(shipped: dict) -> None:
    """Ramaco mined only coal until rare earths were found at Brook Mine (announced 2023-05-03):
    before that the master's present-day stage is not read back, and the screen says why."""
    c = shipped["companies"]
    ramaco = c.loc[c["company_id"] == "ramaco"]
    market = _flat_market("METC", "USD", 20.0, 1e8, "2019-01-01", "2024-12-31")
    rules = UniverseRules(statuses=["producer", "developer", "explorer"])
    stage_facts = load_stage_facts()
    reason = "not in the chain before 2023-05-03 (stage evidence: entry)"

    def reasons(date: str) -> list[str]:
        u = build_universe(
            date, rules, market, companies=ramaco, facts=shipped["facts"], stage_facts=stage_facts
        )
        return u.loc["METC", "reasons"].split(";")

    assert reason in reasons("2021-06-30")
    assert reason in reasons("2023-05-02")
    assert reason not in reasons("2023-05-03")
    # entry rows date the start; they never form a stage position themselves
    classified = classify_stages(c, stage_facts, "2024-06-28").loc["ramaco"]
    assert classified["stage_fact"] == "metc-stage-mining-2023"
