"""Weighting schemes as small classes with one protocol, and a registry by methodology key.

Each scheme says what it weights toward (``basis``), whether it needs a risk model, its
objective over the weights with cvxpy Parameters (``shapes``, ``values``, ``objective``),
whether it is solved in scaled variables (``homogeneous``: ``y >= 0`` with ``w = y / sum(y)``,
for objectives that are not convex in ``w`` under the budget), and the objective it reports on
the final weights (``report``). ``SCHEMES`` maps ``weighting.scheme`` to the class; adding a
scheme is one class here and its name in ``Methodology.weighting.scheme``. The constraint
families are the same pattern (``exchina.index.constraints``).

Risk-based objectives are ``sum_squares(F' w) + sum_squares(d * w)`` (``exchina.index.risk``),
divided by the mean single-name variance so that they are of order one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import cvxpy as cp
import numpy as np
import pandas as pd

from exchina.core.errors import MissingDataError
from exchina.index.constraints import ZERO

if TYPE_CHECKING:
    from exchina.index.risk import RiskModel


class ProblemData(Protocol):
    """What a scheme reads of a solve's data (``exchina.index.optimizer.ProblemData``)."""

    @property
    def tickers(self) -> list[str]: ...
    @property
    def basis(self) -> np.ndarray: ...
    @property
    def distance(self) -> str: ...
    @property
    def risk(self) -> RiskModel | None: ...
    @property
    def target(self) -> np.ndarray | None: ...


def _risk_scale(risk: RiskModel) -> float:
    """Mean single-name variance: dividing by it brings the risk objective to order one."""
    return float(np.mean(risk.vol() ** 2)) or 1.0


class Scheme:
    """The protocol, with the defaults of a market-cap basis and no risk model."""

    key: ClassVar[str]
    needs_risk: ClassVar[bool] = False
    homogeneous: ClassVar[bool] = False
    tracks_parent: ClassVar[bool] = False  # weights toward a parent index (names outside too)

    def basis(
        self, frame: pd.DataFrame, in_universe: np.ndarray, parent: pd.Series | None
    ) -> np.ndarray:
        """Unnormalised weight each name is drawn toward (float market cap by default)."""
        if "float_mcap_usd" not in frame.columns:
            raise MissingDataError("float_mcap_usd missing or not positive for []")
        col = frame["float_mcap_usd"]
        mcap = (
            col.to_numpy()
            if col.dtype == np.float64
            else pd.Series(pd.to_numeric(col, errors="coerce"), dtype=float).to_numpy()
        )
        bad = in_universe & ~(mcap > 0)  # missing (NaN) or not positive
        if bad.any():
            raise MissingDataError(
                f"float_mcap_usd missing or not positive for {list(frame.index[bad])}"
            )
        return np.where(in_universe, mcap, 0.0)

    def shapes(self, n: int, k: int) -> dict[str, tuple[int, ...]]:
        return {}

    def values(self, d: ProblemData, ub: np.ndarray) -> dict[str, Any]:
        return {}

    def objective(self, w: cp.Expression, p: dict[str, Any]) -> cp.Expression:
        raise NotImplementedError

    def constraints(self, y: cp.Expression, p: dict[str, Any]) -> list[cp.Constraint]:
        """Extra constraints in scaled variables (homogeneous schemes only)."""
        return []

    def report(self, w: np.ndarray, d: ProblemData, diag: dict[str, Any], value: float) -> float:
        """The objective on the final weights (``value``: the solver's, scaled); adds the
        scheme's figures to ``diag``."""
        return value


class _Distance(Scheme):
    """Closest to the basis: sum((w - b)^2 / b) (``distance = relative``; pro-rata capping is
    its minimiser) or sum((w - b)^2) (``absolute``)."""

    def shapes(self, n, k):
        return {"s": (n,), "c": (n,)}

    def values(self, d, ub):
        n = len(d.tickers)
        b = np.maximum(d.basis, 1e-12)
        if d.distance == "relative":
            return {"s": 1 / np.sqrt(b), "c": np.sqrt(b)}
        return {"s": np.full(n, np.sqrt(n)), "c": np.sqrt(n) * b}

    def objective(self, w, p):
        return cp.sum_squares(cp.multiply(p["s"], w) - p["c"])

    def report(self, w, d, diag, value):
        b = np.maximum(d.basis, 1e-12)
        return float(
            np.sum((w - d.basis) ** 2 / b)
            if d.distance == "relative"
            else np.sum((w - d.basis) ** 2)
        )


