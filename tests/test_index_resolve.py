"""The Clarabel re-solve of a compiled problem (exchina.index.resolve) gives cvxpy's answers bit
for bit, solve after solve, and declines problems it cannot reproduce."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from exchina.index.resolve import Resolver

N, K = 12, 3


def _problem() -> tuple[cp.Problem, cp.Variable, dict[str, cp.Parameter]]:
    """The optimizer's shape of problem: scaled least squares to a target, a budget, bounds, and
    parametric group rows (a Parameter matrix times the weights)."""
    w = cp.Variable(N, name="w")
    p = {
        "s": cp.Parameter(N, nonneg=True),
        "c": cp.Parameter(N),
        "ub": cp.Parameter(N, nonneg=True),
        "A": cp.Parameter((K, N)),
        "hi": cp.Parameter(K),
    }
    cons = [cp.sum(w) == 1, w >= 0, w <= p["ub"], p["A"] @ w <= p["hi"]]
    objective = cp.Minimize(cp.sum_squares(cp.multiply(p["s"], w) - p["c"]))
    return cp.Problem(objective, cons), w, p


def _values(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "s": rng.uniform(0.5, 2.0, N),
        "c": rng.uniform(0.0, 0.3, N),
        "ub": rng.uniform(0.15, 0.4, N),
        "A": rng.uniform(0.0, 1.0, (K, N)),
        "hi": rng.uniform(0.5, 0.9, K),
    }


def test_same_answers_as_cvxpy_solve_after_solve() -> None:
    """Two copies of one problem see the same 30 parameter sets: one always solved by cvxpy,
    the other by the resolver after its first cvxpy solve, given the values by name (its
    Parameters are not set). Weights, status and objective agree exactly (Clarabel's solver is
    updated in place between solves, as cvxpy does it)."""
    ref, w_ref, p_ref = _problem()
    fast, w_fast, p_fast = _problem()
    rng = np.random.default_rng(7)
    resolver = None
    for i in range(30):
        vals = _values(rng)
        for k, v in vals.items():
            p_ref[k].value = v
        ref.solve(solver="CLARABEL")
        if i == 0:
            for k, v in vals.items():
                p_fast[k].value = v
            fast.solve(solver="CLARABEL")
            resolver = Resolver.of(fast, w_fast)
            assert resolver is not None
            continue
        assert resolver is not None
        x, status, value = resolver.solve({p_fast[k].name(): v for k, v in vals.items()})
        assert status == ref.status == "optimal"
        assert x is not None and w_ref.value is not None
        assert np.array_equal(x, w_ref.value)
        assert value == ref.value
        assert abs(x.sum() - 1) < 1e-8 and (x >= -1e-8).all()


def test_infeasible_reported_without_weights() -> None:
    prob, w, p = _problem()
    rng = np.random.default_rng(3)
    for k, v in _values(rng).items():
        p[k].value = v
    prob.solve(solver="CLARABEL")
    resolver = Resolver.of(prob, w)
    assert resolver is not None
    values = {q.name(): q.value for q in p.values()}
    values[p["ub"].name()] = np.full(N, 0.01)  # twelve names at 1% cannot sum to 1
    x, status, value = resolver.solve(values)
    assert x is None and status.startswith("infeasible") and np.isnan(value)


@pytest.mark.parametrize("case", ["other_solver", "not_solved", "foreign_variable"])
def test_declines_what_it_cannot_reproduce(case: str) -> None:
    prob, w, p = _problem()
    for k, v in _values(np.random.default_rng(1)).items():
        p[k].value = v
    if case == "other_solver":
        prob.solve(solver="SCS")
    elif case == "foreign_variable":
        prob.solve(solver="CLARABEL")
        w = cp.Variable(N)
    assert Resolver.of(prob, w) is None
