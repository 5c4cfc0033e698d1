"""Re-solving a compiled cvxpy problem with Clarabel at a fraction of cvxpy's per-solve cost.

A backtest solves the same few problem structures hundreds of times with new Parameter values.
cvxpy caches the map from Parameters to the conic problem's data (DPP), but every ``solve`` still
rebuilds the data through a dozen generic sparse-matrix steps and inverts the reduction chain:
about 1 ms of a 1.5 ms solve. ``Resolver`` applies the same cached map with the data's sparsity
pattern computed once, calls Clarabel with the data cvxpy would pass, and reads the variable
back from its column.

It reads cvxpy's compiled program (``Problem._cache.param_prog``), which is not public API, so
it trusts nothing: ``Resolver.of`` checks, on the problem just solved by cvxpy, that it builds bit
for bit the data cvxpy built, and returns None (cvxpy's own solve is then used) when it does not,
or when the problem's form is one it does not handle. Clarabel is then called as cvxpy calls it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

# Clarabel's statuses as cvxpy reports them (cvxpy.reductions.solvers.conic_solvers.clarabel_conif)
_STATUS = {
    "Solved": "optimal",
    "AlmostSolved": "optimal_inaccurate",
    "PrimalInfeasible": "infeasible",
    "AlmostPrimalInfeasible": "infeasible_inaccurate",
    "DualInfeasible": "unbounded",
    "AlmostDualInfeasible": "unbounded_inaccurate",
    "MaxIterations": "user_limit",
    "MaxTime": "user_limit",
}
_SOLUTION = ("optimal", "optimal_inaccurate")


@dataclass
class _Pattern:
    """Where the values of ``tensor @ params`` go: a CSC matrix's pattern and, for an affine
    part, the offset column as a dense vector (cvxpy's ``get_matrix_from_tensor``)."""

    tensor: Any  # CSR: parameters -> the matrix's stored values
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]
    cut: int  # stored values before the offset column (= indptr of the last column)
    triu: tuple[np.ndarray, np.ndarray] | None = None  # upper-triangle entries and their indptr

    @classmethod
    def of(cls, reduced: Any) -> _Pattern | None:
        reduced.cache(False)
        if reduced.problem_data_index is None or reduced.mapping_nonzero is not None:
            return None
        indices, indptr, shape = reduced.problem_data_index
        return cls(reduced.reduced_mat, indices, indptr, shape, int(indptr[-2]))

    def affine(self, pv: np.ndarray) -> tuple[sp.csc_array, np.ndarray]:
        """The matrix (all columns but the offset) and the offset vector."""
        vals = self.tensor @ pv
        n = self.shape[1] - 1
        a = sp.csc_array(
            (vals[: self.cut], self.indices[: self.cut], self.indptr[: n + 1]),
            shape=(self.shape[0], n),
        )
        b = np.zeros(self.shape[0])
        np.add.at(b, self.indices[self.cut :], vals[self.cut :])
        return a, b

    def upper(self, pv: np.ndarray) -> sp.csc_array:
        """The upper triangle of the (square, offset-free) matrix: what Clarabel takes as P."""
        if self.triu is None:
            cols = np.repeat(np.arange(self.shape[1]), np.diff(self.indptr))
            keep = self.indices <= cols
            per_col = np.bincount(cols[keep], minlength=self.shape[1])
            self.triu = (keep, np.concatenate([[0], np.cumsum(per_col)]))
        keep, indptr = self.triu
        vals = (self.tensor @ pv)[keep]
        return sp.csc_array((vals, self.indices[keep], indptr), shape=self.shape)


