"""Constraint families as small classes with one protocol, compiled to cvxpy Parameters.

Each family is built from the methodology and the eligible frame (``build``) and answers the
same questions: its cvxpy expressions over the weights with Parameters (``shapes``, ``values``,
``expressions``), a cheap pre-check naming a conflict before any solve (``conflicts``), the
violations of final weights (``violations``), whether it binds (``binding``), its rulebook
sentence (``rulebook``) and the methodology keys the app's form edits (``FORM``). ``FAMILIES``
lists them in the order they enter the problem; adding a constraint is one class here and its
field in ``Methodology.constraints``.

Per-name caps and floors live in one vector (``ub``, ``lb``): the single-name cap, the UCITS/RIC
buffered cap and the liquidity capacity each tighten it, and ``cap_reason`` records which one
sets each name's cap. The name selection of the optimizer (UCITS/RIC, name counts) works on
those vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import cvxpy as cp
import numpy as np
import pandas as pd

from exchina.index.capping import RIC, UCITS, ConcentrationRule
from exchina.index.exposures import commodity_exposure, country_exposure, stage_matrix
from exchina.universe.rules import STAGES

if TYPE_CHECKING:
    from exchina.index.methodology import Methodology

TOL = 1e-6  # constraint check tolerance
ZERO = 1e-8  # weights below this are zero
HOLD_MIN = 1e-4  # a name counts as held (for min/max names) at or above this weight


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """``frame[column]`` as floats (NaN where not a number, all NaN when the column is absent)."""
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    if frame[column].dtype == np.float64:
        return frame[column]  # already floats (callers read it, never write to it)
    return pd.Series(pd.to_numeric(frame[column], errors="coerce"), index=frame.index, dtype=float)


def _pct(x: float) -> str:
    return f"{100 * x:g}%"


@dataclass(frozen=True)
class FormField:
    """One methodology key as the app's methodology form shows it."""

    key: str  # dotted methodology key, e.g. "constraints.max_weight"
    label: str
    help: str


@dataclass
class Bounds:
    """Per-name caps and floors of one solve, aligned to the tickers."""

    tickers: list[str]
    ub: np.ndarray
    lb: np.ndarray
    cap_reason: list[str]
    in_universe: np.ndarray

    @property
    def n_in(self) -> int:
        return int((self.ub > 0).sum())


class Constraint(Protocol):
    """The protocol every constraint family follows (see the module docstring)."""

    family: ClassVar[str]
    FORM: ClassVar[tuple[FormField, ...]]

    def structure(self) -> tuple: ...
    def shapes(self, n: int) -> dict[str, tuple[int, ...]]: ...
    def values(self, b: Bounds, masks: np.ndarray) -> dict[str, Any]: ...
    def expressions(
        self, w: cp.Expression, kappa: Any, p: dict[str, Any], drop: frozenset[str]
    ) -> list[tuple[str, cp.Constraint]]: ...
    def conflicts(self, b: Bounds, parts: Parts) -> list[str]: ...
    def violations(self, w: np.ndarray, b: Bounds, tol: float) -> list[str]: ...
    def binding(self, w: np.ndarray, b: Bounds, tol: float) -> list[str]: ...


# ----------------------------------------------------------------------- caps and floors


