"""Exposure matrices of a universe frame: how much of each name's weight counts in each stage,
country, commodity and Chinese-exposure band. Used by the optimizer's group bounds and by the
rebalance report, so both count weight the same way.

Stages: ``revenue_share`` splits a company over its stages by revenue share (the universe's
``share_<stage>`` columns, which carry dated stage evidence in force at the review, else the
master's shares); listed
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
from exchina.universe.stages import SHARE_COLUMNS, parse_stages, primary_stage

CHINA_BANDS: tuple[tuple[float, float], ...] = ((0, 10), (10, 25), (25, 50), (50, 100))


def _split(shares: dict[str, float]) -> dict[str, float]:
    """One company's listed stages (share or NaN = unknown) -> weight per stage, summing to 1."""
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


def _with_shares(text: pd.Series, shares: pd.DataFrame) -> pd.Series:
    """Each listed stage of ``text`` with its share from ``shares`` (``share_<stage>``) written
    in, e.g. ``mining;magnet`` + (0.7, NaN) -> ``mining:0.7;magnet``."""
    values = shares.to_numpy(dtype=float)
    col = {s: i for i, s in enumerate(STAGES)}
    out = []
    for row, listed in zip(values, text, strict=True):
        parts = []
        for s in (x for x in listed.split(";") if x):
            v = row[col[s]]
            parts.append(s if math.isnan(v) else f"{s}:{float(v)!r}")
        out.append(";".join(parts))
    return pd.Series(out, index=text.index, dtype=object)


def stage_exposure(frame: pd.DataFrame, mode: str = "revenue_share") -> pd.DataFrame:
    """tickers x stages; each row sums to one.

    Reads ``stages`` (``mining:0.7;magnet`` style, shares optional) with, when present, the
    universe's ``share_<stage>`` columns (NaN = listed, share unknown), and in ``primary`` mode
    ``primary_stage`` when present. Each distinct position is split once.
    """
    if "stages" not in frame:
        raise KeyError("universe frame has no 'stages' column")
    text = frame["stages"].fillna("").astype(str)
    if all(c in frame for c in SHARE_COLUMNS):
        text = _with_shares(text, frame[SHARE_COLUMNS])
    if mode == "primary":
        prim = frame["primary_stage"] if "primary_stage" in frame else pd.Series(None, frame.index)
        known = prim.isin(STAGES)
        memo = {t: primary_stage(parse_stages(t))[0] for t in text[~known].unique()}
        prim = prim.where(known, text.map(memo))
        rows = (prim.to_numpy()[:, None] == np.array(STAGES)[None, :]).astype(float)
    else:
        uniq, codes = np.unique(text.to_numpy(dtype=str), return_inverse=True)
        splits = [_split(parse_stages(t)) for t in uniq]
        table = np.array([[d[s] for s in STAGES] for d in splits]).reshape(-1, len(STAGES))
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
