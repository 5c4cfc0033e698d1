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
from functools import lru_cache

import numpy as np
import pandas as pd

from exchina.universe.rules import STAGES
from exchina.universe.stages import (
    SHARE_COLUMNS,
    SHARE_SUM_TOLERANCE,
    parse_stages,
    primary_stage,
)

_COL = {s: i for i, s in enumerate(STAGES)}
CHINA_BANDS: tuple[tuple[float, float], ...] = ((0, 10), (10, 25), (25, 50), (50, 100))


def _parsed(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(listed, shares): names x stages, whether each stage is listed in ``stages`` text
    (missing = none) and its share written there (NaN = none)."""
    rows = [_parsed_one("" if _missing(t) else str(t)) for t in text.to_numpy(dtype=object)]
    if not rows:
        return np.zeros((0, len(STAGES)), dtype=bool), np.full((0, len(STAGES)), np.nan)
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


@lru_cache(maxsize=4096)
def _parsed_one(text: str) -> tuple[tuple[bool, ...], tuple[float, ...]]:
    """One ``stages`` text parsed (a universe repeats a few texts at every review)."""
    parsed = parse_stages(text)
    return (
        tuple(s in parsed for s in STAGES),
        tuple(float(parsed[s]) if s in parsed else np.nan for s in STAGES),
    )


def _split(listed: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Each name's weight per stage, rows summing to one: known shares as given and the rest
    split equally over the listed stages without one; known shares summing below one with no
    unknown stage scaled up to one; every listed share known and zero -> equal split."""
    known = listed & ~np.isnan(shares)
    unknown = listed & ~known
    total = np.where(known, shares, 0.0).sum(axis=1, keepdims=True)
    n_unknown = unknown.sum(axis=1, keepdims=True)
    n_listed = listed.sum(axis=1, keepdims=True)
    fill = np.where(known, shares, 0.0) + np.where(
        unknown, (1 - total) / np.maximum(n_unknown, 1), 0.0
    )
    scaled = np.where(known, shares, 0.0) / np.where(total > 0, total, 1.0)
    equal = listed / np.maximum(n_listed, 1)
    return np.where((n_unknown > 0) & (total < 1), fill, np.where(total > 0, scaled, equal))


def stage_exposure(frame: pd.DataFrame, mode: str = "revenue_share") -> pd.DataFrame:
    """tickers x stages; each row sums to one.

    Reads ``stages`` (``mining:0.7;magnet`` style, shares optional) with, when present, the
    universe's ``share_<stage>`` columns (NaN = listed, share unknown; they replace shares
    written in the text), and in ``primary`` mode ``primary_stage`` when present.
    """
    return pd.DataFrame(stage_matrix(frame, mode), index=frame.index, columns=list(STAGES))


def stage_matrix(frame: pd.DataFrame, mode: str = "revenue_share") -> np.ndarray:
    """``stage_exposure`` as an array (names x ``STAGES``), without the frame around it."""
    if "stages" not in frame:
        raise KeyError("universe frame has no 'stages' column")
    listed, shares = _parsed(frame["stages"])
    if all(c in frame for c in SHARE_COLUMNS):
        # column by column: a multi-column take of the wide frame costs several times more
        given = np.column_stack([frame[c].to_numpy(dtype=float) for c in SHARE_COLUMNS])
        shares = np.where(listed, given.reshape(len(frame), len(SHARE_COLUMNS)), np.nan)
        total = np.where(np.isnan(shares), 0.0, shares).sum(axis=1)
        if (bad := np.flatnonzero(total > 1.0 + SHARE_SUM_TOLERANCE)).size:
            raise ValueError(f"revenue shares sum to {total[bad[0]]:g}, must be <= 1")
    if mode == "primary":
        prim = frame["primary_stage"] if "primary_stage" in frame else pd.Series(None, frame.index)
        known = prim.isin(STAGES).to_numpy()
        chosen = prim.to_numpy(dtype=object).copy()
        for i in np.flatnonzero(~known):
            row = {s: float(shares[i, j]) for j, s in enumerate(STAGES) if listed[i, j]}
            chosen[i] = primary_stage(row)[0]
        rows = (chosen[:, None] == np.array(STAGES, dtype=object)[None, :]).astype(float)
    else:
        rows = _split(listed, shares)
    return rows.reshape(len(frame), len(STAGES))


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