@dataclass
class CapsAndFloors:
    """Every name at most its cap (``max_weight`` tightened by UCITS/RIC and liquidity) and, when
    held, at least ``min_weight``."""

    has_floor: bool
    family: ClassVar[str] = "caps"
    FORM: ClassVar[tuple[FormField, ...]] = (
        FormField("constraints.max_weight", "Max weight per name", "single-name cap"),
        FormField("constraints.min_weight", "Min weight per held name", "0 = no floor"),
    )

    @staticmethod
    def rulebook(m: Methodology) -> list[str]:
        c = m.constraints
        return [
            "- Fully invested, long only.",
            f"- Each constituent at most {_pct(c.max_weight)}"
            + (f" and at least {_pct(c.min_weight)}." if c.min_weight else "."),
        ]

    def structure(self) -> tuple:
        return ("floor", self.has_floor)

    def shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        return {"ub": (n,), "lb": (n,)}

    def values(self, b: Bounds, masks: np.ndarray) -> dict[str, Any]:
        return {"ub": b.ub, "lb": b.lb}

    def expressions(self, w, kappa, p, drop):
        out = []
        if "caps" not in drop:
            out.append(("caps", w <= cp.multiply(p["ub"], kappa)))
        if "min_weight" not in drop and self.has_floor:
            out.append(("min_weight", w >= cp.multiply(p["lb"], kappa)))
        return out

    def conflicts(self, b: Bounds, parts: Parts) -> list[str]:
        if b.ub.sum() < 1 - TOL:
            by = pd.Series(b.cap_reason)[b.ub > 0].value_counts().to_dict()
            return [
                f"per-name caps sum to {b.ub.sum():.1%} < 100% over {b.n_in} names "
                f"(caps set by {by}): raise max_weight, liquidity_k, or add names"
            ]
        return []

    def floor_conflicts(self, b: Bounds, parts: Parts) -> list[str]:
        """min_weight x names above 100% (only without a name count, which picks the held)."""
        if parts.names is None and b.lb.sum() > 1 + TOL:
            return [f"min_weight x {b.n_in} names = {b.lb.sum():.1%} > 100%: lower min_weight"]
        return []

    def violations(self, w, b, tol):
        over = np.flatnonzero(w > b.ub + tol)
        out = [f"{b.tickers[i]} at {w[i]:.4%} above its cap {b.ub[i]:.4%}" for i in over]
        under = np.flatnonzero((w > ZERO) & (w < b.lb - tol))
        return out + [f"{b.tickers[i]} at {w[i]:.4%} below min_weight" for i in under]

    def binding(self, w, b, tol):
        out = []
        at_cap = [i for i in range(len(w)) if b.ub[i] > 0 and w[i] >= b.ub[i] - tol]
        by_reason: dict[str, list[str]] = {}
        for i in at_cap:
            by_reason.setdefault(b.cap_reason[i], []).append(b.tickers[i])
        for reason, names in sorted(by_reason.items()):
            out.append(f"{reason} ({len(names)}: {', '.join(names)})")
        at_floor = [
            b.tickers[i] for i in range(len(w)) if b.lb[i] > 0 and abs(w[i] - b.lb[i]) <= tol
        ]
        if at_floor:
            out.append(f"min_weight ({len(at_floor)}: {', '.join(at_floor)})")
        return out


# ------------------------------------------------------ rules with no expression of their own


class NoExpression:
    """Defaults for a rule with no term in the convex problem (it acts through the per-name caps
    or the optimizer's selection): no structure, parameters, expressions or conflicts."""

    def structure(self) -> tuple:
        return ()

    def shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        return {}

    def values(self, b: Bounds, masks: np.ndarray) -> dict[str, Any]:
        return {}

    def expressions(self, w, kappa, p, drop) -> list:
        return []

    def conflicts(self, b: Bounds, parts: Parts) -> list[str]:
        return []


# -------------------------------------------------------------------- liquidity capacity


@dataclass
class LiquidityCapacity(NoExpression):
    """weight x AUM <= k x ADTV: a per-name cap from trading volume (unknown ADTV = zero)."""

    cap: np.ndarray
    family: ClassVar[str] = "liquidity"
    FORM: ClassVar[tuple[FormField, ...]] = (
        FormField("constraints.aum_usd", "Fund size (USD)", "for the liquidity capacity"),
        FormField("constraints.liquidity_k", "Liquidity k", "weight x AUM <= k x ADTV"),
    )

    @staticmethod
    def rulebook(m: Methodology) -> list[str]:
        c = m.constraints
        if c.aum_usd is None:
            return []
        return [
            f"- Liquidity capacity: weight x USD {c.aum_usd / 1e6:g}M <= {c.liquidity_k:g} x ADTV."
        ]

    @classmethod
    def build(
        cls, m: Methodology, frame: pd.DataFrame, notes: list[str]
    ) -> LiquidityCapacity | None:
        c = m.constraints
        if c.aum_usd is None or c.liquidity_k is None:
            return None
        adtv = _numbers(frame, "adtv_usd").to_numpy(float)
        if np.isnan(adtv).any():
            notes.append("unknown ADTV counts as zero liquidity capacity")
        return cls(np.nan_to_num(adtv, nan=0.0) * c.liquidity_k / c.aum_usd)

    def tighten(self, ub: np.ndarray, reason: list[str]) -> tuple[np.ndarray, list[str]]:
        reason = ["liquidity" if self.cap[i] < ub[i] else reason[i] for i in range(len(ub))]
        return np.minimum(ub, self.cap), reason

    # the capacity is part of the per-name caps: no expression, check or binding of its own

    def violations(self, w, b, tol):
        return []

    def binding(self, w, b, tol):
        return []


