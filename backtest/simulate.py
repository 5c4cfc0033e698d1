"""The index engine a quant can call with their own weights: drift between rebalances, vectorized.

Conventions (those of an index provider):

* ``weights`` holds one row of target weights per rebalance date, traded at that date's close.
  Between rows the number of shares is fixed, so weights drift with prices; the level over a
  holding period is one matrix-vector product ``prices[a:b] @ shares``. Weights that sum to less
  than one leave the rest in cash at zero return.
* Prices are converted to USD with ``fx`` (dates x tickers, USD per unit of each ticker's
  currency, as ``Market.fx_for`` gives). A held name without a price on a day (holiday, halt,
  delisting) is held at its last price - its value frozen - until a later rebalance trades it
  away; every such gap is reported in ``Simulation.gaps``, never silently turned into a zero
  return. A name never priced up to a rebalance date cannot be bought: that is an error.
* Total return reinvests dividends across the index on their ex-date:
  ``TR_t = TR_(t-1) * (PR_value_t + dividends_t) / PR_value_(t-1)``.
* Costs: at every rebalance after the first, ``sum_i |target_i - drifted_i| x bps_i / 1e4`` of
  the value is lost (spread ``cost_bps`` plus optional square-root impact, see
  ``exchina.backtest.costs``). The first rebalance is the index's base: it is not charged.
  The level on a rebalance date is the value after that day's trades and costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchina.backtest.costs import CostModel
from exchina.core.errors import InputError, MissingDataError


@dataclass(frozen=True)
class Simulation:
    """Everything the engine computes on the way to the levels.

    levels:   date x (level_pr, level_tr) from the first rebalance date
    drifted:  rebalance date x ticker, weights just before each rebalance's trades
    turnover: per rebalance, one-way turnover ``0.5 * sum |target - drifted|`` (first = initial build, 1)
    cost:     per rebalance, cost as a fraction of value (0 at the first)
    gaps:     one row per (rebalance period, held ticker) with missing prices: ticker, period start,
              first and last missing date, missing rows (value held at the last price)
    unknown_adtv: (date, ticker) rows charged full-ADTV impact because ADTV was unknown
    """

    levels: pd.DataFrame
    drifted: pd.DataFrame
    turnover: pd.Series
    cost: pd.Series
    gaps: pd.DataFrame
    unknown_adtv: pd.DataFrame


def _ffill(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Forward-fill NaN (``mask``) down the rows of a 2-D array (leading NaN stay NaN)."""
    cols = np.flatnonzero(mask.any(axis=0))
    sub = a[:, cols]
    idx = np.where(~np.isnan(sub), np.arange(a.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a.copy()
    out[:, cols] = np.take_along_axis(sub, idx, axis=0)
    return out


def _check_index(frame: pd.DataFrame, name: str) -> None:
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise InputError("index must be a DatetimeIndex of dates", field=name)
    if not frame.index.is_monotonic_increasing or not frame.index.is_unique:
        raise InputError("dates must be unique and ascending", field=name)


def _aligned(frame: pd.DataFrame | None, prices: pd.DataFrame, name: str) -> np.ndarray | None:
    if frame is None:
        return None
    if frame.index.equals(prices.index) and frame.columns.equals(prices.columns):
        return frame.to_numpy(dtype=float)
    _check_index(frame, name)
    return frame.reindex(index=prices.index, columns=prices.columns).to_numpy(dtype=float)


def simulate_detailed(
    prices: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    dividends: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    cost_bps: float = 0.0,
    base: float = 1000.0,
    impact_bps_at_full_adtv: float = 0.0,
    adtv_usd: pd.DataFrame | None = None,
    aum_usd: float = 100e6,
) -> Simulation:
    """Run the engine and return levels with turnover, costs and data gaps (see module doc).

    ``adtv_usd`` (rebalance date x ticker, known at each rebalance's cut-off) sizes the impact of
    trades of a fund of ``aum_usd``; without it every traded name is charged full-ADTV impact.
    """
    _check_index(prices, "prices")
    _check_index(weights, "weights")
    if weights.empty:
        raise InputError("no rebalance rows", field="weights")
    unknown = weights.columns.difference(prices.columns)
    if len(unknown):
        raise InputError(f"tickers not in prices: {list(unknown[:10])}", field="weights")
    pos = prices.index.get_indexer(weights.index)
    if (pos < 0).any():
        bad = weights.index[pos < 0][0].date()
        raise InputError(f"rebalance date {bad} is not a date of the prices", field="weights")
    tickers = prices.columns
    if weights.columns.equals(tickers):
        W = weights.to_numpy(dtype=float)
    else:
        W = weights.reindex(columns=tickers).to_numpy(dtype=float)
    W = np.nan_to_num(W, nan=0.0)

    raw = prices.to_numpy(dtype=float)
    fxa = _aligned(fx, prices, "fx")
    if fxa is not None:
        raw = raw * fxa
    nan = np.isnan(raw)
    has_gap = nan.any(axis=0)
    P = _ffill(raw, nan) if has_gap.any() else raw
    P0 = np.where(np.isnan(P), 0.0, P) if has_gap.any() else P
    D = _aligned(dividends, prices, "dividends")
    if D is not None:
        D = np.nan_to_num(D * fxa if fxa is not None else D, nan=0.0)
    model = CostModel(cost_bps, impact_bps_at_full_adtv, aum_usd)
    charged = bool(cost_bps or impact_bps_at_full_adtv)
    A = None
    if adtv_usd is not None and impact_bps_at_full_adtv:
        A = adtv_usd.reindex(index=weights.index, columns=tickers).to_numpy(dtype=float)

    T, N = P.shape
    K = len(pos)
    s = int(pos[0])
    dates = prices.index
    ends = np.append(pos[1:], T - 1)
    held = W != 0.0
    P_rb = P[pos]
    never = np.isnan(P_rb) & held
    if never.any():
        k, i = np.argwhere(never)[0]
        names = [str(tickers[int(j)]) for j in np.flatnonzero(never[k])]
        when = pd.Timestamp(dates[int(pos[k])]).date()
        raise MissingDataError(f"no price up to {when} for weighted names {names}")
    # unit shares: the holdings of one dollar invested at each rebalance
    U = np.divide(W, P_rb, out=np.zeros_like(W), where=held)
    cash = 1.0 - W.sum(axis=1)
    own = np.empty(
        T - s
    )  # each row's value in the units of the period that holds it after its close
    gend = np.empty(K)  # each period's unit value at its last row, before the next trades
    div = np.zeros(T - s)
    for k in range(K):
        a, b = int(pos[k]), int(ends[k])
        seg = P0[a : b + 1] @ U[k]
        own[a - s : b - s + 1] = seg
        gend[k] = seg[-1]
        if D is not None and b > a:
            div[a + 1 - s : b + 1 - s] = D[a + 1 : b + 1] @ U[k]
    lens = np.diff(np.append(pos, T))
    own += np.repeat(cash, lens)
    gend += cash
    drifted = np.zeros((K, N))
    drifted[1:] = U[:-1] * P0[pos[1:]] / gend[:-1, None]
    dw = W - drifted
    turnover = 0.5 * np.abs(dw).sum(axis=1)
    turnover[0] = 0.5 * (np.abs(W[0]).sum() + abs(1.0 - cash[0]))  # bought from all cash
    cost = np.zeros(K)
    unknown_adtv: list[tuple] = []
    if charged and K > 1:
        cost[1:] = (np.abs(dw[1:]) * model.bps(dw[1:], A[1:] if A is not None else None)).sum(
            axis=1
        ) / 1e4
        flagged = model.unknown_adtv(dw[1:], A[1:] if A is not None else None)
        for k, i in np.argwhere(flagged):
            unknown_adtv.append((dates[pos[k + 1]], str(tickers[i])))
    # value carried into each row, in the units of the period that held it the day before
    carried = own.copy()
    carried[pos[1:] - s] = gend[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_pr = carried[1:] / own[:-1]
        ratio_tr = (carried[1:] + div[1:]) / own[:-1]
    keep = 1.0 - cost[1:]
    ratio_pr[pos[1:] - s - 1] *= keep
    ratio_tr[pos[1:] - s - 1] *= keep
    pr = base * np.concatenate(([1.0], np.cumprod(ratio_pr)))
    tr = base * np.concatenate(([1.0], np.cumprod(ratio_tr)))
    gaps: list[tuple] = []
    if (has_gap & held.any(axis=0)).any():
        for k in range(K):
            a, b = int(pos[k]), int(ends[k])
            gh = np.flatnonzero(held[k] & has_gap)
            miss = np.isnan(raw[a + 1 : b + 1, gh])
            for j in np.flatnonzero(miss.any(axis=0)):
                rows = np.flatnonzero(miss[:, j]) + a + 1
                gaps.append(
                    (str(tickers[gh[j]]), dates[a], dates[rows[0]], dates[rows[-1]], len(rows))
                )

    rb = pd.DatetimeIndex(weights.index, name="date")
    levels = pd.DataFrame(
        {"level_pr": pr, "level_tr": tr}, index=pd.DatetimeIndex(dates[s:], name="date")
    )
    return Simulation(
        levels=levels,
        drifted=pd.DataFrame(drifted, index=rb, columns=tickers),
        turnover=pd.Series(turnover, index=rb, name="turnover"),
        cost=pd.Series(cost, index=rb, name="cost"),
        gaps=pd.DataFrame(
            gaps, columns=["ticker", "period_start", "first_missing", "last_missing", "rows"]
        ),
        unknown_adtv=pd.DataFrame(unknown_adtv, columns=["date", "ticker"]),
    )


def simulate(
    prices: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    dividends: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    cost_bps: float = 0.0,
    base: float = 1000.0,
) -> pd.DataFrame:
    """Index levels (``level_pr``, ``level_tr``) from the first rebalance date, base ``base``.

    ``prices``: dates x tickers (NaN = no trade); ``weights``: one row of target weights per
    rebalance date (a date of ``prices``), applied at that close; holdings drift in between.
    ``dividends``: cash per share on ex-dates; ``fx``: USD per unit, dates x tickers;
    ``cost_bps``: cost per unit traded at each rebalance after the first.
    """
    return simulate_detailed(
        prices, weights, dividends=dividends, fx=fx, cost_bps=cost_bps, base=base
    ).levels
