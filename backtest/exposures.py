"""Where the index's weight sits through time: by stage, country and Chinese-exposure band.

``universe`` describes the names: either one frame indexed by ticker (static attributes) or a long
frame with a ``date`` column (the universe as built at each rebalance, as ``run_backtest`` keeps
it), so each rebalance is described by what was known at that rebalance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def china_band(score: pd.Series) -> pd.Series:
    """The Chinese-exposure band of each 0-100 China score, labelled as the index layer labels
    them (``0-10``, ``10-25``, ``25-50``, ``50-100``; NaN -> ``unknown``)."""
    from exchina.index.exposures import china_band as band

    bands = [band(float(v)) for v in score.astype(float)]
    return pd.Series(bands, index=score.index, dtype="string", name="china_band")


def snapshots(universe: pd.DataFrame, columns: list[str]) -> Callable[[pd.Timestamp], pd.DataFrame]:
    """A lookup ``date -> universe frame (indexed by ticker, only ``columns``)`` describing the names
    at ``date``: the latest snapshot on or before it (the first one for earlier dates)."""
    cols = [c for c in columns if c in universe.columns]
    if "date" not in universe.columns:
        static = universe[cols]
        return lambda date: static
    frames = {
        d: g.set_index("ticker")[cols]
        for d, g in universe[["ticker", *cols]].groupby(
            pd.DatetimeIndex(universe["date"]), sort=True
        )
    }
    dates = pd.DatetimeIndex(list(frames))

    def at(date: pd.Timestamp) -> pd.DataFrame:
        pos = max(int(dates.searchsorted(pd.Timestamp(date), side="right")) - 1, 0)
        return frames[dates[pos]]

    return at


def column_for(by: str) -> str:
    return "china_score" if by == "china_band" else by


def group_values(universe: pd.DataFrame, by: str) -> pd.Series:
    if by == "china_band":
        return china_band(universe["china_score"])
    if by not in universe.columns:
        raise KeyError(f"universe has no column {by!r}")
    return universe[by].astype("string").fillna("unknown")


def exposures(
    weights: pd.DataFrame, universe: pd.DataFrame, by: str = "primary_stage"
) -> pd.DataFrame:
    """Sum of weights per group (``primary_stage``, ``country``, ``china_band`` or any universe
    column) at each row of ``weights`` (date x ticker); names the universe does not describe
    count as 'unknown'. Rows sum to the row's total weight."""
    at = snapshots(universe, [column_for(by)])
    rows = {}
    for i, date in enumerate(pd.DatetimeIndex(weights.index)):
        w = weights.iloc[i]
        w = w[w.fillna(0.0) != 0.0]
        groups = group_values(at(date), by).reindex(w.index)
        rows[date] = w.groupby(groups.fillna("unknown")).sum()
    out = pd.DataFrame(rows).T.fillna(0.0).sort_index(axis=1)
    out.index = pd.DatetimeIndex(out.index, name="date")
    out.columns.name = by
    return out


def china_exposure(
    weights: pd.DataFrame, universe: pd.DataFrame, column: str = "china_score"
) -> pd.Series:
    """Weight-averaged ``column`` of each row of ``weights``, over names with a value: the China
    score (0-100) by default, or ``confidence`` (0-1) for the evidence behind it."""
    at = snapshots(universe, [column])
    out = {}
    for i, date in enumerate(pd.DatetimeIndex(weights.index)):
        w = weights.iloc[i]
        w = w[w.fillna(0.0) != 0.0]
        frame = at(date)
        if column not in frame:
            out[date] = np.nan
            continue
        score = frame[column].astype(float).reindex(w.index)
        known = score.notna()
        out[date] = (
            float((w[known] * score[known]).sum() / w[known].sum()) if known.any() else np.nan
        )
    return pd.Series(out, name=column, dtype=float).rename_axis("date")
