"""How many names a methodology needs, and the data checks every rebalance runs with it.

``names_needed``: the larger of ``min_names`` and the ``ceil(1 / max_weight)`` names the per-name
caps need to reach 100% (``min_constituents`` is not a floor: the top-up meets it from the
near-misses). ``require_coverage`` and ``require_eligible_data`` pass it to
``exchina.universe.coverage``: a market that prices too few of the companies the rules
consider, or whose missing data is what keeps too few eligible, is missing data (exit 4), not
an infeasible methodology (exit 3).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from exchina.core.market import Market
from exchina.index.methodology import Methodology
from exchina.universe.coverage import check_coverage, check_eligible_data

if TYPE_CHECKING:
    from exchina.universe.inputs import UniverseInputs


def names_needed(m: Methodology) -> tuple[int, str]:
    """The fewest priced names ``m`` can hold, and which rule sets that number."""
    c = m.constraints
    options = [
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
    inputs: UniverseInputs | None = None,
) -> None:
    """``MissingDataError`` (exit 4) when ``market`` prices too few of the companies ``m``'s
    universe rules consider at ``date`` (see ``exchina.universe.coverage``; ``inputs``: the
    master and market prepared once, ``UniverseInputs``)."""
    n, rule = names_needed(m)
    why = f" ({m.name}: {rule})"
    check_coverage(market, m.universe, companies, date, n, shares, why, inputs=inputs)


def require_eligible_data(
    universe: pd.DataFrame,
    failures: pd.DataFrame,
    m: Methodology,
    date: str | pd.Timestamp,
    label: str,
) -> None:
    """``MissingDataError`` (exit 4) when too few names are eligible for ``m`` and those failing
    only for want of data would make up the difference (see ``exchina.universe.coverage``;
    ``failures``: the screens' failures)."""
    n, rule = names_needed(m)
    check_eligible_data(universe, failures, date, label, n, f" ({m.name}: {rule})")
