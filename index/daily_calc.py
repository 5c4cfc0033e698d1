"""The calculation agent's day: index shares fixed at each rebalance, a divisor, corporate actions
applied by written rules, and price (PR), gross total return (TR) and net total return (NTR) levels.

Conventions (one engine: ``index_levels`` below is this calculation without corporate actions):

- At the close of a rebalance date the index buys ``q_i = w_i x N / P_i`` shares (``N`` a fixed
  notional, ``P`` the close in USD) and the divisor changes so the level does not jump:
  ``D_new = D_old x N / value_before``. Level = sum(q_i x P_i) / D; base on the first rebalance.
- Prices are the prices traded each day: split-adjusted closes (``Market.close``) are turned back
  into traded prices with the split rows of the actions table, so index shares are real share
  counts and a split changes the shares, never the level.
- TR_t = TR_(t-1) x (PR_t + G_t) / PR_(t-1), G = gross dividend points sum(q_i x d_i) / D;
  NTR the same with dividends net of the withholding rate of each company's domicile, minus the
  tax on special dividends that the divisor already reinvested in the price index.
- Corporate actions (see ``exchina.index.corporate_actions``): at the open of their date,
  special dividends (divisor ``D x (V - q x s) / V`` under ``price_adjust``) then splits (shares
  x ratio, divisor unchanged); at the close, takeovers at the offer, delistings at the last price
  and long suspensions at the last price leave the index with the proceeds reinvested pro rata
  (or in a replacement when fewer than ``min_constituents`` names remain): the value is
  unchanged, so is the divisor. Every applied action is a row of ``DailyCalculation.actions``
  with its effect on shares and divisor.
- A held name without a price on a day is held at its last price (value frozen), as in the
  backtest engine; with the same weights and no corporate action the levels equal
  ``exchina.backtest.simulate`` (no costs) to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchina.core.errors import InputError, MissingDataError
from exchina.index.corporate_actions import CorporateActionRules, split_factors

NOTIONAL = 1e9  # index market value right after each rebalance (any constant gives the same level)

ACTION_LOG_COLUMNS = [
    "date",
    "action_id",
    "ticker",
    "type",
    "rule",
    "price_local",
    "shares_before",
    "shares_after",
    "divisor_before",
    "divisor_after",
    "detail",
]


@dataclass(frozen=True)
class DailyCalculation:
    """levels: date x (level_pr, level_tr, level_ntr, divisor, constituents), from the first
    rebalance; holdings: one row per (effective, ticker) with the weight, the index shares
    fixed at that close, the traded price and FX; actions: one row per applied action."""

    levels: pd.DataFrame
    holdings: pd.DataFrame
    actions: pd.DataFrame


def _frame(x: pd.DataFrame | None, like: pd.DataFrame, fill: float) -> np.ndarray:
    if x is None:
        return np.full(like.shape, fill)
    return x.reindex(index=like.index, columns=like.columns).fillna(fill).to_numpy(float)


def calculate_daily(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    fx: pd.DataFrame | None = None,
    dividends: pd.DataFrame | None = None,
    withholding: pd.Series | None = None,
    actions: pd.DataFrame | None = None,
    rules: CorporateActionRules | None = None,
    reserves: dict[pd.Timestamp, list[str]] | None = None,
    split_adjusted: bool = True,
    base: float = 1000.0,
) -> DailyCalculation:
    """Daily levels of the index holding ``weights`` (rebalance date x ticker, rows sum to one,
    applied at that close) on ``prices`` (dates x tickers, listing currency).

    ``fx``: USD per unit (dates x tickers); ``dividends``: cash per share on ex-dates;
    ``withholding``: ticker -> rate (0 when absent); ``actions``: the corporate actions table
    (already filtered to this market); ``reserves``: rebalance date -> tickers in order of
    preference to replace a removed company; ``split_adjusted``: ``prices`` and ``dividends``
    are split-adjusted (as ``Market`` holds them) and are turned into traded prices here.
    """
    rules = rules or CorporateActionRules()
    if weights.empty:
        raise InputError("no rebalance weights given", field="weights")
    weights = weights.sort_index().fillna(0.0)
    tickers = [str(c) for c in prices.columns]
    unknown = sorted(set(map(str, weights.columns)) - set(tickers))
    if unknown:
        raise InputError(f"weighted tickers without prices: {unknown[:10]}", field="weights")
    dates = pd.DatetimeIndex(prices.index)
    reb = pd.DatetimeIndex(weights.index)
    missing = reb.difference(dates)
    if len(missing):
        raise InputError(f"rebalance dates not in the price index: {list(missing.date)}")
    acts = (
        actions
        if actions is not None
        else pd.DataFrame(columns=["type", "ticker", "date", "ratio"])
    )
    acts = acts[acts["ticker"].isin(tickers)]
    factor = (
        split_factors(acts, dates, tickers).to_numpy(float)
        if split_adjusted
        else np.ones((len(dates), len(tickers)))
    )
    raw = prices.to_numpy(float) * factor
    fxa = _frame(fx, prices, 1.0)
    fxa = pd.DataFrame(fxa).ffill().to_numpy(float)
    usd = raw * fxa
    priced = ~np.isnan(usd)
    rows = np.arange(len(dates))[:, None]
    last_row = np.maximum.accumulate(np.where(priced, rows, -1), axis=0)
    usd_ff = pd.DataFrame(usd).ffill().to_numpy(float)
    raw_ff = pd.DataFrame(raw).ffill().to_numpy(float)
    div_usd = _frame(dividends, prices, 0.0) * factor * fxa
    wht = (
        withholding.reindex(tickers).fillna(0.0).to_numpy(float)
        if withholding is not None
        else np.zeros(len(tickers))
    )
    W = weights.reindex(columns=tickers).fillna(0.0).to_numpy(float)
    col = {t: i for i, t in enumerate(tickers)}
    days = dates.to_numpy().astype("datetime64[D]")
    by_day = {d: _Action.rows(g) for d, g in acts.groupby("date")} if len(acts) else {}

    reb_rows = dates.get_indexer(reb)  # every rebalance date is a price date (checked above)
    start = int(reb_rows[0])
    reb_pos = {int(r): k for k, r in enumerate(reb_rows)}
    n = len(dates) - start
    pr, tr, ntr, dv, count = (np.empty(n) for _ in range(5))
    q = np.zeros(len(tickers))
    D = NOTIONAL / base
    log: list[dict] = []
    holdings: list[dict] = []
    reserve: list[str] = []

    def record(i: int, a: _Action, rule: str, px: float, before: float, after: float, d0: float,
               d1: float, detail: str) -> None:  # fmt: skip
        log.append(dict(zip(ACTION_LOG_COLUMNS, [
            dates[i], a.action_id, a.ticker, a.type, rule, px, before, after, d0, d1, detail,
        ], strict=True)))  # fmt: skip

    for i in range(start, len(dates)):
        j = i - start
        todays = by_day.get(dates[i])
        extra_div = np.zeros(len(tickers))
        special_tax = 0.0
        removals: list[tuple[_Action, float, str]] = []
        if todays is not None and j > 0:
            for a in todays:
                c = col[a.ticker]
                if q[c] == 0.0:
                    continue
                if a.type == "special_dividend" and rules.special_dividend == "price_adjust":
                    s = float(a.amount) * fxa[i, c]
                    mv = float(np.nansum(q * usd_ff[i - 1]))
                    d_new = D * (mv - q[c] * s) / mv
                    record(i, a, "price_adjust", float(a.amount), q[c], q[c], D, d_new,
                           "price drop offset by the divisor; TR reinvests gross, NTR net")  # fmt: skip
                    D = d_new
                    special_tax += q[c] * s * wht[c]
                elif a.type in ("special_dividend", "cash_dividend"):
                    if a.type == "cash_dividend" and div_usd[i, c] != 0.0:
                        continue  # the market data already holds this dividend
                    extra_div[c] += float(a.amount) * fxa[i, c]
                    record(i, a, "cash", float(a.amount), q[c], q[c], D, D,
                           "reinvested across the index in TR (gross) and NTR (net)")  # fmt: skip
            for a in todays:
                c = col[a.ticker]
                if a.type == "split" and q[c] != 0.0:
                    before = q[c]
                    q[c] = before * float(a.ratio)
                    record(i, a, "shares x ratio", float(raw_ff[i, c]), before, q[c], D, D,
                           f"ratio {float(a.ratio):g} new per old; level unchanged")  # fmt: skip
                elif a.type == "takeover_cash" and q[c] != 0.0:
                    removals.append((a, float(a.amount), "offer price"))
                elif a.type == "delisting" and q[c] != 0.0:
                    zero = rules.delisting_price == "zero"
                    removals.append((a, 0.0 if zero else float(raw_ff[i, c]),
                                     "zero" if zero else "last price"))  # fmt: skip
        if rules.suspension_max_days is not None and j > 0:
            held = np.flatnonzero(q != 0.0)
            known = last_row[i, held] >= 0
            age = np.full(len(held), 10**9)
            age[known] = np.busday_count(days[last_row[i, held[known]]], days[i])
            for c in held[age > rules.suspension_max_days]:
                if any(r[0].ticker == tickers[c] for r in removals):
                    continue
                zero = rules.suspension_price == "zero"
                since = dates[last_row[i, c]].date() if last_row[i, c] >= 0 else "never"
                a = _Action(f"suspension-{tickers[c]}-{dates[i]:%Y%m%d}", tickers[c], "suspension")
                removals.append((a, 0.0 if zero else float(raw_ff[i, c]),
                                 f"{'zero' if zero else 'last price'}; no price since {since}"))  # fmt: skip
        p_now = usd_ff[i].copy()
        for a, px_local, _ in removals:
            p_now[col[a.ticker]] = px_local * fxa[i, col[a.ticker]]
        value = float(np.nansum(q * p_now))
        if j == 0:
            value, level = NOTIONAL, base
        level = value / D
        dvd = div_usd[i] + extra_div
        gross = float(np.nansum(q * dvd)) / D
        net = float(np.nansum(q * dvd * (1.0 - wht))) / D - special_tax / D
        if j == 0:
            pr[j] = tr[j] = ntr[j] = base
        else:
            pr[j] = level
            tr[j] = tr[j - 1] * (level + gross) / pr[j - 1]
            ntr[j] = ntr[j - 1] * (level + net) / pr[j - 1]
        for a, px_local, why in removals:
            c = col[a.ticker]
            before = q[c]
            proceeds = before * px_local * fxa[i, c]
            q[c] = 0.0
            detail = _reinvest(q, proceeds, p_now, reserve, rules, col)
            record(i, a, why, px_local, before, 0.0, D, D, detail)
        if i in reb_pos:
            k = reb_pos[i]
            w = W[k]
            if abs(w.sum() - 1.0) > 1e-6:
                raise InputError(f"weights on {dates[i].date()} sum to {w.sum():.6f}, not 1")
            bad = [tickers[c] for c in np.flatnonzero((w > 0) & ~(p_now > 0))]
            if bad:
                raise MissingDataError(f"no price on {dates[i].date()} for held names {bad}")
            value_before = NOTIONAL if j == 0 else float(np.nansum(q * p_now))
            q = np.where(w > 0, w * NOTIONAL / np.where(p_now > 0, p_now, 1.0), 0.0)
            D = D * NOTIONAL / value_before
            reserve = [t for t in (reserves or {}).get(reb[k], []) if t in col]
            for c in np.flatnonzero(w > 0):
                holdings.append({
                    "effective": dates[i], "ticker": tickers[c], "weight": float(w[c]),
                    "shares": float(q[c]), "price_local": float(raw_ff[i, c]),
                    "fx_usd": float(fxa[i, c]), "divisor": D,
                })  # fmt: skip
        dv[j] = D
        count[j] = int((q != 0.0).sum())
    levels = pd.DataFrame(
        {"level_pr": pr, "level_tr": tr, "level_ntr": ntr, "divisor": dv,
         "constituents": count.astype("int64")},
        index=pd.DatetimeIndex(dates[start:], name="date"),
    )  # fmt: skip
    return DailyCalculation(
        levels=levels,
        holdings=pd.DataFrame(
            holdings,
            columns=["effective", "ticker", "weight", "shares", "price_local", "fx_usd", "divisor"],
        ),
        actions=pd.DataFrame(log, columns=ACTION_LOG_COLUMNS),
    )


@dataclass(frozen=True)
class _Action:
    """A row of the actions table, or an action the rules raise themselves (a long suspension)
    logged like one."""

    action_id: str
    ticker: str
    type: str
    ratio: float = math.nan
    amount: float = math.nan

    @classmethod
    def rows(cls, table: pd.DataFrame) -> list[_Action]:
        """The rows of ``table`` in order (a table without ``ratio`` or ``amount`` reads NaN)."""
        nan = [math.nan] * len(table)
        cols = [table[c].tolist() if c in table else nan for c in ("ratio", "amount")]
        keys = zip(table["action_id"], table["ticker"], table["type"], *cols, strict=True)
        return [cls(*k) for k in keys]


def _reinvest(
    q: np.ndarray,
    proceeds: float,
    prices: np.ndarray,
    reserve: list[str],
    rules: CorporateActionRules,
    col: dict[str, int],
) -> str:
    """Put a removed company's proceeds back to work (in place on ``q``); says how."""
    held = np.flatnonzero(q != 0.0)
    if proceeds == 0.0:
        return "removed at zero; nothing to reinvest"
    if rules.removal_proceeds == "replacement" and len(held) < rules.min_constituents:
        for t in reserve:
            c = col[t]
            if q[c] == 0.0 and prices[c] > 0:
                q[c] = proceeds / prices[c]
                return f"proceeds invested in the replacement {t} ({q[c]:.6g} shares)"
    mv = float(np.nansum(q[held] * prices[held]))
    if mv <= 0:
        raise MissingDataError("a removal left no priced constituent to reinvest the proceeds in")
    q[held] *= 1.0 + proceeds / mv
    return f"proceeds reinvested pro rata in {len(held)} constituents"


