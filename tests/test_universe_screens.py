"""build_universe on a small synthetic Market: every failing screen is listed, buffers hold
members, and nothing after the date is used. Stage classification rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.core.market import Market
from exchina.universe import (
    UniverseRules,
    build_universe,
    classify_stages,
    load_companies,
    load_facts,
    load_shares,
)
from exchina.universe.rules import STAGES
from exchina.universe.screens import STAGE_DEFAULTED
from exchina.universe.stages import parse_stages

FIX = Path(__file__).parent / "fixtures" / "universe"
T = pd.Timestamp("2025-01-01")
CLOSE = {"ALP.AX": 2.0, "BRV": 10.0, "CTH.HK": 50.0, "DLT.AX": 0.1, "ECH": 5.0}
VOLUME = {"ALP.AX": 1e6, "BRV": 1e5, "CTH.HK": 1e6, "DLT.AX": 1e5, "ECH": 2e5}
CCY = {"ALP.AX": "AUD", "BRV": "USD", "CTH.HK": "HKD", "DLT.AX": "AUD", "ECH": "USD"}


def synthetic_market(tickers: list[str] | None = None) -> Market:
    """Constant prices and volumes on business days 2024-01-01..2025-01-31 (ECH from
    2024-03-01); AUD at 0.65 and HKD at 0.128 USD; market shares only for ECH."""
    tickers = tickers or list(CLOSE)
    idx = pd.bdate_range("2024-01-01", "2025-01-31", name="date")
    close = pd.DataFrame({t: np.full(len(idx), CLOSE[t]) for t in tickers}, index=idx)
    if "ECH" in close:
        close.loc[:"2024-02-29", "ECH"] = np.nan
    volume = pd.DataFrame({t: np.full(len(idx), VOLUME[t]) for t in tickers}, index=idx)
    volume = volume.where(close.notna())
    fx = pd.DataFrame({"USD": 1.0, "AUD": 0.65, "HKD": 0.128}, index=idx)
    shares = pd.DataFrame(np.nan, index=idx, columns=tickers)
    if "ECH" in shares:
        shares["ECH"] = 1.5e7
    return Market(
        close=close,
        volume=volume,
        dividends=close * 0.0,
        currency=pd.Series({t: CCY[t] for t in tickers}),
        fx=fx,
        shares=shares,
        source="synthetic test market",
        synthetic=True,
    )


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    companies = load_companies(FIX / "companies.csv")
    return {
        "companies": companies,
        "facts": load_facts(FIX / "exposure_facts.csv", companies=companies),
        "shares": load_shares(FIX / "shares.csv", companies=companies),
    }


def _build(data: dict, date=T, rules=None, market=None, members=None) -> pd.DataFrame:
    return build_universe(
        date, rules or UniverseRules(), market or synthetic_market(), members, **data
    )


def test_universe_known_answers(data: dict) -> None:
    u = _build(data)
    assert list(u.index) == ["ALP.AX", "BRV", "CTH.HK", "DLT.AX", "ECH"]
    alp = u.loc["ALP.AX"]
    # 2.0 AUD x 0.65 x 1.2e9 shares (shares.csv from 2024-06-01) x 0.8 free float (2020 record)
    assert alp["float_mcap_usd"] == pytest.approx(2.0 * 0.65 * 1.2e9 * 0.8)
    assert alp["shares_source"] == "shares.csv" and alp["free_float"] == 0.8
    assert alp["adtv_usd"] == pytest.approx(1.3e6)
    assert alp["history_days"] == len(pd.bdate_range("2024-01-01", T))
    assert alp["eligible"] and alp["reasons"] == ""
    assert alp["primary_stage"] == "mining" and alp["stages"] == "mining;separation_refining"
    assert alp["allied_backing_usd_m"] == 150.0
    brv = u.loc["BRV"]
    assert brv["eligible"] and brv["free_float"] == 1.0
    # mining;magnet with no shares and no stage evidence: the last-resort default says so
    assert brv["data_notes"].split(";") == ["free float unknown, 100% assumed", STAGE_DEFAULTED]
    assert STAGE_DEFAULTED not in alp["data_notes"]  # alpha's master gives revenue shares
    assert brv["float_mcap_usd"] == pytest.approx(10.0 * 5e8)
    cth = u.loc["CTH.HK"]
    assert not cth["eligible"]
    assert cth["reasons"] == (
        "china flags: domicile_china, primary_listing_china;"
        "float_mcap_usd unknown (no shares outstanding)"
    )
    dlt = u.loc["DLT.AX"]
    assert dlt["reasons"] == (
        "status explorer not in [producer, developer];"
        "float_mcap_usd 3250000 < 100000000;adtv_usd 6500 < 500000"
    )
    ech = u.loc["ECH"]
    assert ech["shares_source"] == "market"
    assert ech["reasons"] == "float_mcap_usd 75000000 < 100000000"
    assert u["eligible"].dtype == bool


def test_buffers_keep_existing_members(data: dict) -> None:
    u = _build(data, members=["ECH", "DLT.AX"])
    assert u.loc["ECH", "eligible"]  # 75m >= 0.5 x 100m
    assert u.loc["ECH", "member"]
    # buffers loosen thresholds, they do not waive them
    assert "adtv_usd 6500 < 250000" in u.loc["DLT.AX", "reasons"]
    strict = UniverseRules(max_china_score=20.0)
    u2 = _build(data, rules=strict, members=["ALP.AX"])
    u3 = _build(data, rules=strict)
    assert u2.loc["ALP.AX", "eligible"]  # 27.99 <= 20 + 10
    assert u3.loc["ALP.AX", "reasons"] == "china_score 28.0 > 20"


def test_history_listing_and_delisting_screens(data: dict) -> None:
    early = _build(data, date="2024-02-01")
    assert early.loc["ECH", "reasons"] == "not listed until 2024-03-01;no price history"
    spring = _build(data, date="2024-05-31")
    n = len(pd.bdate_range("2024-03-01", "2024-05-31"))
    assert f"history_days {n} < 126" in spring.loc["ECH", "reasons"]
    late = _build(data, date="2025-07-01")
    assert late.loc["ECH", "reasons"].startswith("delisted on 2025-06-30")
    missing = _build(data, market=synthetic_market(["ALP.AX", "CTH.HK", "DLT.AX", "ECH"]))
    assert missing.loc["BRV", "reasons"] == "no price history"
    assert missing.loc["BRV", "history_days"] == 0


def test_rules_select_stages_commodities_and_china(data: dict) -> None:
    magnets = UniverseRules(stages=["magnet"], statuses=["producer", "developer", "explorer"])
    u = _build(data, rules=magnets)
    assert u.loc["BRV", "eligible"]  # mining;magnet has a magnet stage
    assert u.loc["ALP.AX", "reasons"] == "stages mining, separation_refining not in [magnet]"
    primary = _build(data, rules=UniverseRules(stages=["mining"], stage_match="primary"))
    assert primary.loc["BRV", "reasons"] == "primary stage magnet not in [mining]"
    assert primary.loc["ALP.AX", "eligible"]
    lithium = _build(data, rules=UniverseRules(commodities=["lithium"]))
    assert lithium.loc["ALP.AX", "reasons"] == "commodities rare_earths not in [lithium]"
    exclude = UniverseRules.model_validate({"china": {"unknown_policy": "exclude"}})
    ux = _build(data, rules=exclude)
    assert (
        "unknown factors pricing_china_benchmark (unknown_policy exclude)"
        in ux.loc["ALP.AX", "reasons"]
    )
    conf = _build(data, rules=UniverseRules(min_confidence=0.5))
    assert conf.loc["BRV", "reasons"] == "confidence 0.00 < 0.5"
    no_screen = _build(data, rules=UniverseRules(max_china_score=None, exclude_china_flags=False))
    assert "china" not in no_screen.loc["CTH.HK", "reasons"]


def test_only_data_up_to_the_date_is_used(data: dict) -> None:
    base = synthetic_market()
    spiked = synthetic_market()
    spiked.close.loc["2025-01-02":, "ALP.AX"] = 1e6  # prices after T must not matter
    a = _build(data, market=base)
    b = _build(data, market=spiked)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("stages", "primary", "basis"),
    [
        ("mining:0.6;separation_refining:0.4", "mining", "largest revenue share"),
        ("mining:0.5;magnet:0.5", "magnet", "tied shares: most downstream"),
        ("mining;magnet", "magnet", "no shares: most downstream"),
        ("mining:0.3;metal_alloy", "mining", "largest revenue share"),
        ("recycling;separation_refining", "recycling", "no shares: most downstream"),
    ],
)
def test_primary_stage_rule(stages: str, primary: str, basis: str) -> None:
    frame = pd.DataFrame({"company_id": ["x"], "stages": [stages]})
    out = classify_stages(frame).loc["x"]
    assert (out["primary_stage"], out["primary_basis"]) == (primary, basis)
    parsed = parse_stages(stages)
    assert out["stages"].split(";") == [s for s in STAGES if s in parsed]


def test_primary_stage_of_the_shipped_master() -> None:
    s = classify_stages(load_companies())
    assert s.loc["mp_materials", "primary_stage"] == "mining"  # 0.7 of revenue
    assert s.loc["neo_performance", "primary_stage"] == "magnet"  # no shares: most downstream


def test_market_stats_match_the_market_methods() -> None:
    """The numpy fast path agrees with Market.asof(t)'s own history_days/adtv_usd/close_usd."""
    from exchina.universe.screens import market_stats

    m = synthetic_market()
    rng = np.random.default_rng(3)
    noisy = m.close * rng.uniform(0.5, 1.5, m.close.shape)
    noisy.iloc[-40:-20, 0] = np.nan  # a gap: the last price is older than the date
    vol = m.volume * rng.uniform(0.0, 2.0, m.volume.shape)
    m = Market(noisy, vol.where(noisy.notna()), m.dividends, m.currency, m.fx, m.shares, "t")
    tickers = pd.Index([*m.tickers, "ABSENT"])
    t = m.dates[-25]
    stats = market_stats(m, t, tickers, 63)
    ref = m.asof(t)
    pd.testing.assert_series_equal(
        stats["history_days"].drop("ABSENT"), ref.history_days().astype(float), check_names=False
    )
    pd.testing.assert_series_equal(
        stats["adtv_usd"].drop("ABSENT"), ref.adtv_usd(63), check_names=False
    )
    last_usd = ref.close_usd().ffill().iloc[-1]
    pd.testing.assert_series_equal(stats["price_usd"].drop("ABSENT"), last_usd, check_names=False)
    assert stats.loc["ABSENT"].isna().all()
