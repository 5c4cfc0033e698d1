"""Rules kept, or relaxed by name, when they cannot all hold.

A methodology says what happens when its constraints have no solution. By default nothing is
relaxed: the rebalance fails with ``InfeasibleError`` (exit 3) naming the conflict. Otherwise
``[[constraints.relax]]`` lists rule families in the order they may give way, each with a limit
(``RELAXABLE`` gives the unit of each). The solve then relaxes as little as possible, in that
order: the first family is relaxed by the smallest amount at which the problem is feasible with
the later families at their limits, that amount is fixed, then the second family, and so on; no
family is ever dropped. The amounts are exact (``smallest_amounts``: one mixed-integer LP per
family with a slack variable, rounded up to ``AMOUNT_GRID``), and depend only on the data and
the rules, never on what the process solved before. Every relaxation is a result
(``Relaxation``: rule, amount, limit, the breaches of the strict rules and the names they
concern) shown by the CLI, ``report.json``, the backtest's weights and metrics, and the app.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from exchina.core.errors import ExchinaError
from exchina.core.quiet import silence_solver_banner
from exchina.index.constraints import HOLD_MIN, Bounds, Parts

if TYPE_CHECKING:
    from exchina.index.methodology import Methodology

# family -> (what an amount means, the methodology fields it moves)
RELAXABLE: dict[str, str] = {
    "rule_buffer": "UCITS/RIC buffered targets move toward the legal rule: rule_buffer + amount "
    "(never above 1, the legal rule itself)",
    "liquidity": "liquidity capacity: liquidity_k + amount",
    "group_bounds": "every stage, country and commodity floor lowered and cap raised by amount "
    "(weight, 0.05 = 5 points)",
    "china_budget": "weighted China-score budget raised by amount (score points)",
    "turnover": "max_turnover raised by amount",
    "max_weight": "single-name cap raised by amount (weight)",
}


@dataclass(frozen=True)
class Relaxation:
    """One rule family that gave way at a rebalance, by how much, and what it let through."""

    rule: str
    amount: float
    limit: float
    breaches: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "amount": self.amount,
            "limit": self.limit,
            "breaches": list(self.breaches),
            "names": list(self.names),
        }

    def text(self) -> str:
        what = f"relaxed {self.rule} by {self.amount:.4g} (limit {self.limit:g})"
        return what + (f": {'; '.join(self.breaches)}" if self.breaches else "")


def _clamp(lo: float, hi: float, x: float) -> float:
    return min(max(x, lo), hi)


def relaxed_methodology(m: Methodology, amounts: dict[str, float]) -> Methodology:
    """``m`` with each family in ``amounts`` relaxed by its amount."""
    c = m.constraints
    upd: dict[str, Any] = {}
    for rule, a in amounts.items():
        if a <= 0:
            continue
        if rule == "rule_buffer":
            upd["rule_buffer"] = min(c.rule_buffer + a, 1.0)
        elif rule == "liquidity" and c.liquidity_k is not None:
            upd["liquidity_k"] = c.liquidity_k + a
        elif rule == "group_bounds":
            for table in ("stage_bounds", "country_bounds", "commodity_bounds"):
                upd[table] = {
                    k: (_clamp(0, 1, lo - a), _clamp(0, 1, hi + a))
                    for k, (lo, hi) in getattr(c, table).items()
                }
        elif rule == "china_budget" and c.max_china_score_avg is not None:
            upd["max_china_score_avg"] = min(c.max_china_score_avg + a, 100.0)
        elif rule == "turnover" and c.max_turnover is not None:
            upd["max_turnover"] = min(c.max_turnover + a, 2.0)
        elif rule == "max_weight":
            upd["max_weight"] = min(c.max_weight + a, 1.0)
    if not upd:
        return m
    return m.model_copy(update={"constraints": c.model_copy(update=upd)})


_TICKER = re.compile(r"^(\S+) at ")
_CAP_FAMILIES = ("rule_buffer", "max_weight", "liquidity")


def _family_of(breach: str) -> tuple[str, ...]:
    """The relaxable families a strict rule's breach can come from."""
    if "above its cap" in breach or breach.startswith(("UCITS", "RIC")):
        return _CAP_FAMILIES
    if breach.startswith(("stage_bounds.", "country_bounds.", "commodity_bounds.")):
        return ("group_bounds",)
    if breach.startswith("weighted China score"):
        return ("china_budget",)
    if breach.startswith("turnover"):
        return ("turnover",)
    return tuple(RELAXABLE)


