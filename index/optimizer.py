"""Index weights under constraints with cvxpy: one compiled problem per structure, re-solved.

How it works:

1. ``build_data`` turns the eligible universe and the methodology into arrays: per-name bounds
   (cap = min(max_weight, UCITS/RIC buffered cap, liquidity capacity k x ADTV / AUM)), group
   exposure rows with bounds, the China-score budget, the turnover budget.
2. ``feasibility_conflicts`` runs cheap checks that name a conflict before any solve.
3. The convex problem (objective of the scheme + every convex constraint) is built once per
   (scheme, n, structure) with cvxpy Parameters (DPP) and cached; later dates only set values.
   Risk is ``sum_squares(F' w) + sum_squares(d * w)`` (``exchina.index.risk``), objectives are
   scaled to order one, Clarabel solves it.
4. UCITS 5/10/40, RIC 25/5/50 and a min/max number of names are not convex. When the convex
   solution already meets them nothing more is done. Otherwise a selection is made -- which
   names are held, and which may sit above the rule's threshold -- and the convex problem is
   re-solved with it fixed (names not held capped at 0, names not "big" capped at the
   threshold, the big names' sum limited): a convex restriction of the rule, so the result
   meets the rule exactly (property-tested). The selection is first the provider approach
   (largest names kept big while they fit the limit; largest names held); when that re-solve
   is infeasible, or with ``selection="milp"``, a mixed-integer LP (HiGHS) encoding the rules
   exactly with binaries picks the selection closest in L1 to the convex solution. The weights
   given a selection are optimal; the selection itself is a heuristic for quadratic objectives.
5. Every constraint is checked on the cleaned weights (tolerance 1e-6); a violation raises.
   An infeasible solve names the constraint families whose removal restores feasibility.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd
from cvxpy.error import SolverError

from exchina.core.errors import InfeasibleError, InputError, MissingDataError
from exchina.core.market import Market
from exchina.core.quiet import silence_solver_banner
from exchina.index.capping import ConcentrationRule
from exchina.index.constraints import HOLD_MIN, TOL, ZERO, Bounds, Parts, build_parts
from exchina.index.methodology import Methodology
from exchina.index.relaxation import (
    Relaxation,
    describe,
    relaxed_methodology,
    smallest_amounts,
)
from exchina.index.resolve import Resolver, set_value
from exchina.index.risk import RiskModel, market_risk_model
from exchina.index.schemes import Scheme
from exchina.index.schemes import scheme as get_scheme

SELECT_DECIMALS = 7  # weights are compared to 1e-7 when names are ranked for selection
TIE_BREAK = 1e-5  # weight of the rank preference among equally good MILP selections
ROOM = (0.0, 1e-5, 1e-3, 1e-2)  # extra room (x limit) when the exact amounts are too tight


@dataclass(frozen=True)
class WeightsResult:
    """Optimised weights and how they came about."""

    weights: pd.Series
    basis: pd.Series
    status: str
    solver: str
    objective: float
    binding: list[str]
    diagnostics: dict[str, Any] = field(default_factory=dict)
    relaxations: list[Relaxation] = field(default_factory=list)  # rules that gave way, by name


@dataclass
class ProblemData:
    """Everything a solve needs: the constraint parts (``exchina.index.constraints``), the
    per-name bounds they set, and the weighting scheme's inputs, aligned to ``tickers``."""

    parts: Parts
    bounds: Bounds
    scheme: str
    basis: np.ndarray
    risk: RiskModel | None
    target: np.ndarray | None  # parent weights for tracking
    distance: str = "relative"
    notes: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None  # the universe rows the arrays are aligned to
    previous: pd.Series | None = None  # holdings before the rebalance (turnover)

    @property
    def weighting(self) -> Scheme:
        """The weighting scheme's objective and basis (``exchina.index.schemes``)."""
        return get_scheme(self.scheme)

    @property
    def tickers(self) -> list[str]:
        return self.bounds.tickers

    @property
    def ub(self) -> np.ndarray:
        return self.bounds.ub

    @property
    def lb(self) -> np.ndarray:
        return self.bounds.lb

    @property
    def in_universe(self) -> np.ndarray:
        return self.bounds.in_universe

    @property
    def rules(self) -> list[ConcentrationRule]:
        return self.parts.rules

    @property
    def min_names(self) -> int | None:
        return self.parts.names.min_names if self.parts.names is not None else None

    @property
    def max_names(self) -> int | None:
        return self.parts.names.max_names if self.parts.names is not None else None