# ---------------------------------------------------------------------------- UCITS / RIC


@dataclass
class Concentration:
    """A concentration rule (UCITS 5/10/40, RIC 25/5/50): enforced on buffered targets, checked
    on the legal rule. Not convex: names above the threshold are chosen by the optimizer's
    selection and passed in as a mask (``mask`` row ``index``)."""

    hard: ConcentrationRule
    target: ConcentrationRule
    index: int  # row of this rule in the stacked mask parameter
    family: ClassVar[str] = "concentration"
    FORM: ClassVar[tuple[FormField, ...]] = (
        FormField("constraints.ucits", "UCITS 5/10/40", "issuers above 5% together at most 40%"),
        FormField("constraints.ric", "US RIC 25/5/50", "issuers above 5% together at most 50%"),
        FormField("constraints.rule_buffer", "Rule buffer", "UCITS/RIC enforced at this fraction"),
    )

    @staticmethod
    def rulebook(m: Methodology) -> list[str]:
        c = m.constraints
        out = []
        if c.ucits:
            out.append(
                "- UCITS 5/10/40: no issuer above 10%, issuers above 5% together at most 40%; "
                f"enforced on buffered targets {_pct(0.05 * c.rule_buffer)}/"
                f"{_pct(0.10 * c.rule_buffer)}/{_pct(0.40 * c.rule_buffer)}."
            )
        if c.ric:
            out.append(
                "- US RIC 25/5/50: no issuer above 25%, issuers above 5% together at most 50%; "
                f"enforced on buffered targets {_pct(0.05 * c.rule_buffer)}/"
                f"{_pct(0.25 * c.rule_buffer)}/{_pct(0.50 * c.rule_buffer)}."
            )
        return out

    @classmethod
    def build_all(cls, m: Methodology) -> list[Concentration]:
        c = m.constraints
        rules = ([UCITS] if c.ucits else []) + ([RIC] if c.ric else [])
        return [cls(r, r.buffered(c.rule_buffer), k) for k, r in enumerate(rules)]

    @property
    def name(self) -> str:
        return self.hard.name

    def tighten(
        self, ub: np.ndarray, reason: list[str], max_weight: float
    ) -> tuple[np.ndarray, list[str]]:
        if self.target.cap < max_weight:
            return np.minimum(ub, self.target.cap), [self.target.name] * len(ub)
        return ub, reason

    def structure(self) -> tuple:
        return (self.target.name,)

    def shapes(self, n):
        return {}  # the stacked mask parameter is declared once for all rules (Parts.shapes)

    def values(self, b, masks):
        return {}

    def expressions(self, w, kappa, p, drop):
        if self.name in drop:
            return []
        return [(self.name, p["mask"][self.index] @ w <= p["climit"][self.index] * kappa)]

    def conflicts(self, b, parts):
        top = self.target.max_total(b.n_in)
        if top < 1 - TOL:
            return [
                f"{self.name} (buffered targets) holds at most {top:.1%} over "
                f"{b.n_in} names: add names or drop the rule"
            ]
        return []

    def violations(self, w, b, tol):
        return self.hard.violations(w, tol)

    def binding(self, w, b, tol):
        r = self.target
        big = w[w > r.threshold + tol].sum()
        if big >= r.limit - tol:
            return [f"{r.name} limit: names above {r.threshold:.2%} sum to {r.limit:.2%}"]
        return []