def index_calculation(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    dividends: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    base: float = 1000.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(levels, units) of ``calculate_daily`` with no corporate actions: daily ``level_pr``,
    ``level_tr`` and ``divisor`` (of each close, after that day's rebalance) from the first
    rebalance, and shares per index point of each ticker at each rebalance (rows of ``weights``).

    weights: rebalance dates x tickers (rows sum to one), effective after that date's close;
    prices, dividends, fx: dates x tickers in the listing currency, fx in USD per unit.
    """
    tickers = [str(c) for c in weights.columns]
    calc = calculate_daily(
        weights,
        prices.reindex(columns=tickers),
        fx=fx,
        dividends=dividends,
        split_adjusted=False,
        base=base,
    )
    h = calc.holdings
    units = (
        h.assign(units=h["shares"] / h["divisor"])
        .pivot(index="effective", columns="ticker", values="units")
        .reindex(index=pd.DatetimeIndex(weights.sort_index().index), columns=tickers)
        .fillna(0.0)
    )
    units.index.name, units.columns.name = "date", None
    return calc.levels[["level_pr", "level_tr", "divisor"]], units


def index_levels(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    dividends: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    base: float = 1000.0,
) -> pd.DataFrame:
    """Daily ``level_pr``, ``level_tr`` and ``divisor`` (see ``index_calculation``)."""
    return index_calculation(weights, prices, dividends=dividends, fx=fx, base=base)[0]