def describe(m: Methodology, amounts: dict[str, float], breaches: list[str]) -> list[Relaxation]:
    """One ``Relaxation`` per family relaxed by a positive amount, with the strict rules'
    breaches it allowed (and the tickers they name)."""
    limits = {s.rule: s.limit for s in m.constraints.relax}
    out = []
    for rule, a in amounts.items():
        if a <= 0:
            continue
        mine = [b for b in breaches if rule in _family_of(b)]
        names = tuple(sorted({mt.group(1) for b in mine if (mt := _TICKER.match(b))}))
        out.append(Relaxation(rule, float(a), float(limits[rule]), tuple(mine), names))
    return out


# ------------------------------------------------------------- the exact lexicographic amounts

AMOUNT_GRID = 1e-6  # amounts are rounded up to this grid (room for the solver's tolerance)
WIDEN = (0.0, 1e-5, 1e-3)  # room (x limit) given to earlier amounts when a later solve fails
FEASIBLE = 1e-9  # HiGHS's feasibility tolerance (the solves below set it)


class _Milp:
    """A mixed-integer LP assembled block by block (sparse) and solved with HiGHS: built once,
    then solved for one objective column at a time under changed column bounds."""

    def __init__(self) -> None:
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.blocks: list[tuple[list[tuple[int, np.ndarray]], np.ndarray, np.ndarray]] = []
        self.size = 0
        self._model: Any = None  # the assembled HiGHS model (built at the first solve)
        self._kinds: list[Any] = []  # its columns' integrality
        self._lp: Any = None  # the HiGHS instance of the LP relaxation, re-solved warm
        self._cols: Any = None  # every column's index (HiGHS's changeCols* take a set)
        self._rows: Any = None  # its matrix (CSC, CSR) and row bounds, for ``least``

    def var(self, n: int, lo: float, hi: float, integer: bool = False) -> int:
        """``n`` new variables in [lo, hi]; returns the first column."""
        start = self.size
        self.lo.append(np.full(n, lo))
        self.hi.append(np.full(n, hi))
        self.integer.append(np.full(n, 1 if integer else 0))
        self.size += n
        return start

    def rows(self, terms: list[tuple[int, np.ndarray]], lo: Any, hi: Any) -> None:
        """``lo <= sum(coef @ x[col:col + coef.shape[1]]) <= hi`` for each row of the coefs."""
        m = terms[0][1].shape[0]
        self.blocks.append((terms, np.broadcast_to(lo, m), np.broadcast_to(hi, m)))

    def _assemble(self) -> Any:
        """The model for HiGHS, with the constraint matrix kept for ``least``."""
        import highspy
        from scipy.sparse import csc_array

        r = sum(terms[0][1].shape[0] for terms, _, _ in self.blocks)
        dense = np.zeros((r, self.size))  # a few hundred rows and columns: dense is cheapest
        at = 0
        for terms, _lo, _hi in self.blocks:
            m = terms[0][1].shape[0]
            for col, coef in terms:
                dense[at : at + m, col : col + coef.shape[1]] += coef
            at += m
        csc = csc_array(dense)  # zeros left out, indices sorted
        row_lo = np.concatenate([b[1] for b in self.blocks]).astype(float)
        row_hi = np.concatenate([b[2] for b in self.blocks]).astype(float)
        self._rows = (csc, csc.tocsr(), row_lo, row_hi)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.size, r
        lp.row_lower_, lp.row_upper_ = row_lo, row_hi
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.asarray(csc.indptr, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(csc.indices, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(csc.data, dtype=float)
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        self._kinds = [kinds[int(k)] for k in np.concatenate(self.integer)]
        return lp

    def solve(
        self, objective: int, bounds: dict[int, tuple[float, float]], integer: bool = True
    ) -> np.ndarray | None:
        """Minimise variable ``objective`` with the given columns' bounds overridden (HiGHS,
        silent, zero gap, feasibility to 1e-9: amounts sit right at the edge of
        feasibility). A fresh MILP solver each time: the answer depends on this problem only.
        ``integer=False`` solves the LP relaxation (a fraction of the time; where it has no
        solution, neither has the MILP), re-solved warm from its last basis after the first:
        whether it is feasible and its least value do not depend on where the simplex starts."""
        import highspy

        if self._model is None:
            self._model = self._assemble()
        lp = self._model
        lp.integrality_ = self._kinds if integer else []
        lo, hi = np.concatenate(self.lo), np.concatenate(self.hi)
        for col, (low, high) in bounds.items():
            lo[col], hi[col] = low, high
        c = np.zeros(self.size)
        c[objective] = 1.0
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = c, lo, hi
        if self._cols is None:
            self._cols = np.arange(self.size, dtype=np.int32)
        h = None if integer else self._lp
        if h is not None:  # the LP relaxation again: new costs and bounds, warm from its basis
            h.changeColsCost(self.size, self._cols, c)
            h.changeColsBounds(self.size, self._cols, lo, hi)
            _run(h)
        else:
            silence_solver_banner()  # HiGHS's one-time copyright banner, for library callers too
            h = highspy.Highs()
            for option, value in (
                ("output_flag", False),
                ("threads", 1),  # see ``_run``
                ("mip_rel_gap", 0.0),
                ("mip_abs_gap", 0.0),
                ("mip_feasibility_tolerance", 1e-9),
                ("primal_feasibility_tolerance", 1e-9),
                # the root LP mostly solves these small problems (see the UCITS rows below); the
                # feasibility-jump heuristic before it costs more than it finds (same amounts, 2x)
                ("mip_heuristic_run_feasibility_jump", False),
                # an LP this small solves faster without presolve (same feasibility and least)
                ("presolve", "choose" if integer else "off"),
            ):
                h.setOptionValue(option, value)
            h.passModel(lp)
            _run(h)
            if not integer:
                self._lp = h
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return np.asarray(h.getSolution().col_value, dtype=float)
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,  # every column here is bounded
        ):
            return None
        # a failed solve proves nothing: reporting it as infeasible would relax or fail a
        # rebalance for no reason
        raise ExchinaError(
            f"HiGHS could not solve a relaxation MILP: {h.modelStatusToString(status)}"
        )

    def minimum(self, objective: int, bounds: dict[int, tuple[float, float]]) -> np.ndarray | None:
        """``solve``, with the LP relaxation first: when it has no solution neither has the
        MILP, and when its integer columns come out integral it is a MILP solution with the
        LP's (= the MILP's) least objective; else the MILP (about half the relaxation MILPs of
        the flagship's backtest are settled by their LP at a third of the cost)."""
        x = self.solve(objective, bounds, integer=False)
        if x is None:
            return None
        whole = np.concatenate(self.integer).astype(bool)
        if np.all(np.abs(x[whole] - np.round(x[whole])) <= FEASIBLE):
            return x
        return self.solve(objective, bounds)

    def least(self, x: np.ndarray, col: int) -> float:
        """The least value of column ``col`` that keeps every row it enters satisfied with the
        other columns at ``x``: an upper bound of its minimum when ``x`` is feasible."""
        csc, csr, row_lo, row_hi = self._rows
        lo = 0.0
        for i, a in zip(
            csc.indices[csc.indptr[col] : csc.indptr[col + 1]],
            csc.data[csc.indptr[col] : csc.indptr[col + 1]],
            strict=True,
        ):
            s, e = csr.indptr[i], csr.indptr[i + 1]
            rest = float(csr.data[s:e] @ x[csr.indices[s:e]]) - a * x[col]
            need = (row_lo[i] - rest) / a if a > 0 else (row_hi[i] - rest) / a
            lo = max(lo, need)
        return lo


def _run(h: Any) -> None:
    """``h.run()`` on one thread, or on the thread count HiGHS already runs with: HiGHS keeps one
    thread scheduler per process, and once anything (cvxpy's HIGHS with its defaults, say) has
    started it with another count, a solver asking for one thread fails (kError, no status) -
    it is then run again with HiGHS's default, which takes the running scheduler."""
    import highspy

    if (
        h.run() == highspy.HighsStatus.kError
        and h.getModelStatus() == highspy.HighsModelStatus.kNotset
    ):
        h.setOptionValue("threads", 0)
        h.run()


def _headroom(m: Methodology, rule: str) -> float:
    """How far a family can move before it reaches its natural end (the legal rule, 100%...)."""
    c = m.constraints
    return {
        "rule_buffer": 1.0 - c.rule_buffer,
        "max_weight": 1.0 - c.max_weight,
        "china_budget": 100.0 - (c.max_china_score_avg or 0.0),
        "turnover": 2.0 - (c.max_turnover or 0.0),
    }.get(rule, np.inf)


def smallest_amounts(m: Methodology, p: Parts, bounds: Bounds) -> dict[str, float] | None:
    """The lexicographically smallest relaxation in ``m``'s order, exactly: one MILP per family
    with a slack variable (family 1's slack minimised with the later families at their limits,
    then fixed; family 2's minimised; ...), each rounded up to ``AMOUNT_GRID``. The MILP holds
    every rule of ``p`` and ``bounds`` (the strict problem) with the relaxable ones moved by
    their slack, and UCITS/RIC and name counts with binaries. None when infeasible with every
    family at its limit.

    A family whose amount a solution already proves to be 0 gets no MILP of its own: the first
    family is guessed at 0 by solving the second family's MILP with it fixed there (the MILP
    the order solves next anyway; infeasible means the guess was wrong), and a later family is
    0 when the latest solution needs none of it (``_Milp.least``). The buffer's amount is found
    by bisection on the grid with feasibility MILPs (``_least_on_grid``). Same amounts, faster."""
    c = m.constraints
    n = len(bounds.tickers)
    eye = np.eye(n)
    inside = bounds.in_universe.astype(float)
    lp = _Milp()
    w = lp.var(n, 0.0, 1.0)
    steps = list(c.relax)
    col = {s.rule: lp.var(1, 0.0, float(min(s.limit, _headroom(m, s.rule)))) for s in steps}

    def slack(rule: str, coef: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """The term ``coef x amount`` when ``rule`` may give way (nothing otherwise)."""
        return [(col[rule], coef.reshape(-1, 1))] if rule in col else []

    lp.rows([(w, np.ones((1, n)))], 1.0, 1.0)
    # single-name cap and liquidity capacity: w <= max_weight (+ a), w <= cap x (k + a) / k
    lp.rows([(w, eye), *slack("max_weight", -inside)], -np.inf, inside * c.max_weight)
    if p.liquidity is not None and c.liquidity_k:
        cap = p.liquidity.cap * inside
        lp.rows([(w, eye), *slack("liquidity", -cap / c.liquidity_k)], -np.inf, cap)
    # UCITS/RIC on targets rule x (buffer + a): b = may sit above the threshold, u = its excess
    # over the cap, v = a x b (exact for a binary b: a is bounded)
    for conc in p.concentration:
        hard, b0 = conc.hard, c.rule_buffer
        b = lp.var(n, 0.0, 1.0, integer=True)
        u = lp.var(n, 0.0, np.inf)
        a_terms_t = slack("rule_buffer", -hard.threshold * np.ones(n))
        a_terms_c = slack("rule_buffer", hard.threshold * np.ones(n))
        if "rule_buffer" in col:
            top = float(min(next(s.limit for s in steps if s.rule == "rule_buffer"), 1 - b0))
            v = lp.var(n, 0.0, top)
            av = [(v, -(hard.cap - hard.threshold) * eye)]
            lp.rows([(v, eye), (col["rule_buffer"], -np.ones((n, 1)))], -np.inf, 0.0)
            lp.rows([(v, eye), (b, -top * eye)], -np.inf, 0.0)
            lp.rows(
                [(v, eye), (col["rule_buffer"], -np.ones((n, 1))), (b, -top * eye)], -top, np.inf
            )
            uv = [(v, -hard.threshold * eye)]
        else:
            av, uv = [], []
        # w <= t (b0 + a) + (c - t)(b0 b + v)
        lp.rows(
            [(w, eye), (b, -(hard.cap - hard.threshold) * b0 * eye), *av, *a_terms_t],
            -np.inf,
            hard.threshold * b0,
        )
        # u >= w - t (b0 + a) (1 - b) = w - t (b0 + a) + t (b0 b + v): u is w for a big name;
        # for the others the bound is at most 0 (their weight is under t). Using t and not the
        # cap c keeps the same integer solutions and is the convex hull of the two cases: the
        # LP bound is tight, HiGHS closes most problems at the root (4x faster)
        lp.rows(
            [(u, eye), (w, -eye), (b, -hard.threshold * b0 * eye), *uv, *a_terms_c],
            -hard.threshold * b0,
            np.inf,
        )
        lp.rows(
            [(u, np.ones((1, n))), *slack("rule_buffer", -np.array([hard.limit]))],
            -np.inf,
            hard.limit * b0,
        )
    lb = bounds.lb
    if p.names is not None:
        z = lp.var(n, 0.0, 1.0, integer=True)
        lp.rows([(w, eye), (z, -np.diag(inside))], -np.inf, 0.0)
        lp.rows([(w, eye), (z, -np.diag(np.maximum(lb, HOLD_MIN) * inside))], 0.0, np.inf)
        lp.rows(
            [(z, np.ones((1, n)))],
            p.names.min_names if p.names.min_names is not None else -np.inf,
            p.names.max_names if p.names.max_names is not None else np.inf,
        )
    elif np.any(lb > 0):
        lp.rows([(w, eye)], lb, np.inf)
    if p.groups is not None:
        for _name, row, lo, hi in p.groups.groups:
            one = np.ones(1)
            lp.rows([(w, row.reshape(1, -1)), *slack("group_bounds", one)], lo, np.inf)
            lp.rows([(w, row.reshape(1, -1)), *slack("group_bounds", -one)], -np.inf, hi)
    if p.china is not None:
        s = p.china.scores.reshape(1, -1)
        if c.max_china_score_avg is not None:
            lp.rows([(w, s), *slack("china_budget", -np.ones(1))], -np.inf, c.max_china_score_avg)
        if m.weighting.china_budget is not None:
            lp.rows([(w, s)], -np.inf, m.weighting.china_budget)
    if p.turnover is not None:
        t = lp.var(n, 0.0, np.inf)
        prev = p.turnover.prev
        lp.rows([(t, eye), (w, -eye)], -prev, np.inf)
        lp.rows([(t, eye), (w, eye)], prev, np.inf)
        # sum |w - prev| + outside <= 2 (limit + a), and outside <= limit + a
        lp.rows(
            [(t, np.ones((1, n))), *slack("turnover", -2 * np.ones(1))],
            -np.inf,
            2 * p.turnover.limit - p.turnover.outside,
        )
        lp.rows(
            [*slack("turnover", np.ones(1)), (w, np.zeros((1, n)))],
            p.turnover.outside - p.turnover.limit,
            np.inf,
        )
    amounts: dict[str, float] = {}
    tops = {s.rule: float(min(s.limit, _headroom(m, s.rule))) for s in steps}

    def fix(amounts: dict[str, float], free: str) -> dict[int, tuple[float, float]]:
        """Column bounds: the families settled at their amounts, the later ones at their tops,
        ``free`` in [0, top]. Every family only loosens the rules as it grows, so fixing them
        changes no minimum, and with the buffer's slack fixed its products with the binaries
        become constants (a much tighter model than their linearisation)."""
        out = {col[r]: (a, a) for r, a in amounts.items()}
        return out | {col[r]: (t, t) for r, t in tops.items() if r not in amounts and r != free}

    x: np.ndarray | None = None  # the latest solution
    minimised = None  # the family x is already the minimum of (for the amounts fixed so far)
    for k, s in enumerate(steps):
        here = col[s.rule]
        if x is None and k + 1 < len(steps):
            # guess that this family needs nothing: the next family's MILP with it fixed at 0
            # is the one the order solves next anyway, and a solution proves the guess
            fixed = fix(amounts | {s.rule: 0.0}, steps[k + 1].rule)
            x = lp.minimum(col[steps[k + 1].rule], fixed)
            if x is not None:
                amounts[s.rule], minimised = 0.0, steps[k + 1].rule
                continue
        if (
            minimised != s.rule
            and x is not None
            and all(x[col[r]] <= a + FEASIBLE for r, a in amounts.items())
            and (need := lp.least(x, here)) <= AMOUNT_GRID / 100
        ):
            # the latest solution is feasible here and needs none of this family: least is 0
            amounts[s.rule], x[here] = 0.0, need
            continue
        if minimised != s.rule or x is None:
            x = None
            for room in WIDEN:  # numerically at the edge: the earlier amounts get a little room
                fixed_amounts = {r: min(a + room * tops[r], tops[r]) for r, a in amounts.items()}
                if s.rule == "rule_buffer":  # see _least_on_grid
                    least = _least_on_grid(lp, here, fix(fixed_amounts, s.rule), tops[s.rule])
                    if least is not None:
                        amounts = fixed_amounts
                        x, amounts[s.rule] = least
                        break
                    continue
                x = lp.minimum(here, fix(fixed_amounts, s.rule))
                if x is not None:
                    amounts = fixed_amounts
                    break
            if x is None:
                return None
            if s.rule == "rule_buffer":
                minimised = None
                continue
        minimised = None
        found = float(x[here])
        grid = math.ceil(found / AMOUNT_GRID - 1e-6) * AMOUNT_GRID
        amounts[s.rule] = 0.0 if found <= AMOUNT_GRID / 100 else min(grid, tops[s.rule])
    return amounts


def _least_on_grid(
    lp: _Milp, col: int, bounds: dict[int, tuple[float, float]], top: float
) -> tuple[np.ndarray, float] | None:
    """The least amount on ``AMOUNT_GRID`` (0, or up to ``top``) at which column ``col`` makes
    the MILP feasible, and a solution there; None when infeasible even at ``top``.

    For the UCITS/RIC buffer: its slack multiplies the binaries (``v = a b``), whose
    linearisation leaves the minimisation weak (thousands of nodes); at a fixed amount the
    products are constants and each feasibility MILP closes at the root. Feasibility only grows
    with the amount, so bisection over the grid gives the minimisation's answer rounded up to the
    grid, as the other families get it."""

    def at(a: float, integer: bool = True) -> np.ndarray | None:
        return lp.solve(col, bounds | {col: (a, a)}, integer)

    def amount(k: int) -> float:
        return min(k * AMOUNT_GRID, top)

    if (x := at(0.0)) is not None:
        return x, 0.0
    steps = math.ceil(top / AMOUNT_GRID - 1e-6)
    best = at(top)
    if best is None:
        return None
    lo, hi = 0, steps  # infeasible at lo, feasible at hi
    # where the LP relaxation is infeasible the MILP is too: bisect on the cheap LPs first, then
    # look for the MILP's least point upward from there (the hull formulation is tight, so it
    # is mostly the next grid point), and bisect with MILPs only in what is left
    lp_lo, lp_hi = lo, hi
    while lp_hi - lp_lo > 1:
        mid = (lp_lo + lp_hi) // 2
        if at(amount(mid), integer=False) is None:
            lp_lo = mid
        else:
            lp_hi = mid
    lo, step = lp_lo, 1
    while lo + step < hi:
        x = at(amount(lo + step))
        if x is not None:
            hi, best = lo + step, x
            break
        lo, step = lo + step, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        x = at(amount(mid))
        if x is None:
            lo = mid
        else:
            hi, best = mid, x
    return best, amount(hi)