# ----------------------------------------------------------------------------- data


def _eligible(universe: pd.DataFrame) -> pd.DataFrame:
    """The eligible rows in ticker order (one positional take: the frame is wide)."""
    pos = np.arange(len(universe))
    if "eligible" in universe.columns:
        pos = np.flatnonzero(universe["eligible"].astype(bool).to_numpy())
    return universe.iloc[pos[np.argsort(universe.index.to_numpy()[pos], kind="stable")]]


def build_data(
    universe: pd.DataFrame,
    methodology: Methodology,
    *,
    market: Market | None = None,
    previous_weights: pd.Series | None = None,
    risk: RiskModel | None = None,
    parent_weights: pd.Series | None = None,
) -> ProblemData:
    """Arrays for one solve from the universe frame (contract of ``build_universe``)."""
    m = methodology
    scheme = m.weighting.scheme
    weighting = get_scheme(scheme)
    eligible = _eligible(universe)
    frame = eligible
    if weighting.tracks_parent:
        if parent_weights is None:
            raise InputError(
                "scheme 'tracking' needs the parent's weights", field="weighting.parent"
            )
        extra = [t for t in parent_weights.index if t not in frame.index and t in universe.index]
        frame = pd.concat([frame, universe.loc[extra]]).sort_index()
    tickers = frame.index.astype(str).tolist()
    in_universe = (
        np.ones(len(frame), dtype=bool)
        if frame is eligible
        else np.asarray(frame.index.isin(eligible.index))
    )

    basis = weighting.basis(frame, in_universe, parent_weights)
    basis = basis / basis.sum() if basis.sum() > 0 else basis

    notes: list[str] = []
    parts, bounds = build_parts(m, frame, in_universe, previous_weights, notes)

    if weighting.needs_risk:
        if risk is None:
            if market is None:
                raise MissingDataError(f"scheme {scheme!r} needs a market or a risk model")
            risk = market_risk_model(
                market, tickers, m.weighting.lookback_days, m.weighting.n_factors
            )
        else:
            risk = risk.subset(tickers)
    else:
        risk = None  # weighting without a risk model

    return ProblemData(
        parts=parts,
        bounds=bounds,
        scheme=scheme,
        basis=basis,
        risk=risk,
        target=basis if weighting.tracks_parent else None,
        distance=m.weighting.distance,
        notes=notes,
        frame=frame,
        previous=previous_weights,
    )


# ------------------------------------------------------------------ feasibility checks


def feasibility_conflicts(d: ProblemData) -> list[str]:
    """Cheap checks before solving; each message names a conflict and what would relax it."""
    return d.parts.conflicts(d.bounds)


# --------------------------------------------------------------------- the convex problem


def _constraints(
    w: cp.Expression, kappa: Any, p: dict[str, Any], d: ProblemData, drop: frozenset[str]
) -> list[tuple[str, cp.Constraint]]:
    """Named convex constraints on ``w`` (homogeneous in ``kappa``: 1, or sum(y) for the
    schemes solved in scaled variables). ``p`` holds Parameters or plain arrays."""
    return d.parts.expressions(w, kappa, p, drop)


def _param_values(d: ProblemData, ub: np.ndarray, lb: np.ndarray, masks: np.ndarray) -> dict:
    """Numeric values for every parameter of the problem (constraints, then the scheme's)."""
    vals: dict[str, Any] = d.parts.values(replace(d.bounds, ub=ub, lb=lb), masks)
    return vals | d.weighting.values(d, ub)


def _shapes(d: ProblemData) -> dict[str, tuple]:
    n, k = len(d.tickers), (d.risk.F.shape[1] if d.risk is not None else 0)
    return d.parts.shapes(n) | d.weighting.shapes(n, k)


def _structure_key(d: ProblemData) -> tuple:
    return (
        d.scheme,
        d.distance,
        len(d.tickers),
        d.risk.F.shape[1] if d.risk is not None else 0,
        d.parts.structure(),
    )


@dataclass
class _Compiled:
    problem: cp.Problem
    params: dict[str, cp.Parameter]
    w: cp.Variable
    named: list[tuple[str, cp.Constraint]]
    checked: bool = False  # solved once by cvxpy, ``fast`` tried on that solve
    fast: Resolver | None = None  # re-solves without cvxpy's per-solve overhead


