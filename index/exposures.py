"""Exposure matrices of a universe frame: how much of each name's weight counts in each stage,
country, commodity and Chinese-exposure band. Used by the optimizer's group bounds and by the
rebalance report, so both count weight the same way.

Stages: ``revenue_share`` splits a company over the stages it lists by revenue share; listed
stages without a known share split the remainder equally (all unknown -> equal split), and known
shares that sum below one are scaled up to one. ``primary`` puts the whole weight in the primary
stage. Commodities: a company counts fully toward every commodity it lists (revenue by commodity
is not in the master), so a commodity cap binds anyone touching it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from exchina.universe.rules import STAGES
from exchina.universe.stages import parse_stages, primary_stage

CHINA_BANDS: tuple[tuple[float, float], ...] = ((0, 10), (10, 25), (25, 50), (50, 100))


def _split(text: str) -> dict[str, float]:
    shares = parse_stages(text)
    known = {s: v for s, v in shares.items() if not math.isnan(v)}
    unknown = [s for s in shares if math.isnan(shares[s])]
    total = sum(known.values())
    out: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    if unknown and total < 1:
        for s in unknown:
            out[s] = (1 - total) / len(unknown)
        out.update(known)
    elif total > 0:
        out.update({s: v / total for s, v in known.items()})
    else:  # every share known and zero: treat as unknown
        out.update({s: 1 / len(shares) for s in shares})
    return out


def stage_exposure(frame: pd.DataFrame, mode: str = "revenue_share") -> pd.DataFrame:
    """tickers x stages; each row sums to one.

    Reads ``stage_shares`` when present (the master's stage text with revenue shares), else
    ``stages`` (``mining:0.7;magnet`` style, shares optional), and in ``primary`` mode
    ``primary_stage`` when present. Each distinct text is parsed once.
    """
    text = frame["stages"].fillna("").astype(str) if "stages" in frame else None
    if "stage_shares" in frame:
        shares = frame["stage_shares"]
        has = shares.notna() & shares.astype(str).str.strip().ne("")
        text = shares.astype(str).where(has, text)
    if text is None:
        raise KeyError("universe frame has neither 'stages' nor 'stage_shares'")
    if mode == "primary":
        prim = frame["primary_stage"] if "primary_stage" in frame else pd.Series(None, frame.index)
        known = prim.isin(STAGES)
        memo = {t: primary_stage(parse_stages(t))[0] for t in text[~known].unique()}
        prim = prim.where(known, text.map(memo))
        rows = (prim.to_numpy()[:, None] == np.array(STAGES)[None, :]).astype(float)
    else:
        uniq, codes = np.unique(text.to_numpy(dtype=str), return_inverse=True)
        table = np.array([[_split(t)[s] for s in STAGES] for t in uniq]).reshape(-1, len(STAGES))
        rows = table[codes]
    return pd.DataFrame(
        rows.reshape(len(frame), len(STAGES)), index=frame.index, columns=list(STAGES)
    )


def country_exposure(frame: pd.DataFrame) -> pd.DataFrame:
    """tickers x countries (one-hot on domicile)."""
    return pd.get_dummies(frame["country"].astype(str), dtype=float).reindex(frame.index)


def commodity_exposure(frame: pd.DataFrame) -> pd.DataFrame:
    """tickers x commodities (1 for every commodity a company lists)."""
    lists = frame["commodities"].fillna("").astype(str).str.split(";")
    names = sorted({c.strip() for items in lists for c in items if c.strip()})
    data = np.array([[float(c in {x.strip() for x in items}) for c in names] for items in lists])
    return pd.DataFrame(data.reshape(len(frame), len(names)), index=frame.index, columns=names)


def china_band(score: float) -> str:
    """The Chinese-exposure band label of a score: 0-10, 10-25, 25-50, 50-100 (upper-inclusive
    at 100 only; NaN -> unknown)."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "unknown"
    for lo, hi in CHINA_BANDS:
        if lo <= score < hi or (hi == 100 and score == 100):
            return f"{lo}-{hi}"
    return "unknown"


def weights_by(weights: pd.Series, exposure: pd.DataFrame) -> dict[str, float]:
    """Portfolio weight in each column of an exposure matrix (names aligned on the index)."""
    w = weights.reindex(exposure.index).fillna(0.0)
    return {str(c): float(v) for c, v in (exposure.T @ w).items()}
