"""Iterative capping, the fast path for capped market-cap weights, and the UCITS/RIC rules.

``cap_weights`` is the algorithm index providers publish: cap every name above the cap, hand the
excess to the uncapped names in proportion to their weights, repeat until nothing breaches. Pro
rata redistribution is exactly the minimiser of sum((w - b)^2 / b) under the caps, so it agrees
with ``optimize`` (scheme capped_mcap, relative distance) when only per-name caps apply.

UCITS 5/10/40 and RIC 25/5/50 are "concentration rules": each name at most ``cap``, and names
above ``threshold`` together at most ``limit``. ``cap_weights`` applies them the provider way,
on buffered targets (4.5%/9%/36% for UCITS with the default buffer 0.9): after per-name capping,
while the names above the threshold sum to more than the limit, the smallest of them is capped
at the threshold and its excess redistributed pro rata to the names below their caps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchina.core.errors import InfeasibleError

TOL = 1e-9


@dataclass(frozen=True)
class ConcentrationRule:
    """Names above ``threshold`` together at most ``limit``; every name at most ``cap``."""

    name: str
    threshold: float
    cap: float
    limit: float

    def buffered(self, factor: float) -> ConcentrationRule:
        """The rule on buffered targets (each number x ``factor``)."""
        return ConcentrationRule(
            self.name, self.threshold * factor, self.cap * factor, self.limit * factor
        )

    def violations(self, weights: pd.Series | np.ndarray, tol: float = 1e-6) -> list[str]:
        """What breaks the rule (empty when it holds)."""
        w = np.asarray(weights, dtype=float)
        out = []
        if w.size and w.max() > self.cap + tol:
            out.append(f"{self.name}: a name at {w.max():.4%} > {self.cap:.2%}")
        big = w[w > self.threshold + tol].sum()
        if big > self.limit + tol:
            out.append(
                f"{self.name}: names above {self.threshold:.2%} sum to {big:.4%} > {self.limit:.2%}"
            )
        return out

    def max_total(self, n: int) -> float:
        """The most weight ``n`` names can hold under the rule (cheap feasibility check)."""
        best = 0.0
        for k in range(0, n + 1):
            big = min(k * self.cap, self.limit) if k else 0.0
            best = max(best, big + (n - k) * self.threshold)
        return best


UCITS = ConcentrationRule("UCITS 5/10/40", 0.05, 0.10, 0.40)
RIC = ConcentrationRule("RIC 25/5/50", 0.05, 0.25, 0.50)


def _cap_to(basis: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Cap, redistribute the excess pro rata over uncapped names, repeat."""
    if caps.sum() < 1 - TOL:
        raise InfeasibleError(
            "caps cannot sum to one",
            [
                f"{len(caps)} names with caps summing to {caps.sum():.4f} < 1 (raise the caps or "
                "add names)"
            ],
        )
    w = basis / basis.sum()
    fixed = np.zeros(len(w), dtype=bool)
    for _ in range(len(w) + 1):
        over = (~fixed) & (w > caps + TOL)
        if not over.any():
            break
        fixed |= over
        w = np.where(fixed, caps, w)
        free_mass = basis[~fixed].sum()
        room = 1.0 - caps[fixed].sum()
        if free_mass <= 0:
            # every remaining name has zero basis: spread the room evenly
            free = ~fixed
            w = np.where(free, room / max(free.sum(), 1), w)
        else:
            w = np.where(fixed, caps, basis * room / free_mass)
    return w


def cap_weights(
    basis: pd.Series,
    cap: float,
    *,
    rule: ConcentrationRule | None = None,
    buffer: float = 0.9,
) -> pd.Series:
    """Capped weights from non-negative ``basis`` (e.g. free-float market caps).

    ``rule`` (``UCITS`` or ``RIC``) is applied on targets buffered by ``buffer``. Raises
    ``InfeasibleError`` when the caps cannot hold 100%.
    """
    b = basis.astype(float).clip(lower=0.0).to_numpy()
    if len(b) == 0 or b.sum() <= 0:
        raise InfeasibleError("nothing to weight", ["no name with a positive basis weight"])
    cap_n = cap if rule is None else min(cap, rule.cap * buffer)
    caps = np.full(len(b), cap_n)
    w = _cap_to(b, caps)
    if rule is not None:
        target = rule.buffered(buffer)
        if target.max_total(len(b)) < 1 - TOL:
            raise InfeasibleError(
                f"{rule.name} cannot hold 100% with {len(b)} names",
                [
                    f"{rule.name} on buffered targets holds at most "
                    f"{target.max_total(len(b)):.1%} over {len(b)} names: add names"
                ],
            )
        demoted = np.zeros(len(b), dtype=bool)
        for _ in range(len(b) + 1):
            big = (~demoted) & (w > target.threshold + TOL)
            if w[big].sum() <= target.limit + TOL:
                break
            # the smallest big name (ties: smaller basis, then the later one) goes to the threshold
            smallest = min(np.flatnonzero(big), key=lambda i: (w[i], b[i], -i))
            demoted[smallest] = True
            caps = np.where(demoted, target.threshold, cap_n)
            w = _cap_to(b, caps)
    return pd.Series(w, index=basis.index, name="weight")
