"""Rules kept, or relaxed by name, when they cannot all hold.

A methodology says what happens when its constraints have no solution. By default nothing is
relaxed: the rebalance fails with ``InfeasibleError`` (exit 3) naming the conflict. Otherwise
``[[constraints.relax]]`` lists rule families in the order they may give way, each with a limit
(``RELAXABLE`` gives the unit of each). The solve then relaxes as little as possible, in that
order: the first family is relaxed by the smallest amount (bisection to 1/16 of its limit) at
which the problem is feasible with the later families at their limits, that amount is fixed,
then the second family, and so on; no family is ever dropped. Every relaxation is a result
(``Relaxation``: rule, amount, limit, the breaches of the strict rules and the names they
concern) shown by the CLI, ``report.json``, the backtest's weights and metrics, and the app.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exchina.index.methodology import Methodology

BISECTIONS = 4  # amounts are found to limit / 2**4

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


def relax_in_order(
    m: Methodology,
    attempt: Callable[[Methodology], Any | None],
) -> tuple[Any, dict[str, float]] | None:
    """The lexicographically smallest relaxation in ``m``'s order for which ``attempt`` (a solve
    returning a result, or None when infeasible) succeeds: (result, amounts), or None when even
    every family at its limit is infeasible."""
    steps = list(m.constraints.relax)
    amounts = {s.rule: s.limit for s in steps}
    best = attempt(relaxed_methodology(m, amounts))  # the result at the current ``amounts``
    if best is None:
        return None
    for s in steps:
        trial = {**amounts, s.rule: 0.0}
        if (found := attempt(relaxed_methodology(m, trial))) is not None:
            amounts, best = trial, found
            continue
        lo, hi = 0.0, s.limit
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2
            if (found := attempt(relaxed_methodology(m, {**amounts, s.rule: mid}))) is not None:
                hi, best = mid, found
            else:
                lo = mid
        amounts[s.rule] = hi  # ``best`` is the result at ``hi`` (at the limit: from before)
    return best, amounts


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
