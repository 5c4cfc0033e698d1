"""Iterative capping: a hand-worked example, UCITS/RIC on random universes, agreement with the
optimizer where both apply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchina.core.errors import InfeasibleError
from exchina.index import RIC, UCITS, cap_weights, optimize, parse_methodology


def test_hand_worked_capping_example() -> None:
    # basis 50/20/10/8/6/3/2/1, cap 25%:
    # pass 1: A capped at 25%; the other 50% scale by 1.5 -> B 30% breaches
    # pass 2: A, B at 25%; the other 30% scale to 50% (x 5/3): C 16.67, D 13.33, E 10, ...
    basis = pd.Series([50, 20, 10, 8, 6, 3, 2, 1.0], index=list("ABCDEFGH"))
    w = cap_weights(basis, 0.25)
    expected = [0.25, 0.25, 1 / 6, 0.8 / 6, 0.1, 0.05, 0.2 / 6, 0.1 / 6]
    np.testing.assert_allclose(w.to_numpy(), expected, atol=1e-12)


def test_hand_worked_ucits_example() -> None:
    # 20 names: five large (20% each of basis before capping) then small ones.
    basis = pd.Series([20.0] * 5 + [1.0] * 15, index=[f"N{i}" for i in range(20)])
    w = cap_weights(basis, 0.10, rule=UCITS)
    # buffered targets: 9% cap, names above 4.5% sum to at most 36% -> four names at 9%,
    # the fifth demoted to 4.5%, the remaining 59.5% over 15 equal names (3.967% each)
    assert w.iloc[:4].tolist() == pytest.approx([0.09] * 4)
    assert w.iloc[4] == pytest.approx(0.045)
    assert w.iloc[5:].to_numpy() == pytest.approx(np.full(15, 0.595 / 15))
    assert UCITS.violations(w) == []


def test_caps_that_cannot_sum_to_one_are_named() -> None:
    with pytest.raises(InfeasibleError, match="caps"):
        cap_weights(pd.Series([1.0] * 9), 0.10)
    with pytest.raises(InfeasibleError, match="UCITS"):
        cap_weights(pd.Series(np.arange(1.0, 13.0)), 0.10, rule=UCITS)


bases = st.integers(min_value=20, max_value=80).flatmap(
    lambda n: st.lists(
        st.floats(min_value=1e6, max_value=1e12, allow_nan=False), min_size=n, max_size=n
    )
)


@settings(max_examples=60, deadline=None)
@given(values=bases)
def test_ucits_rule_holds_on_random_universes(values: list[float]) -> None:
    w = cap_weights(pd.Series(values), 0.10, rule=UCITS)
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert (w >= 0).all()
    assert UCITS.violations(w, tol=1e-9) == []
    assert UCITS.buffered(0.9).violations(w, tol=1e-9) == []


@settings(max_examples=60, deadline=None)
@given(values=bases)
def test_ric_rule_holds_on_random_universes(values: list[float]) -> None:
    w = cap_weights(pd.Series(values), 0.30, rule=RIC)
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert RIC.violations(w, tol=1e-9) == []


def _frame(values: list[float]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "name": [f"N{i}" for i in range(n)],
            "country": "AU",
            "stages": "mining",
            "commodities": "rare_earths",
            "china_score": 10.0,
            "float_mcap_usd": values,
            "adtv_usd": 1e7,
            "eligible": True,
        },
        index=[f"T{i:03d}" for i in range(n)],
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=bases,
    rule=st.sampled_from(["ucits", "ric"]),
    selection=st.sampled_from(["auto", "milp"]),
)
def test_optimizer_meets_ucits_and_ric_exactly(
    values: list[float], rule: str, selection: str
) -> None:
    m = parse_methodology(
        {"name": "t", "constraints": {"max_weight": 0.3 if rule == "ric" else 0.1, rule: True}}
    )
    w = optimize(_frame(values), None, m, selection=selection).weights
    assert w.sum() == pytest.approx(1.0, abs=1e-6)
    assert (UCITS if rule == "ucits" else RIC).violations(w) == []


@pytest.mark.parametrize("seed", range(5))
def test_capping_agrees_with_the_optimizer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(20, 2, 40)
    m = parse_methodology({"name": "t", "constraints": {"max_weight": 0.07}})
    fast = cap_weights(pd.Series(values, index=_frame(list(values)).index), 0.07)
    slow = optimize(_frame(list(values)), None, m).weights
    np.testing.assert_allclose(fast.to_numpy(), slow.reindex(fast.index).to_numpy(), atol=1e-7)
