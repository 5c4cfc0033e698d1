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
    eligible = universe["eligible"].to_numpy(dtype=bool)
    want = methodology.constraints.min_constituents
    short = 0 if want is None else want - int(eligible.sum())
    if short <= 0 or "near_miss" not in universe.columns:
        return universe.assign(top_up=False), None
    pool = np.flatnonzero(~eligible & universe["near_miss"].to_numpy(dtype=bool))
    mcap = pd.to_numeric(universe["float_mcap_usd"], errors="coerce").to_numpy(float)[pool]
    mcap = np.where(np.isnan(mcap), 0.0, mcap)
    names = universe.index.to_numpy(dtype=object)
    picked = pool[np.lexsort((names[pool].astype(str), -mcap))][:short]
    if not len(picked):
        return universe.assign(top_up=False), None
    added = [str(t) for t in names[picked]]
    flag = np.zeros(len(universe), dtype=bool)
    flag[picked] = True
    out = universe.assign(eligible=eligible | flag, top_up=flag)
    reasons = universe["reasons"].to_numpy(dtype=object)[picked]
    relaxation = Relaxation(
        rule="top_up",
        amount=float(len(added)),
        limit=float(want or 0),
        breaches=tuple(f"{t} added: {r}" for t, r in zip(added, reasons, strict=True)),
        names=tuple(added),
    )
    return out, relaxation
