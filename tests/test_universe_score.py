"""China score, confidence, flags and explain: hand-computed answers on the fixture files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from exchina.core.errors import InputError
from exchina.universe import (
    ChinaScoreRules,
    explain,
    facts_in_force,
    load_companies,
    load_facts,
    score_companies,
)

FIX = Path(__file__).parent / "fixtures" / "universe"
T = "2025-01-01"


@pytest.fixture(scope="module")
def companies() -> pd.DataFrame:
    return load_companies(FIX / "companies.csv")


@pytest.fixture(scope="module")
def facts(companies: pd.DataFrame) -> pd.DataFrame:
    return load_facts(FIX / "exposure_facts.csv", companies=companies)


def _alpha_by_hand() -> tuple[float, float]:
    """Alpha at 2025-01-01 with the default rules, worked out fact by fact."""
    ownership = 10 / 20  # a1: 10% / 20% full scale, current, grade A
    decay = 0.5 ** (366 / 365.25)  # a2 ended 2024-01-01, 366 days before T, half-life 1y
    offtake = 0.8 * decay  # a2 beats a8 (0.0 in force); grade B
    processing = 0.5 * 0.5  # a3: source 2020-06-01 older than 3y -> stale x0.5; grade C
    feedstock = facilities = 0.0  # a4, a5 (a10 not known until 2025-03-01)
    pricing = 0.25  # unknown -> penalize with unknown_value
    score = 100 * (
        0.25 * ownership
        + 0.20 * offtake
        + 0.20 * processing
        + 0.15 * feedstock
        + 0.10 * facilities
        + 0.10 * pricing
    )
    # confidence: sum w x k x q with k the largest multiplier (a8 current -> 1; a3 stale -> 0.5)
    confidence = 0.25 * 1 * 1 + 0.20 * 1 * 0.8 + 0.20 * 0.5 * 0.5 + 0.15 + 0.10 + 0.10 * 0
    return score, confidence


def test_alpha_known_answer(facts: pd.DataFrame, companies: pd.DataFrame) -> None:
    s = score_companies(facts, T, ChinaScoreRules(), companies=companies)
    score, confidence = _alpha_by_hand()
    assert s.loc["alpha", "china_score"] == pytest.approx(score, abs=1e-9)
    assert s.loc["alpha", "china_score"] == pytest.approx(27.98862, abs=1e-5)
    assert s.loc["alpha", "confidence"] == pytest.approx(confidence, abs=1e-12) == 0.71
    assert s.loc["alpha", "china_flags"] == ""
    assert s.loc["alpha", "unknown_factors"] == "pricing_china_benchmark"
    # allied backing is reported beside the score, never subtracted from it
    assert s.loc["alpha", "allied_backing_usd_m"] == 150.0
    assert s.loc["alpha", "allied_backers"] == "JOGMEC;US DoD"


def test_unknown_policies_and_no_facts(facts: pd.DataFrame, companies: pd.DataFrame) -> None:
    pen = score_companies(facts, T, ChinaScoreRules(), companies=companies)
    neu = score_companies(facts, T, ChinaScoreRules(unknown_policy="neutral"), companies=companies)
    assert pen.loc["bravo", "china_score"] == pytest.approx(25.0)
    assert pen.loc["bravo", "confidence"] == 0.0
    assert len(pen.loc["bravo", "unknown_factors"].split(";")) == 6
    assert neu.loc["bravo", "china_score"] == 0.0
    # alpha's one unknown factor (pricing, weight 0.10) is worth 0.10 x 0.25 x 100 = 2.5 points
    assert pen.loc["alpha", "china_score"] - neu.loc["alpha", "china_score"] == pytest.approx(2.5)
    assert not pen["china_score"].isna().any()


def test_weights_and_unknown_value_come_from_rules(facts: pd.DataFrame) -> None:
    rules = ChinaScoreRules(weights={"chinese_ownership_pct": 3.0, "offtake_revenue_china": 1.0})
    s = score_companies(facts, T, rules)
    expected = 100 * (3 * 0.5 + 1 * 0.8 * 0.5 ** (366 / 365.25)) / 4
    assert s.loc["alpha", "china_score"] == pytest.approx(expected)
    assert s.loc["alpha", "unknown_factors"] == ""
    assert rules.model_dump()["weights"] == {
        "chinese_ownership_pct": 3.0,
        "offtake_revenue_china": 1.0,
    }


def test_hard_flags_from_master_and_from_facts(
    facts: pd.DataFrame, companies: pd.DataFrame
) -> None:
    during = score_companies(facts, "2023-06-30", ChinaScoreRules(), companies=companies)
    after = score_companies(facts, T, ChinaScoreRules(), companies=companies)
    assert during.loc["cathay", "china_flags"] == "domicile_china;primary_listing_china"
    assert during.loc["cathay", "china_score"] == 100.0
    assert during.loc["cathay", "confidence"] == 1.0
    # delta: state-linked holder 15% >= 10% in force until 2024-07-01
    assert during.loc["delta", "china_flags"] == "chinese_state_holder_pct"
    assert during.loc["delta", "china_score"] == 100.0
    # afterwards the stake is an ended, stale (source 2022-01-01, > 3y) ownership fact
    own = 15 / 20 * 0.5 ** (184 / 365.25) * 0.5
    assert after.loc["delta", "china_flags"] == ""
    assert after.loc["delta", "china_score"] == pytest.approx(100 * (0.25 * own + 0.75 * 0.25))
    # a higher threshold turns the flag off and leaves the graded score
    lenient = score_companies(facts, "2023-06-30", ChinaScoreRules(state_holder_threshold_pct=20))
    assert lenient.loc["delta", "china_flags"] == ""
    assert lenient.loc["delta", "china_score"] == pytest.approx(100 * (0.25 * 0.75 + 0.75 * 0.25))


def test_point_in_time_known_from_and_pending(facts: pd.DataFrame) -> None:
    in_force = facts_in_force(facts, T)
    assert "a10" not in set(in_force["fact_id"])  # effective 2020 but public only 2025-03-01
    assert "a9" not in set(in_force["fact_id"])  # announced, effective 2025-06-01
    assert "a2" not in set(in_force["fact_id"])  # ended 2024-01-01
    later = facts_in_force(facts, "2025-07-01")
    assert {"a9", "a10"} <= set(later["fact_id"])
    s = score_companies(facts, "2025-07-01", ChinaScoreRules())
    e = explain("alpha", "2025-07-01", facts=facts, companies=load_companies(FIX / "companies.csv"))
    by_id = e.table.set_index("fact_id")
    assert by_id.loc["a9", "role"] == "sets factor"  # 30% caps the ownership factor at 1
    assert by_id.loc["a9", "contribution"] == pytest.approx(25.0)
    assert by_id.loc["a1", "role"] == "superseded"
    assert by_id.loc["a10", "contribution"] == pytest.approx(100 * 0.10 * 0.5)
    assert s.loc["alpha", "china_score"] == pytest.approx(e.score)


def test_explain_contributions_sum_to_score_with_sources(
    facts: pd.DataFrame, companies: pd.DataFrame
) -> None:
    e = explain("ALP.AX", T, facts=facts, companies=companies)  # by ticker
    assert e.company_id == "alpha"
    assert e.score == pytest.approx(_alpha_by_hand()[0])
    assert e.table["contribution"].sum() == pytest.approx(e.score)
    by_id = e.table.set_index("fact_id")
    assert by_id.loc["a2", "status"] == "ended" and by_id.loc["a2", "role"] == "sets factor"
    assert by_id.loc["a8", "role"] == "superseded"
    assert by_id.loc["a9", "role"] == "pending"
    assert by_id.loc["a6", "role"] == "allied backing" and by_id.loc["a6", "contribution"] == 0
    assert by_id.loc["a3", "source_url"] == "https://example.org/a3"
    unknown = e.table.loc[e.table["role"] == "unknown"]
    assert list(unknown["factor"]) == ["pricing_china_benchmark"]
    md = e.to_markdown()
    assert "China score: **28.0**" in md and "https://example.org/a1" in md


def test_explain_flagged_company_and_unknown_name(
    facts: pd.DataFrame, companies: pd.DataFrame
) -> None:
    e = explain("cth.hk", T, facts=facts, companies=companies)
    assert e.score == 100.0 and e.flags == ["domicile_china", "primary_listing_china"]
    assert (e.table["role"] == "hard flag").sum() == 2
    assert e.graded_score == pytest.approx(25.0)
    with pytest.raises(InputError, match="no company with id or ticker 'nope'"):
        explain("nope", T, facts=facts, companies=companies)


def test_rules_reject_unknown_factor_weights() -> None:
    with pytest.raises(ValueError, match="unknown factor"):
        ChinaScoreRules(weights={"chinese_dividends": 1.0})