# --------------------------------------------------------------------------- group bounds


@dataclass
class GroupBounds:
    """Stage, country and commodity weights between bounds (one exposure row per bound)."""

    groups: list[tuple[str, np.ndarray, float, float]]  # (name, exposure row, lo, hi)
    family: ClassVar[str] = "group_bounds"
    FORM: ClassVar[tuple[FormField, ...]] = (
        FormField("constraints.stage_bounds", "Stage bounds", "stage -> [lower, upper]"),
        FormField("constraints.stage_weighting", "Stage weighting", "revenue_share or primary"),
        FormField("constraints.country_bounds", "Country bounds", "ISO code -> [lower, upper]"),
        FormField("constraints.commodity_bounds", "Commodity bounds", "commodity -> [lo, hi]"),
    )

    @staticmethod
    def rulebook(m: Methodology) -> list[str]:
        c = m.constraints

        def bounds(table: dict[str, tuple[float, float]]) -> list[str]:
            return [
                f"  - `{k}`: between {_pct(lo)} and {_pct(hi)}"
                for k, (lo, hi) in sorted(table.items())
            ]

        out: list[str] = []
        if c.stage_bounds:
            how = (
                "a company's weight is split over its stages by revenue share"
                if c.stage_weighting == "revenue_share"
                else "a company's whole weight counts in its primary stage"
            )
            out += [f"- Stage weights ({how}):", *bounds(c.stage_bounds)]
        if c.country_bounds:
            out += ["- Country weights (domicile):", *bounds(c.country_bounds)]
        if c.commodity_bounds:
            out += [
                "- Commodity weights (a company counts fully toward every commodity it lists):",
                *bounds(c.commodity_bounds),
            ]
        return out

    @classmethod
    def build(cls, m: Methodology, frame: pd.DataFrame) -> GroupBounds | None:
        c = m.constraints
        n = len(frame)
        groups: list[tuple[str, np.ndarray, float, float]] = []
        if c.stage_bounds:
            values, col = (
                stage_matrix(frame, c.stage_weighting),
                {s: i for i, s in enumerate(STAGES)},
            )
            for key, (lo, hi) in sorted(c.stage_bounds.items()):
                row = np.nansum(values[:, [col[s] for s in key.split("+")]], axis=1)
                groups.append((f"stage_bounds.{key}", row, lo, hi))
        if c.country_bounds:
            ex = country_exposure(frame)
            for key, (lo, hi) in sorted(c.country_bounds.items()):
                row = ex[key].to_numpy(float) if key in ex else np.zeros(n)
                groups.append((f"country_bounds.{key}", row, lo, hi))
        if c.commodity_bounds:
            ex = commodity_exposure(frame)
            for key, (lo, hi) in sorted(c.commodity_bounds.items()):
                row = ex[key].to_numpy(float) if key in ex else np.zeros(n)
                groups.append((f"commodity_bounds.{key}", row, lo, hi))
        return cls(groups) if groups else None

    def with_bounds(self, m: Methodology) -> GroupBounds:
        """The same exposure rows with ``m``'s bounds."""
        c = m.constraints
        bounds = {
            f"{table}.{key}": b
            for table in ("stage_bounds", "country_bounds", "commodity_bounds")
            for key, b in getattr(c, table).items()
        }
        return GroupBounds([(name, row, *bounds[name]) for name, row, _lo, _hi in self.groups])

    def structure(self) -> tuple:
        return tuple(g[0] for g in self.groups)

    def shapes(self, n):
        g = len(self.groups)
        return {"A": (g, n), "glo": (g,), "ghi": (g,)}

    def values(self, b, masks):
        return {
            "A": np.vstack([g[1] for g in self.groups]),
            "glo": np.array([g[2] for g in self.groups]),
            "ghi": np.array([g[3] for g in self.groups]),
        }

    def expressions(self, w, kappa, p, drop):
        out = []
        for g, (name, _row, _lo, _hi) in enumerate(self.groups):
            if name in drop:
                continue
            expo = p["A"][g] @ w
            out.append((name, expo >= p["glo"][g] * kappa))
            out.append((name, expo <= p["ghi"][g] * kappa))
        return out

    def conflicts(self, b, parts):
        out = []
        for name, row, lo, hi in self.groups:
            reach = float(np.sum(b.ub * row))
            if lo > reach + TOL:
                members = int((row > 0).sum())
                out.append(
                    f"{name} floor {lo:.1%} but its {members} eligible name(s) can hold at most "
                    f"{reach:.1%} under their caps: lower the floor or raise the caps"
                )
            outside = float(np.sum(b.ub * (1 - row)))
            if hi + outside < 1 - TOL:
                out.append(
                    f"{name} cap {hi:.1%} leaves {1 - hi:.1%} for other exposure but the rest "
                    f"can hold only {outside:.1%}: raise the cap"
                )
        for prefix in ("stage_bounds.", "country_bounds."):
            floors = sum(g[2] for g in self.groups if g[0].startswith(prefix))
            if floors > 1 + TOL:
                out.append(f"{prefix.rstrip('.')} floors sum to {floors:.1%} > 100%: lower them")
        return out

    def violations(self, w, b, tol):
        out = []
        for name, row, lo, hi in self.groups:
            e = float(row @ w)
            if e < lo - tol or e > hi + tol:
                out.append(f"{name} at {e:.4%} outside [{lo:.2%}, {hi:.2%}]")
        return out

    def binding(self, w, b, tol):
        out = []
        for name, row, lo, hi in self.groups:
            e = float(row @ w)
            if lo > 0 and e <= lo + tol:
                out.append(f"{name} >= {lo:g}")
            if hi < 1 and e >= hi - tol:
                out.append(f"{name} <= {hi:g}")
        return out


