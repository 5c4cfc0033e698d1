"""Which groups made the return: contribution by stage or country for each holding period.

Between two rebalances the index is a buy-and-hold portfolio, so its price return over the period
is exactly ``sum_i w_i x R_i`` with ``w_i`` the weights set at the first rebalance and ``R_i`` each
name's USD price return over the period (a name without a price is held at its last one, as in
``simulate``). Grouping that sum gives contributions that add up to the period's return before
costs.

``brinson`` compares two such tables period by period (Brinson-Fachler): allocation
``(wp - wb) x (rb - Rb)``, selection ``wb x (rp - rb)`` and interaction ``(wp - wb) x (rp - rb)``
per group, which add up to the period's return difference ``Rp - Rb``.
"""

from __future__ import annotations

import pandas as pd

from exchina.backtest.exposures import column_for, group_values, snapshots
from exchina.core.errors import InputError


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


def brinson(portfolio: pd.DataFrame, benchmark: pd.DataFrame) -> pd.DataFrame:
    """Brinson-Fachler attribution of the index against a benchmark, per period and group.

    Both inputs are ``attribution`` tables over the same holding periods (the same rebalance
    schedule). A group one side does not hold takes the other side's return (Brinson's
    convention), so its whole effect is allocation. Columns: ``period_start``, ``period_end``,
    ``group``, ``weight``, ``benchmark_weight``, ``return``, ``benchmark_return``,
    ``allocation``, ``selection``, ``interaction``, ``total``; per period the totals add up to
    the index's price return minus the benchmark's."""
    keys = ["period_start", "period_end"]
    ours = set(map(tuple, portfolio[keys].drop_duplicates().to_numpy().tolist()))
    theirs = set(map(tuple, benchmark[keys].drop_duplicates().to_numpy().tolist()))
    if ours != theirs:
        raise InputError(
            "the index and the benchmark have different holding periods (rebalance schedules); "
            "Brinson attribution needs the same periods",
            field="benchmark",
        )
    cols = ["weight", "return"]
    p = portfolio.set_index([*keys, "group"])[cols]
    b = benchmark.set_index([*keys, "group"])[cols].add_prefix("benchmark_")
    both = p.join(b, how="outer")
    both[["weight", "benchmark_weight"]] = both[["weight", "benchmark_weight"]].fillna(0.0)
    both["return"] = both["return"].fillna(both["benchmark_return"])
    both["benchmark_return"] = both["benchmark_return"].fillna(both["return"])
    rb_total = (
        (both["benchmark_weight"] * both["benchmark_return"]).groupby(level=keys).transform("sum")
    )
    active = both["weight"] - both["benchmark_weight"]
    both["allocation"] = active * (both["benchmark_return"] - rb_total)
    both["selection"] = both["benchmark_weight"] * (both["return"] - both["benchmark_return"])
    both["interaction"] = active * (both["return"] - both["benchmark_return"])
    both["total"] = both["allocation"] + both["selection"] + both["interaction"]
    return both.reset_index()
