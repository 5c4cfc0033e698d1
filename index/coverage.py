"""How many priced names a methodology needs, and the coverage check every rebalance runs first.

``names_needed``: the largest of ``min_constituents``, ``min_names`` and the ``ceil(1 /
max_weight)`` names the per-name caps need to reach 100%. ``require_coverage`` passes it to
``exchina.universe.coverage.check_coverage``: a market that prices fewer of the companies the
rules consider is missing data (exit 4), not an infeasible methodology (exit 3).
"""

from __future__ import annotations

import math

import pandas as pd

from exchina.core.market import Market
from exchina.index.methodology import Methodology
from exchina.universe.coverage import check_coverage


def names_needed(m: Methodology) -> tuple[int, str]:
    """The fewest priced names ``m`` can hold, and which rule sets that number."""
    c = m.constraints
    options = [
        (c.min_constituents or 0, "min_constituents"),
        (c.min_names or 0, "min_names"),
        (math.ceil(1.0 / c.max_weight - 1e-9), f"1 / max_weight {c.max_weight:g}"),
    ]
    return max(options, key=lambda o: o[0])


def require_coverage(
    market: Market,
    m: Methodology,
    companies: pd.DataFrame,
    date: str | pd.Timestamp,
    shares: pd.DataFrame | None = None,
) -> None:
    """``MissingDataError`` (exit 4) when ``market`` prices too few of the companies ``m``'s
    universe rules consider at ``date`` (see ``exchina.universe.coverage``)."""
    n, rule = names_needed(m)
    check_coverage(market, m.universe, companies, date, n, shares, f" ({m.name}: {rule})")