# --------------------------------------------------------------------------- China budget


@dataclass
class ChinaBudget:
    """Weighted average China score at most the budget (``max_china_score_avg``, or the
    tracking scheme's ``weighting.china_budget``; the lower of the two)."""

    scores: np.ndarray
    budget: float
    family: ClassVar[str] = "china_budget"
    FORM: ClassVar[tuple[FormField, ...]] = (
        FormField(
            "constraints.max_china_score_avg",
            "Max weighted China score",
            "weighted average of the China score (0-100)",
        ),
    )

    @staticmethod
    def rulebook(m: Methodology) -> list[str]:
        budgets = [
            x
            for x in (m.constraints.max_china_score_avg, m.weighting.china_budget)
            if x is not None
        ]
        if not budgets:
            return []
        return [f"- Weighted average Chinese-exposure score at most {min(budgets):g}."]

    @classmethod
    def build(
        cls, m: Methodology, frame: pd.DataFrame, in_universe: np.ndarray
    ) -> ChinaBudget | None:
        from exchina.core.errors import MissingDataError

        budgets = [
            b
            for b in (m.constraints.max_china_score_avg, m.weighting.china_budget)
            if b is not None
        ]
        if not budgets:
            return None
        scores = _numbers(frame, "china_score")
        if scores[in_universe].isna().any():
            raise MissingDataError("china_score missing for an eligible name (budget needs it)")
        return cls(scores.fillna(100.0).to_numpy(float), float(min(budgets)))

    def structure(self) -> tuple:
        return ("china",)

    def shapes(self, n):
        return {"china": (n,), "budget": ()}

    def values(self, b, masks):
        return {"china": self.scores, "budget": float(self.budget)}

    def expressions(self, w, kappa, p, drop):
        if "china_budget" in drop:
            return []
        return [("china_budget", p["china"] @ w <= p["budget"] * kappa)]

    def lowest(self, ub: np.ndarray) -> tuple[float, float]:
        """(room left, lowest weighted score) when the caps are filled lowest score first."""
        room, best = 1.0, 0.0
        for i in np.argsort(self.scores, kind="stable"):
            take = min(ub[i], room)
            best += take * self.scores[i]
            room -= take
            if room <= 0:
                break
        return float(room), float(best)

    def conflicts(self, b, parts):
        room, best = self.lowest(b.ub)
        if room <= TOL and best > self.budget + TOL:
            return [
                f"China-score budget {self.budget:g}: the lowest weighted score the caps "
                f"allow is {best:.2f}: raise the budget or the caps of low-score names"
            ]
        return []

    def violations(self, w, b, tol):
        if float(self.scores @ w) > self.budget + tol:
            return [f"weighted China score {self.scores @ w:.3f} > budget {self.budget:g}"]
        return []

    def binding(self, w, b, tol):
        if float(self.scores @ w) >= self.budget - tol:
            return [f"china_budget <= {self.budget:g}"]
        return []