@dataclass
class Resolver:
    """Clarabel on the cached data of one compiled problem (see the module docstring)."""

    problem: cp.Problem
    prog: Any  # cvxpy ParamConeProg
    q: Any  # CSR: parameters -> objective vector and its constant
    a: _Pattern
    p: _Pattern | None
    cones: list[Any]
    var: cp.Variable
    column: int  # the variable's first column in the solver's x

    @classmethod
    def of(cls, problem: cp.Problem, var: cp.Variable) -> Resolver | None:
        """A resolver for ``problem`` (just solved by cvxpy with Clarabel, the Parameters
        unchanged since), or None when it cannot reproduce that solve exactly."""
        from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

        cache = getattr(problem, "_cache", None)
        prog = getattr(cache, "param_prog", None)
        chain = getattr(cache, "solving_chain", None)
        if prog is None or chain is None or chain.solver.name() != "CLARABEL":
            return None
        if prog.lb_tensor is not None or prog.ub_tensor is not None or prog.total_param_size == 0:
            return None
        column = prog.var_id_to_col.get(var.id)
        a = _Pattern.of(prog.reduced_A)
        p = _Pattern.of(prog.reduced_P) if prog.P is not None else None
        if column is None or a is None or (prog.P is not None and p is None):
            return None
        own = {id(q) for q in problem.parameters()}
        if not all(id(q) in own for q in prog.id_to_param.values()):
            return None  # a reduction replaced a Parameter: its values are not the caller's
        if [v.id for v in problem.objective.variables()] != [var.id]:
            return None  # the objective is evaluated on ``var`` alone (see ``solve``)
        data, _, inverse = problem.get_problem_data("CLARABEL", solver_opts={})
        cones = dims_to_solver_cones(data["dims"])
        r = cls(problem, prog, prog.q.tocsr(), a, p, cones, var, column)
        mine = r._data({q.name(): q.value for q in problem.parameters()})
        theirs = (
            sp.triu(data["P"] if "P" in data else sp.csc_array(mine[0].shape)).tocsc(),  # as cvxpy
            data["c"],
            data["A"],
            data["b"],
            inverse[-1]["offset"],
        )
        return r if all(map(_identical, mine, theirs)) else None

    def _data(
        self, values: Mapping[str, Any]
    ) -> tuple[sp.csc_array, np.ndarray, sp.csc_array, np.ndarray, float]:
        """P (upper triangle), q, A, b and the objective's constant for the Parameter values
        ``values`` (by name), as cvxpy builds them (the constant is only compared with cvxpy's:
        the reported objective is evaluated)."""
        from cvxpy.cvxcore.python.canonInterface import get_parameter_vector

        prog = self.prog
        pv = get_parameter_vector(
            prog.total_param_size,
            prog.param_id_to_col,
            prog.param_id_to_size,
            lambda i: np.array(values[prog.id_to_param[i].name()]),
        )
        assert pv is not None  # a problem without Parameters is declined by ``of``
        qd = self.q @ pv
        n = self.q.shape[0] - 1
        a, b = self.a.affine(pv)
        p = self.p.upper(pv) if self.p is not None else sp.csc_array((n, n))
        return p, qd[:n], -a, b, float(qd[n])

    def solve(self, values: Mapping[str, Any]) -> tuple[np.ndarray | None, str, float]:
        """The variable's values (None without a solution), cvxpy's status and the objective,
        for the Parameter values ``values`` (by name; only the objective's Parameters are set,
        to evaluate it).

        Clarabel is called as cvxpy calls it: the problem's cached solver updated with the new
        data when Clarabel allows it, else a new one (the two differ in the last digits)."""
        clarabel: Any = importlib.import_module("clarabel")  # compiled, without type information
        p, q, a, b, _ = self._data(values)
        cache = self.problem._solver_cache  # cvxpy's own, so both paths share one history
        solver = cache.get("CLARABEL")
        if solver is not None and solver.is_data_update_allowed():
            settings = solver.get_settings()
            settings.verbose = False
            try:
                solver.update(P=p, q=q, A=a, b=b, settings=settings)
            except Exception:  # a new sparsity pattern: cvxpy builds a new solver too
                solver = None
        else:
            solver = None
        if solver is None:
            settings = clarabel.DefaultSettings()
            settings.verbose = False
            solver = clarabel.DefaultSolver(p, q, a, b, self.cones, settings)
        result = solver.solve()
        cache["CLARABEL"] = solver
        status = _STATUS.get(str(result.status), "solver_error")
        if status not in _SOLUTION:
            return None, status, float("nan")
        x = np.asarray(result.x, dtype=float)[self.column : self.column + self.var.size].copy()
        # cvxpy reports the objective expression evaluated at the solution, not the solver's
        for param in self.problem.objective.parameters():
            set_value(param, values[param.name()])
        self.var.value = x
        value = self.problem.objective.value
        return x, status, float(np.asarray(value, dtype=float)) if value is not None else np.nan


def set_value(param: cp.Parameter, value: Any) -> None:
    """Set a Parameter's value unless it already holds exactly this value: cvxpy validates every
    value it is given, and most values repeat between the solves of one rebalance."""
    old = param.value
    if (
        isinstance(old, np.ndarray)
        and isinstance(value, np.ndarray)
        and old.dtype == value.dtype
        and np.array_equal(old, value)
    ):
        return
    param.value = value


def _identical(mine: Any, theirs: Any) -> bool:
    """Bit for bit: a sparse matrix's stored values and pattern, an array, or a number."""
    if sp.issparse(mine) and sp.issparse(theirs):
        return (
            mine.shape == theirs.shape
            and np.array_equal(mine.indptr, theirs.indptr)
            and np.array_equal(mine.indices, theirs.indices)
            and np.array_equal(mine.data, theirs.data)
        )
    return np.array_equal(np.asarray(mine), np.asarray(theirs))
