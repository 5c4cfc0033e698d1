"""Which groups made the return: contribution by stage or country for each holding period.

Between two rebalances the index is a buy-and-hold portfolio, so its price return over the period
is exactly ``sum_i w_i x R_i`` with ``w_i`` the weights set at the first rebalance and ``R_i`` each
name's USD price return over the period (a name without a price is held at its last one, as in
``simulate``). Grouping that sum gives contributions that add up to the period's return before
costs.
"""

from __future__ import annotations

import pandas as pd

from exchina.backtest.exposures import column_for, group_values, snapshots


def attribution(
    prices_usd: pd.DataFrame,
    weights: pd.DataFrame,
    universe: pd.DataFrame,
    by: str = "primary_stage",
) -> pd.DataFrame:
    """One row per (period, group): ``period_start``, ``period_end``, ``group``, ``weight`` (at
    the start), ``return`` (the group's own return, weight-averaged) and ``contribution``.

    ``prices_usd``: dates x tickers in USD; ``weights``: target weights per rebalance date (the
    last period runs to the last price date)."""
    px = prices_usd.ffill()
    dates = [*weights.index, px.index[-1]]
    at = snapshots(universe, [column_for(by)])
    rows = []
    for k, start in enumerate(weights.index):
        end = dates[k + 1]
        if end <= start:
            continue
        w = weights.loc[start]
        w = w[w.fillna(0.0) != 0.0]
        ret = px.loc[end, w.index] / px.loc[start, w.index] - 1.0
        groups = group_values(at(pd.Timestamp(start)), by).reindex(w.index)
        frame = pd.DataFrame({"w": w, "c": w * ret, "g": groups.fillna("unknown")})
        for g, part in frame.groupby("g", sort=True):
            wsum = float(part["w"].sum())
            rows.append(
                {
                    "period_start": start,
                    "period_end": end,
                    "group": str(g),
                    "weight": wsum,
                    "return": float(part["c"].sum() / wsum) if wsum else float("nan"),
                    "contribution": float(part["c"].sum()),
                }
            )
    out = pd.DataFrame(
        rows, columns=["period_start", "period_end", "group", "weight", "return", "contribution"]
    )
    out.attrs["by"] = by
    return out