# ------------------------------------------------------------------------------ turnover


@dataclass
class Turnover:
    """One-way turnover 0.5 x (sum |w - previous| + weight in names that left) at most the limit."""

    prev: np.ndarray
    outside: float  # previous weight in names no longer in the universe
    limit: float
    family: ClassVar[str] = "turnover"
    FORM: ClassVar[tuple[FormField, ...]] = (
        FormField("constraints.max_turnover", "Max one-way turnover", "per rebalance"),
    )

    @staticmethod
    def rulebook(m: Methodology) -> list[str]:
        t = m.constraints.max_turnover
        return [] if t is None else [f"- One-way turnover at most {_pct(t)} per rebalance."]

    @classmethod
    def build(
        cls, m: Methodology, frame: pd.DataFrame, previous: pd.Series | None
    ) -> Turnover | None:
        if previous is None or m.constraints.max_turnover is None:
            return None
        pw = previous.astype(float)
        prev = pw.reindex(frame.index).fillna(0.0).to_numpy(float)
        outside = float(pw[~pw.index.isin(frame.index)].sum())
        return cls(prev, outside, m.constraints.max_turnover)

    def turnover(self, w: np.ndarray) -> float:
        return float(0.5 * (np.abs(w - self.prev).sum() + self.outside))

    def structure(self) -> tuple:
        return ("turnover",)

    def shapes(self, n):
        return {"prev": (n,), "tbudget": ()}

    def values(self, b, masks):
        return {"prev": self.prev, "tbudget": max(2 * self.limit - self.outside, 0.0)}

    def expressions(self, w, kappa, p, drop):
        if "turnover" in drop:
            return []
        return [("turnover", cp.sum(cp.abs(w - p["prev"] * kappa)) <= p["tbudget"] * kappa)]

    def conflicts(self, b, parts):
        if self.outside > self.limit + TOL:
            return [
                f"max_turnover {self.limit:.1%} but {self.outside:.1%} sits in names that left "
                "the universe and must be sold: raise max_turnover"
            ]
        return []

    def violations(self, w, b, tol):
        t = self.turnover(w)
        if t > self.limit + tol:
            return [f"turnover {t:.4%} > max_turnover {self.limit:.2%}"]
        return []

    def binding(self, w, b, tol):
        if self.turnover(w) >= self.limit - tol:
            return [f"max_turnover <= {self.limit:g}"]
        return []


# ---------------------------------------------------------------------------- name count


@dataclass
class NameCount(NoExpression):
    """Between ``min_names`` and ``max_names`` constituents (not convex: the optimizer's
    selection fixes which names are held, then re-solves)."""

    min_names: int | None
    max_names: int | None
    family: ClassVar[str] = "name_count"
    FORM: ClassVar[tuple[FormField, ...]] = (
        FormField("constraints.min_names", "Min constituents", "at least this many names"),
        FormField("constraints.max_names", "Max constituents", "at most this many names"),
    )

    @staticmethod
    def rulebook(m: Methodology) -> list[str]:
        c = m.constraints
        if not (c.min_names or c.max_names):
            return []
        return [f"- Number of constituents between {c.min_names or 1} and {c.max_names or 'N'}."]

    @classmethod
    def build(cls, m: Methodology) -> NameCount | None:
        c = m.constraints
        if c.min_names is None and c.max_names is None:
            return None
        return cls(c.min_names, c.max_names)

    def conflicts(self, b, parts):
        out = []
        if self.min_names is not None and self.min_names > b.n_in:
            out.append(f"min_names {self.min_names} > {b.n_in} eligible names: lower min_names")
        if self.max_names is not None:
            top = np.sort(b.ub)[::-1][: self.max_names].sum()
            if top < 1 - TOL:
                out.append(
                    f"max_names {self.max_names} x per-name caps hold at most {top:.1%}: "
                    "raise max_names"
                )
            for r in parts.rules:
                if r.max_total(self.max_names) < 1 - TOL:
                    out.append(f"{r.name} needs more than max_names {self.max_names} names")
        return out

    def violations(self, w, b, tol):
        out = []
        held = int((w > ZERO).sum())
        if self.max_names is not None and held > self.max_names:
            out.append(f"{held} names held > max_names {self.max_names}")
        if self.min_names is not None and int((w >= HOLD_MIN - tol).sum()) < self.min_names:
            out.append(f"fewer than min_names {self.min_names} names held")
        return out

    def binding(self, w, b, tol):
        return []