def _build(d: ProblemData, p: dict[str, Any], drop: frozenset[str] = frozenset()) -> _Compiled:
    n = len(d.tickers)
    if d.weighting.homogeneous:
        y = cp.Variable(n, nonneg=True, name="y")
        kappa = cp.sum(y)
        named = _constraints(y, kappa, p, d, drop)
        cons = [c for _, c in named] + d.weighting.constraints(y, p)
        problem = cp.Problem(cp.Minimize(d.weighting.objective(y, p)), cons)
        return _Compiled(problem, p, y, named)
    w = cp.Variable(n, name="w")
    named = [("budget", cp.sum(w) == 1), *_constraints(w, 1.0, p, d, drop)]
    problem = cp.Problem(cp.Minimize(d.weighting.objective(w, p)), [c for _, c in named])
    return _Compiled(problem, p, w, named)


_CACHE: OrderedDict[tuple, _Compiled] = OrderedDict()
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def _compiled(d: ProblemData) -> tuple[_Compiled, bool]:
    """The cached problem for this structure (and whether it was a cache hit)."""
    key = _structure_key(d)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key], True
    nonneg = {"ub", "lb", "s", "c", "d", "sigma", "rb", "mask", "climit", "dp", "tbudget"}
    params = {k: cp.Parameter(shape, name=k, nonneg=k in nonneg) for k, shape in _shapes(d).items()}
    comp = _build(d, params)
    assert comp.problem.is_dpp(), f"problem for {key} is not DPP"
    _CACHE[key] = comp
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return comp, False


def clear_cache() -> None:
    """Forget compiled problems (for benchmarks of fresh solves)."""
    with _LOCK:
        _CACHE.clear()


def _solve_convex(
    d: ProblemData, ub: np.ndarray, lb: np.ndarray, masks: np.ndarray, solver: str
) -> tuple[np.ndarray | None, str, float, bool]:
    vals = _param_values(d, ub, lb, masks)
    with _LOCK:
        comp, hit = _compiled(d)
        if comp.fast is not None and solver == "CLARABEL":
            x, status, value = comp.fast.solve(vals)
        else:
            for k, v in vals.items():
                set_value(comp.params[k], v)
            try:
                comp.problem.solve(solver=solver)
            except SolverError:
                return None, "solver_error", float("nan"), hit
            status, value = comp.problem.status, comp.problem.value
            x = None if comp.w.value is None else np.asarray(comp.w.value, dtype=float).copy()
            if not comp.checked and solver == "CLARABEL" and x is not None:
                comp.fast, comp.checked = Resolver.of(comp.problem, comp.w), True
    if x is not None and d.weighting.homogeneous:
        x = x / x.sum() if x.sum() > 0 else None
    objective = float(value) if isinstance(value, int | float | np.floating) else float("nan")
    return x, status, objective, hit


# ------------------------------------------------------------------ mixed-integer selection


def _needs_selection(d: ProblemData, w: np.ndarray) -> bool:
    held = int((w >= HOLD_MIN).sum())
    if d.max_names is not None and int((w > ZERO).sum()) > d.max_names:
        return True
    if d.min_names is not None and held < d.min_names:
        return True
    return any(r.violations(w, tol=1e-9) for r in d.rules)


