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
    if "near_miss" not in universe.columns:
        return universe.assign(top_up=False), None
    eligible = universe["eligible"].to_numpy(dtype=bool)
    flag, relaxation = top_up_names(
        universe.index,
        eligible,
        universe["near_miss"].to_numpy(dtype=bool),
        pd.to_numeric(universe["float_mcap_usd"], errors="coerce").to_numpy(float),
        universe["reasons"].to_numpy(dtype=object),
        methodology,
    )
    if relaxation is None:
        return universe.assign(top_up=False), None
    return universe.assign(eligible=eligible | flag, top_up=flag), relaxation


def top_up_names(
    tickers: pd.Index,
    eligible: np.ndarray,
    near_miss: np.ndarray,
    float_mcap: np.ndarray,
    reasons: np.ndarray,
    methodology: Methodology,
) -> tuple[np.ndarray, Relaxation | None]:
    """``top_up`` on the universe's columns as arrays: which names it adds (a mask) and the
    relaxation that reports them (None when none)."""
    flag = np.zeros(len(tickers), dtype=bool)
    want = methodology.constraints.min_constituents
    short = 0 if want is None else want - int(eligible.sum())
    if short <= 0:
        return flag, None
    pool = np.flatnonzero(~eligible & near_miss)
    mcap = np.where(np.isnan(float_mcap[pool]), 0.0, float_mcap[pool])
    names = tickers.to_numpy(dtype=object)
    picked = pool[np.lexsort((names[pool].astype(str), -mcap))][:short]
    if not len(picked):
        return flag, None
    added = [str(t) for t in names[picked]]
    flag[picked] = True
    relaxation = Relaxation(
        rule="top_up",
        amount=float(len(added)),
        limit=float(want or 0),
        breaches=tuple(f"{t} added: {r}" for t, r in zip(added, reasons[picked], strict=True)),
        names=tuple(added),
    )
    return flag, relaxation