# ------------------------------------------------------------------------------ the parts


# the families in the order they enter the problem, the checks and the rulebook
FAMILIES: tuple[type, ...] = (
    CapsAndFloors,
    LiquidityCapacity,
    Concentration,
    GroupBounds,
    ChinaBudget,
    Turnover,
    NameCount,
)


@dataclass
class Parts:
    """The constraint objects of one methodology on one universe."""

    caps: CapsAndFloors
    liquidity: LiquidityCapacity | None = None
    concentration: list[Concentration] = field(default_factory=list)
    groups: GroupBounds | None = None
    china: ChinaBudget | None = None
    turnover: Turnover | None = None
    names: NameCount | None = None

    def all(self) -> list[Any]:
        """Every present constraint, in problem order (caps, groups, China, turnover, rules)."""
        out: list[Any] = [self.caps]
        out += [x for x in (self.groups, self.china, self.turnover) if x is not None]
        out += self.concentration
        out += [x for x in (self.liquidity, self.names) if x is not None]
        return out

    @property
    def rules(self) -> list[ConcentrationRule]:
        """The buffered concentration targets the optimizer enforces."""
        return [c.target for c in self.concentration]

    @property
    def hard_rules(self) -> list[ConcentrationRule]:
        return [c.hard for c in self.concentration]

    def structure(self) -> tuple:
        return tuple(x.structure() for x in self.all())

    def shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for x in self.all():
            shapes |= x.shapes(n)
        if self.concentration:
            shapes["mask"] = (len(self.concentration), n)
            shapes["climit"] = (len(self.concentration),)
        return shapes

    def values(self, b: Bounds, masks: np.ndarray) -> dict[str, Any]:
        vals: dict[str, Any] = {}
        for x in self.all():
            vals |= x.values(b, masks)
        if self.concentration:
            vals["mask"] = masks
            vals["climit"] = np.array([c.target.limit for c in self.concentration])
        return vals

    def expressions(
        self, w: cp.Expression, kappa: Any, p: dict[str, Any], drop: frozenset[str]
    ) -> list[tuple[str, cp.Constraint]]:
        out: list[tuple[str, cp.Constraint]] = [("long_only", w >= 0)]
        for x in self.all():
            out += x.expressions(w, kappa, p, drop)
        return out

    def conflicts(self, b: Bounds) -> list[str]:
        if b.n_in == 0:
            return ["no eligible name can hold weight (empty universe or all caps zero)"]
        out = self.caps.conflicts(b, self)
        for r in self.concentration:
            out += r.conflicts(b, self)
        out += self.caps.floor_conflicts(b, self)
        for x in (self.groups, self.china, self.names, self.turnover):
            if x is not None:
                out += x.conflicts(b, self)
        return out

    def violations(self, w: np.ndarray, b: Bounds, tol: float) -> list[str]:
        out = []
        if abs(w.sum() - 1) > tol:
            out.append(f"weights sum to {w.sum():.8f}, not 1")
        if w.min(initial=0) < -tol:
            out.append(f"negative weight {w.min():.2e}")
        out += self.caps.violations(w, b, tol)
        for x in (self.groups, self.china, self.turnover, *self.concentration, self.names):
            if x is not None:
                out += x.violations(w, b, tol)
        return out

    def binding(self, w: np.ndarray, b: Bounds, tol: float) -> list[str]:
        out = self.caps.binding(w, b, tol)
        for x in (self.groups, self.china, self.turnover, *self.concentration):
            if x is not None:
                out += x.binding(w, b, tol)
        return out

    def families(self) -> list[str]:
        """Names of the constraint families that ``diagnose_infeasible`` drops one at a time."""
        fams = ["caps", "min_weight"]
        fams += [g[0] for g in self.groups.groups] if self.groups is not None else []
        fams += ["china_budget", "turnover", *(r.name for r in self.concentration)]
        return fams