def _select_greedy(d: ProblemData, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The provider approach from the convex solution ``x``: hold the largest names (up to
    max_names, at least min_names at the holding floor); per rule, keep the largest names above
    the threshold while they fit in the limit, cap the rest at the threshold."""
    n = len(x)
    # rank on weights rounded past solver noise, ties broken by basis weight then ticker: a
    # fresh compile and a cached re-solve differ in the last digits, and names sitting at a
    # cap must not swap places on that noise (same inputs, same selection)
    x = np.round(x, SELECT_DECIMALS)
    order = np.lexsort((np.asarray(d.tickers, dtype=str), -np.asarray(d.basis, float), -x))
    ub, lb = d.ub.copy(), d.lb.copy()
    if d.max_names is not None or d.min_names is not None:
        held = np.zeros(n, dtype=bool)
        held[order[: d.max_names if d.max_names is not None else n]] = True
        floor = np.where(held, d.lb, 0.0)
        if d.min_names is not None:
            must = np.zeros(n, dtype=bool)
            must[order[: d.min_names]] = True
            floor = np.where(must, np.maximum(floor, HOLD_MIN), floor)
        ub, lb = np.where(held, ub, 0.0), floor
    masks = np.zeros((len(d.rules), n))
    for k, r in enumerate(d.rules):
        total = 0.0
        for i in order:
            if x[i] <= r.threshold or ub[i] <= r.threshold:
                break
            if total + min(x[i], r.cap) > r.limit + 1e-12:
                break
            masks[k, i] = 1.0
            total += min(x[i], r.cap)
        ub = np.where(masks[k] > 0, ub, np.minimum(ub, r.threshold))
    return ub, np.minimum(lb, ub), masks


def _select(d: ProblemData, w_relaxed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MILP (HiGHS): held names and, per rule, the names allowed above its threshold.

    Returns per-name (ub, lb) and the rules' big-name masks for the convex re-solve."""
    n = len(d.tickers)
    # HiGHS is deterministic for identical input; a fresh compile and a cached re-solve give
    # relaxed weights that differ in the 17th digit, so round them first
    w_relaxed = np.round(w_relaxed, SELECT_DECIMALS)
    w = cp.Variable(n)
    p = _param_values(d, d.ub, d.lb, np.zeros((len(d.rules), n)))
    named = [
        ("budget", cp.sum(w) == 1),
        *_constraints(w, 1.0, p, d, frozenset({"caps", "min_weight", *(r.name for r in d.rules)})),
    ]
    cons = [c for _, c in named]
    names = d.min_names is not None or d.max_names is not None
    if names:
        z = cp.Variable(n, boolean=True)
        floor = np.maximum(d.lb, HOLD_MIN)
        cons += [w <= cp.multiply(d.ub, z), w >= cp.multiply(floor, z)]
        if d.min_names is not None:
            cons.append(cp.sum(z) >= d.min_names)
        if d.max_names is not None:
            cons.append(cp.sum(z) <= d.max_names)
    else:
        cons += [w <= d.ub, w >= d.lb]
    bigs = []
    for r in d.rules:
        b = cp.Variable(n, boolean=True)
        u = cp.Variable(n, nonneg=True)
        # u: w for a big name, at most 0 otherwise (w - threshold, not w - cap: the same
        # integer solutions with a tight LP bound, see exchina.index.relaxation)
        cons += [w <= r.threshold + (r.cap - r.threshold) * b, u >= w - r.threshold * (1 - b)]
        cons.append(cp.sum(u) <= r.limit)
        bigs.append(b)
    # equally good selections are common (names at the same cap): a tiny preference for the
    # higher-ranked name (relaxed weight, then basis, then ticker) makes the choice unique, and
    # a zero MIP gap makes HiGHS prove it, so the same inputs always select the same names
    rank = np.lexsort((np.asarray(d.tickers, dtype=str), -np.asarray(d.basis, float), -w_relaxed))
    priority = np.empty(n)
    priority[rank] = np.arange(n, 0, -1) / n
    tie = sum(cp.sum(cp.multiply(priority, b)) for b in bigs) if bigs else 0
    if names:
        tie = tie + cp.sum(cp.multiply(priority, z))
    prob = cp.Problem(cp.Minimize(cp.sum(cp.abs(w - w_relaxed)) - TIE_BREAK * tie), cons)
    try:
        silence_solver_banner()
        prob.solve(solver="HIGHS", mip_rel_gap=0.0, mip_abs_gap=0.0, threads=1)
    except SolverError:
        prob = None
    if prob is None or prob.status not in ("optimal", "optimal_inaccurate") or w.value is None:
        raise InfeasibleError(
            "no selection of names meets the name count and concentration rules together with "
            "the other constraints",
            [r.name for r in d.rules] + (["min_names/max_names"] if names else []),
        )
    ub, lb = d.ub.copy(), d.lb.copy()
    if names:
        held = np.asarray(z.value) > 0.5
        ub = np.where(held, ub, 0.0)
        lb = np.where(held, np.maximum(d.lb, HOLD_MIN), 0.0)
    masks = np.zeros((len(d.rules), n))
    for k, (r, b) in enumerate(zip(d.rules, bigs, strict=True)):
        big = np.asarray(b.value) > 0.5
        masks[k] = big.astype(float)
        ub = np.where(big, ub, np.minimum(ub, r.threshold))
    return ub, np.minimum(lb, ub), masks


# ------------------------------------------------------------------------------ checks


def check_constraints(w: np.ndarray, d: ProblemData, tol: float = TOL) -> list[str]:
    """Every hard constraint evaluated on final weights; returns the violations."""
    return d.parts.violations(w, d.bounds, tol)


def binding_constraints(w: np.ndarray, d: ProblemData, tol: float = TOL) -> list[str]:
    """Constraints at their bound (slack below ``tol``), by name."""
    return d.parts.binding(w, d.bounds, tol)


def diagnose_infeasible(d: ProblemData) -> list[str]:
    """Which constraint families, dropped alone, make the problem feasible."""
    families = d.parts.families()
    p = _param_values(d, d.ub, d.lb, np.zeros((len(d.rules), len(d.tickers))))
    fixers = []
    for fam in dict.fromkeys(families):
        w = cp.Variable(len(d.tickers))
        named = [("budget", cp.sum(w) == 1), *_constraints(w, 1.0, p, d, frozenset({fam}))]
        prob = cp.Problem(cp.Minimize(0), [c for _, c in named])
        try:
            silence_solver_banner()
            prob.solve(solver="HIGHS")
        except SolverError:
            continue
        if prob.status == "optimal":
            fixers.append(f"{fam} conflicts with the rest: relaxing it makes the problem feasible")
    return fixers or ["no single constraint family explains it; relax several bounds together"]


# ------------------------------------------------------------------------------ optimize


def _clean(x: np.ndarray) -> np.ndarray:
    w = np.where(x < ZERO, 0.0, x)
    return w / w.sum()


def solve(d: ProblemData, solver: str = "CLARABEL", selection: str = "auto") -> WeightsResult:
    """Solve prepared data (see ``optimize``); ``InfeasibleError`` names the conflicts."""
    return _solve(d, solver, selection)


def _solve(
    d: ProblemData,
    solver: str,
    selection: str,
    *,
    diagnose: bool = True,
) -> WeightsResult:
    conflicts = feasibility_conflicts(d)
    if conflicts:
        raise InfeasibleError("the constraints cannot all hold (checked before solving)", conflicts)
    n_rules = len(d.rules)
    masks0 = np.zeros((n_rules, len(d.tickers)))
    x, status, value, hit = _solve_convex(d, d.ub, d.lb, masks0, solver)
    if x is None or status not in ("optimal", "optimal_inaccurate"):
        raise InfeasibleError(
            f"the solver found no weights (status {status})",
            diagnose_infeasible(d) if diagnose else [],
        )
    stages = ["convex"]
    if _needs_selection(d, x):
        x_relaxed, done = x, False
        if selection == "auto":
            ub, lb, masks = _select_greedy(d, x_relaxed)
            x, status, value, _ = _solve_convex(d, ub, lb, masks, solver)
            ok = x is not None and status in ("optimal", "optimal_inaccurate")
            done = x is not None and ok and not check_constraints(_clean(x), d)
            stages += ["greedy_selection", "convex_fixed_selection"]
        if not done:
            ub, lb, masks = _select(d, x_relaxed)
            x, status, value, _ = _solve_convex(d, ub, lb, masks, solver)
            stages += ["milp_selection(HIGHS)", "convex_fixed_selection"]
            if x is None or status not in ("optimal", "optimal_inaccurate"):
                raise InfeasibleError(
                    f"re-solve with the selected names failed (status {status})",
                    diagnose_infeasible(d) if diagnose else [],
                )
    warn = []
    if status == "optimal_inaccurate":
        warn.append(f"{solver} returned optimal_inaccurate")
        warnings.warn(warn[-1], RuntimeWarning, stacklevel=2)
    assert x is not None  # every path above either solved or raised
    w = _clean(x)
    violations = check_constraints(w, d)
    if violations:
        raise InfeasibleError("the solved weights break a hard constraint", violations)
    # names outside the eligible set (tracking's parent-only names) hold zero: dropped (taken
    # from the arrays: boolean indexing of Series costs more than the rest of the assembly)
    keep = d.ub > 0
    tickers = np.asarray(d.tickers, dtype=object)
    index = pd.Index(tickers[keep], name="ticker")
    weights = pd.Series(w[keep], index=index, name="weight")
    diag: dict[str, Any] = {
        "stages": stages,
        "cache_hit": hit,
        "n_names": len(d.tickers),
        "n_held": int((w > 0).sum()),
        "warnings": warn + d.notes,
        "objective_scaled": value,
    }
    objective = d.weighting.report(w, d, diag, value)
    basis = (
        pd.Series(d.basis, index=pd.Index(tickers, name="ticker"), name="basis")
        if d.weighting.tracks_parent
        else pd.Series(d.basis[keep], index=index, name="basis")
    )
    return WeightsResult(
        weights=weights,
        basis=basis,
        status=status,
        solver=solver + (" + HIGHS" if any("HIGHS" in s for s in stages) else ""),
        objective=float(objective),
        binding=binding_constraints(w, d),
        diagnostics=diag,
    )


def optimize(
    universe_frame: pd.DataFrame,
    market: Market | None,
    methodology: Methodology,
    previous_weights: pd.Series | None = None,
    *,
    risk: RiskModel | None = None,
    parent_weights: pd.Series | None = None,
    solver: str = "CLARABEL",
    selection: str = "auto",
) -> WeightsResult:
    """Weights for the eligible rows of ``universe_frame`` under the methodology.

    ``market`` (already cut at the selection date) feeds the risk model of risk-based schemes
    unless ``risk`` is given; ``previous_weights`` feeds the turnover limit; ``parent_weights``
    is the parent index for scheme ``tracking``. ``selection`` for the non-convex rules (UCITS,
    RIC, name counts): ``auto`` tries the provider approach first and falls back to the
    mixed-integer selection (HiGHS); ``milp`` always uses the latter. Raises ``InfeasibleError``
    naming conflicts.
    """
    d = build_data(
        universe_frame,
        methodology,
        market=market,
        previous_weights=previous_weights,
        risk=risk,
        parent_weights=parent_weights,
    )
    if selection not in ("auto", "milp"):
        raise InputError(f"selection must be 'auto' or 'milp', got {selection!r}")
    if not methodology.constraints.relax:
        return solve(d, solver=solver, selection=selection)
    # the exact amounts first: when they are not all zero no selection can meet the strict
    # rules, so the strict solve is not tried (it would fail after two convex solves)
    exact = smallest_amounts(methodology, d.parts, d.bounds)
    if exact is not None and not any(a > 0 for a in exact.values()):
        try:  # the conflicts are diagnosed only if no allowed relaxation helps
            return _solve(d, solver, selection, diagnose=False)
        except InfeasibleError:
            pass
    return _relaxed(d, methodology, solver, selection, exact)


def _with_constraints(d: ProblemData, m: Methodology) -> ProblemData:
    """``d`` with the constraints of ``m`` (same universe, basis and risk model)."""
    assert d.frame is not None
    notes: list[str] = []
    parts, bounds = build_parts(
        m, d.frame, d.in_universe, d.previous, notes, groups_like=d.parts.groups
    )
    return replace(d, parts=parts, bounds=bounds, notes=notes)


def _relaxed(
    d: ProblemData,
    methodology: Methodology,
    solver: str,
    selection: str,
    exact: dict[str, float] | None,
) -> WeightsResult:
    """The solve with the methodology's allowed relaxations, in order and each as small as
    possible (``exact``, from ``exchina.index.relaxation.smallest_amounts``); ``InfeasibleError``
    naming the conflicts of the strict problem when even every relaxation at its limit is
    infeasible."""
    found = None
    if exact is not None:
        # the amounts are exact up to the solvers' tolerances: when the weights cannot be found
        # right at them, the relaxed families get a little more room (never past their limits)
        limits = {r.rule: r.limit for r in methodology.constraints.relax}
        for room in ROOM:
            trial = {
                k: min(a + room * limits[k], limits[k]) if a > 0 else a for k, a in exact.items()
            }
            try:
                variant = _with_constraints(d, relaxed_methodology(methodology, trial))
                found = _solve(variant, solver, selection, diagnose=False), trial, variant
                break
            except InfeasibleError:
                continue
    if found is None:
        allowed = ", ".join(f"{r.rule} by {r.limit:g}" for r in methodology.constraints.relax)
        try:
            solve(d, solver=solver, selection=selection)  # raises, naming the conflicts
        except InfeasibleError as exc:
            raise InfeasibleError(
                f"{str(exc).splitlines()[0]}; still infeasible with every allowed relaxation "
                f"at its limit ({allowed})",
                exc.conflicts,
            ) from None
        raise InfeasibleError(f"infeasible with every allowed relaxation at its limit ({allowed})")
    result, amounts, variant = found
    # the result holds the variant's names with a cap above zero (same tickers as ``d``)
    w = np.zeros(len(d.tickers))
    w[variant.ub > 0] = result.weights.to_numpy(float)
    relaxed = describe(methodology, amounts, check_constraints(w, d))
    notes = [r.text() for r in relaxed]
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    diag = {**result.diagnostics}
    diag["warnings"] = [*diag.get("warnings", []), *notes]
    diag["stages"] = [*diag.get("stages", []), "relaxed"]
    return replace(result, relaxations=relaxed, diagnostics=diag)
