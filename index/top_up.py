"""The top-up rule: a minimum constituent count filled from the names the screens just missed.

When fewer names pass the screens than ``constraints.min_constituents``, the names that failed
only the size, liquidity or history screens (``near_miss`` in ``build_universe``) are added,
largest float market cap first (ties by ticker), until the count is reached or none is left;
no name failing a China, status, stage or commodity screen is ever added. The names added are
reported as a relaxation (rule ``top_up``), as index providers publish their top-ups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exchina.index.methodology import Methodology
from exchina.index.relaxation import Relaxation


def top_up(
    universe: pd.DataFrame, methodology: Methodology
) -> tuple[pd.DataFrame, Relaxation | None]:
    """``universe`` with ``eligible`` topped up to ``min_constituents`` and a ``top_up`` column,
    and the relaxation that reports it (None when nothing was added)."""
    eligible = universe["eligible"].astype(bool)
    want = methodology.constraints.min_constituents
    short = 0 if want is None else want - int(eligible.sum())
    if short <= 0 or "near_miss" not in universe.columns:
        return universe.assign(top_up=False), None
    pool = universe[~eligible & universe["near_miss"].astype(bool)]
    mcap = pd.to_numeric(pool["float_mcap_usd"], errors="coerce").fillna(0.0).to_numpy(float)
    order = np.lexsort((pool.index.astype(str).to_numpy(), -mcap))
    added = [str(t) for t in pool.index[order][:short]]
    if not added:
        return universe.assign(top_up=False), None
    flag = universe.index.isin(added)
    out = universe.assign(eligible=eligible.to_numpy() | flag, top_up=flag)
    reasons = universe["reasons"].reindex(added).astype(str)
    relaxation = Relaxation(
        rule="top_up",
        amount=float(len(added)),
        limit=float(want or 0),
        breaches=tuple(f"{t} added: {r}" for t, r in reasons.items()),
        names=tuple(added),
    )
    return out, relaxation
