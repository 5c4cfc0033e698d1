"""The optimizer: schemes against known answers and a peer library, every constraint holds,
infeasible problems name their conflict, compiled problems are re-used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchina.core.errors import InfeasibleError
from exchina.index import factor_model, optimize, parse_methodology
from exchina.index.exposures import stage_exposure
from exchina.index.optimizer import build_data, check_constraints

STAGES = ["mining", "separation_refining", "metal_alloy", "magnet", "recycling"]


def make_universe(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "name": [f"Name {i}" for i in range(n)],
            "country": rng.choice(["AU", "US", "CA", "JP"], n),
            "stages": [STAGES[i % 5] for i in range(n)],
            "primary_stage": [STAGES[i % 5] for i in range(n)],
            "commodities": np.where(np.arange(n) % 3 == 0, "rare_earths;lithium", "rare_earths"),
            "china_score": rng.uniform(0, 60, n).round(1),
            "float_mcap_usd": rng.lognormal(20, 1.5, n),
            "adtv_usd": rng.lognormal(16, 1, n),
            "eligible": True,
        },
        index=pd.Index([f"T{i:03d}" for i in range(n)], name="ticker"),
    )


def make_risk(universe: pd.DataFrame, seed: int = 0, k: int = 4):
    rng = np.random.default_rng(seed + 100)
    n = len(universe)
    market = rng.normal(0, 0.012, (400, 1))
    rets = market * rng.uniform(0.5, 1.5, n) + rng.normal(0, 0.02, (400, n)) * rng.uniform(
        0.5, 2.0, n
    )
    return factor_model(pd.DataFrame(rets, columns=universe.index), k)


def meth(scheme: str = "capped_mcap", **constraints) -> object:
    return parse_methodology(
        {"name": "t", "weighting": {"scheme": scheme}, "constraints": constraints}
    )


def test_min_variance_matches_pypfopt() -> None:
    from pypfopt import EfficientFrontier

    uni = make_universe(30)
    risk = make_risk(uni)
    cov = pd.DataFrame(risk.covariance(), index=uni.index, columns=uni.index)
    ours = optimize(uni, None, meth("min_variance", max_weight=0.15), risk=risk)
    ef = EfficientFrontier(None, cov, weight_bounds=(0, 0.15))
    peer = pd.Series(ef.min_volatility())
    peer_var = float(peer @ cov @ peer)
    assert ours.objective == pytest.approx(peer_var, abs=1e-6)
    assert ours.objective <= peer_var + 1e-9
    np.testing.assert_allclose(ours.weights.reindex(uni.index).fillna(0), peer, atol=1e-3)


def test_min_variance_matches_scipy_slsqp_with_group_bounds() -> None:
    from scipy.optimize import minimize

    uni = make_universe(25, seed=3)
    risk = make_risk(uni, seed=3)
    cov = risk.covariance()
    m = meth("min_variance", max_weight=0.2, stage_bounds={"mining": [0.4, 1.0]})
    ours = optimize(uni, None, m, risk=risk)
    mining = stage_exposure(uni)["mining"].to_numpy()
    res = minimize(
        lambda x: x @ cov @ x,
        np.full(25, 1 / 25),
        jac=lambda x: 2 * cov @ x,
        bounds=[(0, 0.2)] * 25,
        constraints=[
            {"type": "eq", "fun": lambda x: x.sum() - 1},
            {"type": "ineq", "fun": lambda x: mining @ x - 0.4},
        ],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success
    assert ours.objective == pytest.approx(res.fun, abs=1e-6)
    assert "stage_bounds.mining >= 0.4" in ours.binding


@pytest.mark.parametrize(
    "scheme", ["capped_mcap", "equal", "min_variance", "max_diversification", "risk_parity"]
)
def test_every_scheme_meets_every_constraint(scheme: str) -> None:
    uni = make_universe(45, seed=1)
    risk = make_risk(uni, seed=1)
    m = meth(
        scheme,
        max_weight=0.08,
        ucits=True,
        stage_bounds={"mining": [0.0, 0.3], "metal_alloy+magnet": [0.3, 1.0]},
        country_bounds={"US": [0.0, 0.35]},
        commodity_bounds={"lithium": [0.0, 0.25]},
        max_china_score_avg=25,
        aum_usd=1e8,
        liquidity_k=0.5,
    )
    res = optimize(uni, None, m, risk=risk)
    d = build_data(uni, m, risk=risk)
    w = res.weights.reindex(d.tickers).fillna(0).to_numpy()
    assert check_constraints(w, d, tol=1e-7) == []
    assert res.weights.sum() == pytest.approx(1, abs=1e-9)
    adtv = uni["adtv_usd"].reindex(res.weights.index)
    assert (res.weights * 1e8 <= 0.5 * adtv + 1e-6 * 1e8).all()
    assert float(uni["china_score"].reindex(res.weights.index) @ res.weights) <= 25 + 1e-6


def test_equal_weight_is_equal_when_unconstrained() -> None:
    res = optimize(make_universe(20), None, meth("equal", max_weight=0.2))
    assert res.weights.to_numpy() == pytest.approx(np.full(20, 0.05))


def test_risk_parity_equalises_risk_contributions() -> None:
    uni = make_universe(15, seed=2)
    risk = make_risk(uni, seed=2)
    res = optimize(uni, None, meth("risk_parity", max_weight=1.0), risk=risk)
    w = res.weights.reindex(uni.index).to_numpy()
    rc = w * (risk.covariance() @ w)
    assert rc.std() / rc.mean() < 1e-4


def test_max_diversification_beats_other_schemes_on_its_ratio() -> None:
    uni = make_universe(30, seed=4)
    risk = make_risk(uni, seed=4)
    md = optimize(uni, None, meth("max_diversification", max_weight=0.2), risk=risk)
    for other in ("equal", "min_variance"):
        w = optimize(uni, None, meth(other, max_weight=0.2), risk=risk).weights
        w = w.reindex(uni.index).fillna(0).to_numpy()
        ratio = risk.vol() @ w / np.sqrt(risk.variance(w))
        assert md.objective >= ratio - 1e-6


def test_tracking_with_china_budget() -> None:
    uni = make_universe(30, seed=5)
    risk = make_risk(uni, seed=5)
    parent = uni["float_mcap_usd"] / uni["float_mcap_usd"].sum()
    free = parse_methodology(
        {
            "name": "t",
            "weighting": {"scheme": "tracking", "parent": "p"},
            "constraints": {"max_weight": 1.0},
        }
    )
    res = optimize(uni, None, free, risk=risk, parent_weights=parent)
    assert res.objective == pytest.approx(0, abs=1e-8)  # no constraint: hold the parent
    parent_score = float(uni["china_score"] @ parent)
    budget = round(parent_score - 8, 1)
    tight = parse_methodology(
        {
            "name": "t",
            "weighting": {"scheme": "tracking", "parent": "p", "china_budget": budget},
            "constraints": {"max_weight": 1.0},
        }
    )
    res = optimize(uni, None, tight, risk=risk, parent_weights=parent)
    assert float(uni["china_score"].reindex(res.weights.index) @ res.weights) <= budget + 1e-6
    assert f"china_budget <= {budget:g}" in res.binding
    assert res.diagnostics["tracking_error"] > 0


def test_turnover_limit_against_current_holdings() -> None:
    uni = make_universe(30, seed=6)
    previous = pd.Series(1 / 30, index=uni.index)
    res = optimize(uni, None, meth("capped_mcap", max_weight=0.2, max_turnover=0.1), previous)
    turnover = 0.5 * (res.weights.reindex(uni.index).fillna(0) - previous).abs().sum()
    assert turnover <= 0.1 + 1e-6
    assert "max_turnover <= 0.1" in res.binding


@pytest.mark.parametrize("selection", ["auto", "milp"])
def test_name_count_limits(selection: str) -> None:
    uni = make_universe(40, seed=7)
    m = meth("capped_mcap", max_weight=0.1, max_names=15)
    res = optimize(uni, None, m, selection=selection)
    assert (res.weights > 0).sum() <= 15
    assert ("milp_selection(HIGHS)" in res.diagnostics["stages"]) == (selection == "milp")
    m = meth("min_variance", max_weight=0.5, min_names=25)
    res = optimize(uni, None, m, risk=make_risk(uni), selection=selection)
    assert (res.weights >= 1e-4 - 1e-9).sum() >= 25


def test_dpp_problem_is_compiled_once_and_reused() -> None:
    uni = make_universe(33, seed=8)
    m = meth("min_variance", max_weight=0.1)
    first = optimize(uni, None, m, risk=make_risk(uni, seed=8))
    second = optimize(uni, None, m, risk=make_risk(uni, seed=9))
    assert second.diagnostics["cache_hit"]
    assert not np.allclose(first.weights.to_numpy(), second.weights.reindex(first.weights.index))


# ------------------------------------------------------------------ infeasibility


@pytest.mark.parametrize(
    ("constraints", "needle"),
    [
        ({"max_weight": 0.02}, "per-name caps sum to 80.0%"),
        (
            {"stage_bounds": {"recycling": [0.45, 1.0]}, "max_weight": 0.05},
            "stage_bounds.recycling floor 45.0% but its 8 eligible name(s)",
        ),
        (
            {"country_bounds": {"AU": [0.6, 1.0], "US": [0.5, 1.0]}},
            "country_bounds floors sum to 110.0%",
        ),
        ({"min_names": 50}, "min_names 50 > 40 eligible"),
        ({"max_china_score_avg": 0.5}, "China-score budget 0.5"),
        ({"aum_usd": 1e10, "liquidity_k": 0.1}, "caps set by {'liquidity'"),
        ({"ucits": True, "max_weight": 0.1, "max_names": 12}, "UCITS 5/10/40 needs more than"),
    ],
)
def test_infeasible_methodologies_name_their_conflict(constraints: dict, needle: str) -> None:
    with pytest.raises(InfeasibleError) as err:
        optimize(make_universe(40), None, meth("capped_mcap", **constraints))
    assert any(needle in c for c in err.value.conflicts), err.value.conflicts


def test_solver_infeasibility_is_diagnosed() -> None:
    # each bound alone is fine; the China budget and the country floor together are not:
    # the high-score country must hold 60% but the budget forbids it
    uni = make_universe(40)
    uni["china_score"] = np.where(uni["country"] == "JP", 90.0, 0.0)
    m = meth("capped_mcap", country_bounds={"JP": [0.6, 1.0]}, max_china_score_avg=30)
    with pytest.raises(InfeasibleError) as err:
        optimize(uni, None, m)
    text = "\n".join(err.value.conflicts)
    assert "country_bounds.JP conflicts with the rest" in text
    assert "china_budget conflicts with the rest" in text


def test_ucits_is_never_dropped_for_a_small_universe() -> None:
    """10 names cannot hold UCITS 5/10/40 (16 at least): relaxing the buffer toward the legal
    rule cannot help, so the rebalance fails naming UCITS instead of dropping the rule."""
    uni = make_universe(10)
    with pytest.raises(InfeasibleError, match="UCITS"):
        optimize(uni, None, meth("capped_mcap", ucits=True))
    relaxable = meth("capped_mcap", ucits=True, relax=[{"rule": "rule_buffer", "limit": 0.1}])
    with pytest.raises(InfeasibleError) as err:
        optimize(uni, None, relaxable)
    assert "still infeasible with every allowed relaxation" in str(err.value)
    assert any("UCITS" in c for c in err.value.conflicts)


def test_basis_names_missing_or_non_positive_market_caps():
    """The market-cap basis refuses a missing, zero or non-numeric cap of an eligible name (and
    names it), ignores one of a name outside the universe, and reads numbers stored as text."""
    from exchina.core.errors import MissingDataError

    m = parse_methodology({"name": "t", "weighting": {"scheme": "capped_mcap"}})
    for bad in (np.nan, 0.0, -1.0):
        uni = make_universe(10)
        uni.loc["T003", "float_mcap_usd"] = bad
        with pytest.raises(MissingDataError, match=r"\['T003'\]"):
            build_data(uni, m)
        uni.loc["T003", "eligible"] = False
        assert build_data(uni, m).basis.sum() == pytest.approx(1.0)
    uni = make_universe(10)
    as_float = build_data(uni, m).basis
    uni["float_mcap_usd"] = uni["float_mcap_usd"].map(repr).astype(object)
    np.testing.assert_array_equal(build_data(uni, m).basis, as_float)
    uni.loc["T005", "float_mcap_usd"] = "n/a"
    with pytest.raises(MissingDataError, match=r"\['T005'\]"):
        build_data(uni, m)