def build_parts(
    m: Methodology,
    frame: pd.DataFrame,
    in_universe: np.ndarray,
    previous: pd.Series | None,
    notes: list[str],
    groups_like: GroupBounds | None = None,
) -> tuple[Parts, Bounds]:
    """Every constraint of ``m`` on the universe ``frame`` and the per-name bounds they set.
    ``groups_like``: group bounds already built on this frame, whose exposure rows are reused
    with ``m``'s bounds (a relaxation trial changes the bounds, not the exposures)."""
    c = m.constraints
    n = len(frame)
    concentration = Concentration.build_all(m)
    ub = np.full(n, c.max_weight)
    reason = ["max_weight"] * n
    for r in concentration:
        ub, reason = r.tighten(ub, reason, c.max_weight)
    liquidity = LiquidityCapacity.build(m, frame, notes)
    if liquidity is not None:
        ub, reason = liquidity.tighten(ub, reason)
    names = NameCount.build(m)
    lb = np.where(in_universe, c.min_weight, 0.0)
    parts = Parts(
        caps=CapsAndFloors(has_floor=bool(np.any(lb > 0)) or c.min_names is not None),
        liquidity=liquidity,
        concentration=concentration,
        groups=GroupBounds.build(m, frame) if groups_like is None else groups_like.with_bounds(m),
        china=ChinaBudget.build(m, frame, in_universe),
        turnover=Turnover.build(m, frame, previous),
        names=names,
    )
    bounds = Bounds(
        tickers=frame.index.astype(str).tolist(),
        ub=np.where(in_universe, ub, 0.0),
        lb=lb,
        cap_reason=reason,
        in_universe=in_universe,
    )
    return parts, bounds


def constraint_rulebook(m: Methodology) -> list[str]:
    """The rulebook's constraint section, one sentence per family in registry order."""
    order = (CapsAndFloors, Concentration, GroupBounds, ChinaBudget, LiquidityCapacity)
    out: list[str] = []
    for fam in (*order, Turnover, NameCount):
        out += fam.rulebook(m)
    return out + _when_rules_cannot_hold(m)


def _when_rules_cannot_hold(m: Methodology) -> list[str]:
    """The rulebook's statement of the top-up and of the relaxation order."""
    from exchina.index.relaxation import RELAXABLE

    c = m.constraints
    out = []
    if c.min_constituents:
        out.append(
            f"- At least {c.min_constituents} constituents: when fewer names pass the screens, "
            "the names that failed only the size, liquidity or history screens are added, "
            "largest free-float market cap first (a top-up, reported as relaxed)."
        )
    if not c.relax:
        out.append(
            "- When the constraints cannot all hold the rebalance is not made and the conflict "
            "is reported (no rule is relaxed)."
        )
        return out
    out.append(
        "- When the constraints cannot all hold, these rules give way, in this order and each "
        "by the least amount that restores a solution (every relaxation is published as "
        "relaxed: rule, amount, names); no other rule is relaxed:"
    )
    out += [
        f"  {i}. `{r.rule}` by at most {r.limit:g}: {RELAXABLE[r.rule]}."
        for i, r in enumerate(c.relax, 1)
    ]
    return out


def form_fields() -> list[FormField]:
    """Every methodology key a constraint family reads, for the app's methodology form."""
    return [f for fam in FAMILIES for f in fam.FORM]