class CappedMcap(_Distance):
    """Free-float market cap, capped by the constraints."""

    key = "capped_mcap"


class Equal(_Distance):
    """Equal weight over the eligible names, within the constraints."""

    key = "equal"

    def basis(self, frame, in_universe, parent):
        return np.where(in_universe, 1.0, 0.0)


class _Risk(Scheme):
    """Schemes on the factor risk model (scaled to order one)."""

    needs_risk = True

    def shapes(self, n, k):
        return {"F": (n, k), "d": (n,)}

    def values(self, d, ub):
        assert d.risk is not None  # build_data gives a risk-based scheme its model
        scale = _risk_scale(d.risk)
        return {"F": d.risk.F / np.sqrt(scale), "d": d.risk.d / np.sqrt(scale)}

    @staticmethod
    def risk(w: cp.Expression, p: dict[str, Any]) -> cp.Expression:
        return cp.sum_squares(p["F"].T @ w) + cp.sum_squares(cp.multiply(p["d"], w))

    def objective(self, w, p):
        return self.risk(w, p)

    def report(self, w, d, diag, value):
        assert d.risk is not None
        var = d.risk.variance(w)
        diag["volatility"] = float(np.sqrt(var))
        diag["diversification_ratio"] = float(d.risk.vol() @ w / np.sqrt(var))
        return var


class MinVariance(_Risk):
    """Least portfolio variance."""

    key = "min_variance"


class MaxDiversification(_Risk):
    """Largest diversification ratio (weighted volatility over portfolio volatility): least
    risk with the weighted volatility held at one, in scaled variables."""

    key = "max_diversification"
    homogeneous = True

    def shapes(self, n, k):
        return super().shapes(n, k) | {"sigma": (n,)}

    def values(self, d, ub):
        vals = super().values(d, ub)
        assert d.risk is not None
        vals["sigma"] = d.risk.vol() / np.sqrt(_risk_scale(d.risk))
        return vals

    def constraints(self, y, p):
        return [p["sigma"] @ y == 1]

    def report(self, w, d, diag, value):
        super().report(w, d, diag, value)
        return diag["diversification_ratio"]


class RiskParity(_Risk):
    """Equal risk contributions from the held names (log barrier, scaled variables)."""

    key = "risk_parity"
    homogeneous = True

    def shapes(self, n, k):
        return super().shapes(n, k) | {"rb": (n,)}

    def values(self, d, ub):
        vals = super().values(d, ub)
        held = (ub > 0).astype(float)
        vals["rb"] = held / held.sum()
        # the log barrier needs room: a name held at zero gets a negligible cap instead
        vals["ub"] = np.where(held > 0, ub, ZERO / 10)
        return vals

    def objective(self, w, p):
        return 0.5 * self.risk(w, p) - p["rb"] @ cp.log(w)


class Tracking(_Risk):
    """Least tracking error to a parent index (its weights are the basis)."""

    key = "tracking"
    tracks_parent = True

    def basis(self, frame, in_universe, parent):
        assert parent is not None  # build_data asks for the parent's weights first
        return parent.reindex(frame.index).fillna(0.0).to_numpy(float)

    def shapes(self, n, k):
        return super().shapes(n, k) | {"Ftp": (k,), "dp": (n,)}

    def values(self, d, ub):
        vals = super().values(d, ub)
        vals["Ftp"] = vals["F"].T @ d.target
        vals["dp"] = vals["d"] * d.target
        return vals

    def objective(self, w, p):
        # F'(w - p) and d*(w - p) with F'p and d*p precomputed: parameter products are not DPP
        return cp.sum_squares(p["F"].T @ w - p["Ftp"]) + cp.sum_squares(
            cp.multiply(p["d"], w) - p["dp"]
        )

    def report(self, w, d, diag, value):
        super().report(w, d, diag, value)
        assert d.risk is not None and d.target is not None
        te = d.risk.variance(w - d.target)
        diag["tracking_error"] = float(np.sqrt(te))
        return te


SCHEMES: dict[str, type[Scheme]] = {
    s.key: s for s in (CappedMcap, Equal, MinVariance, MaxDiversification, RiskParity, Tracking)
}


def scheme(key: str) -> Scheme:
    """The scheme named ``key`` (``weighting.scheme``)."""
    return SCHEMES[key]()
