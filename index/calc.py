"""Index levels by divisor: price return and total return in USD, continuous across rebalances.

Conventions (provider style):

- New weights take effect after the close of each rebalance date: holdings are
  ``q_i = w_i x N / P_i`` (``N`` a fixed notional, ``P`` the close in USD), and the divisor
  changes so the level does not jump: ``D_new = D_old x value_after / value_before``.
- Level = sum(q_i x P_i) / D, base ``base`` on the first rebalance date.
- Total return: ``TR_t = TR_{t-1} x (PR_t + dividend points_t) / PR_{t-1}``, dividend points =
  sum(q_i x dividend_i on its ex-date) / D (gross, reinvested across the index).
- Prices are converted with ``fx`` (USD per unit, same shape) and forward-filled over missing
  days; a held name without any price at a rebalance is an error.
- ``units``: shares of each ticker per one point of index level (``q_i / D``), at each rebalance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exchina.core.errors import InputError, MissingDataError

NOTIONAL = 1e9  # index market value right after each rebalance (any constant gives the same level)


def _align(frame: pd.DataFrame | None, like: pd.DataFrame, fill: float | None) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame(fill, index=like.index, columns=like.columns)
    out = frame.reindex(index=like.index, columns=like.columns)
    return out.fillna(fill) if fill is not None else out


def index_calculation(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    dividends: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    base: float = 1000.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(levels, units): daily ``level_pr``, ``level_tr``, ``divisor`` from the first rebalance
    date, and shares per index point per ticker at each rebalance (rows of ``weights``)."""
    if weights.empty:
        raise InputError("no rebalance weights given", field="weights")
    weights = weights.sort_index().fillna(0.0)
    tickers = list(weights.columns)
    px_local = prices.reindex(columns=tickers)
    usd = (px_local * _align(fx, px_local, 1.0)).ffill()
    div = _align(dividends, px_local, 0.0) * _align(fx, px_local, 1.0).ffill()
    reb = pd.DatetimeIndex(weights.index)
    missing = reb.difference(pd.DatetimeIndex(usd.index))
    if len(missing):
        raise InputError(f"rebalance dates not in the price index: {list(missing.date)}")
    dates = usd.index[usd.index >= reb[0]]
    P = usd.loc[dates].to_numpy(float)
    Dv = div.loc[dates].to_numpy(float)
    pos = dates.get_indexer(reb)

    n_days = len(dates)
    value = np.empty(n_days)
    divpts = np.zeros(n_days)
    divisor = np.empty(n_days)
    units = np.zeros((len(reb), len(tickers)))
    q = np.zeros(len(tickers))
    D = NOTIONAL / base
    for k, start in enumerate(pos):
        end = pos[k + 1] if k + 1 < len(pos) else n_days - 1
        value_before = NOTIONAL if k == 0 else float(np.nansum(P[start] * q))
        w = weights.iloc[k].to_numpy(float)
        p_now = P[start]
        bad = [tickers[i] for i in np.flatnonzero((w > 0) & ~(p_now > 0))]
        if bad:
            raise MissingDataError(f"no price on {reb[k].date()} for held names {bad}")
        if abs(w.sum() - 1) > 1e-6:
            raise InputError(f"weights on {reb[k].date()} sum to {w.sum():.6f}, not 1")
        q = np.where(w > 0, w * NOTIONAL / np.where(p_now > 0, p_now, 1.0), 0.0)
        D = D * NOTIONAL / value_before
        units[k] = q / D
        seg = slice(start + 1, end + 1)
        value[seg] = np.nansum(P[seg] * q, axis=1)
        divpts[seg] = np.nansum(Dv[seg] * q, axis=1) / D
        divisor[seg] = D
        if k == 0:
            value[start], divisor[start] = NOTIONAL, D
    pr = value / divisor
    tr = np.empty(n_days)
    tr[0] = base
    tr[1:] = base * np.cumprod((pr[1:] + divpts[1:]) / pr[:-1])
    levels = pd.DataFrame(
        {"level_pr": pr, "level_tr": tr, "divisor": divisor},
        index=pd.DatetimeIndex(dates, name="date"),
    )
    units_df = pd.DataFrame(units, index=pd.DatetimeIndex(reb, name="date"), columns=tickers)
    return levels, units_df


def index_levels(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    dividends: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    base: float = 1000.0,
) -> pd.DataFrame:
    """Daily ``level_pr``, ``level_tr`` and ``divisor`` (see the module doc for conventions).

    weights: rebalance dates x tickers (rows sum to one), effective after that date's close;
    prices, dividends, fx: dates x tickers in the listing currency, USD per unit.
    """
    return index_calculation(weights, prices, dividends=dividends, fx=fx, base=base)[0]
