"""A methodology's index calculated day by day, as a calculation agent publishes it.

``calculate_index`` takes the constituents the backtest selects point in time (the same
``run_backtest`` rebalances, so the same constituents) and runs them through
``exchina.index.daily_calc``: index shares fixed at each rebalance, a divisor, corporate actions
from the shipped table (real events on real data, generated ones on the demo market) under the
methodology's ``[calculation]`` rules, and PR, gross TR and net TR levels with withholding tax by
each company's domicile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from exchina.core.market import Market
from exchina.index.corporate_actions import REMOVALS, actions_for, load_corporate_actions
from exchina.index.daily_calc import DailyCalculation, calculate_daily
from exchina.index.withholding import withholding_rates

if TYPE_CHECKING:
    from exchina.backtest.result import BacktestResult
    from exchina.index.methodology import Methodology


@dataclass(frozen=True)
class IndexCalculation:
    """A methodology's daily calculation and the backtest that selected its constituents."""

    methodology: Methodology
    calc: DailyCalculation
    backtest: BacktestResult
    label: str
    synthetic: bool
    notes: list[str]

    @property
    def levels(self) -> pd.DataFrame:
        return self.calc.levels


def _reserves(universe: pd.DataFrame, weights: pd.DataFrame) -> dict[pd.Timestamp, list[str]]:
    """Per rebalance: eligible non-members, largest float market cap first (replacements)."""
    out: dict[pd.Timestamp, list[str]] = {}
    if universe.empty or "eligible" not in universe:
        return out
    for day, group in universe.groupby(pd.DatetimeIndex(universe["date"])):
        held = (
            set(weights.columns[weights.loc[day].to_numpy() > 0]) if day in weights.index else set()
        )
        cands = group[group["eligible"].astype(bool) & ~group["ticker"].isin(held)]
        if "float_mcap_usd" in cands:
            cands = cands.sort_values("float_mcap_usd", ascending=False, kind="stable")
        out[day] = [str(t) for t in cands["ticker"]]
    return out


def drop_removed(weights: pd.DataFrame, actions: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Later rebalances never buy back a company a takeover or delisting removed: its weight at
    each rebalance after the action goes pro rata to the others (each change is noted)."""
    out, notes = weights.copy(), []
    gone = actions[actions["type"].isin(REMOVALS) & actions["ticker"].isin(weights.columns)]
    if gone.empty:  # a table of other actions may lack the columns read below
        return out, notes
    cols = ("date", "ticker", "type", "action_id")
    for date, ticker, kind, action_id in zip(*(gone[c] for c in cols), strict=True):
        later = out.index > pd.Timestamp(date)
        for day in out.index[later & (out[ticker] > 0).to_numpy()]:
            row = out.loc[day].copy()
            w = float(row[ticker])
            row[ticker] = 0.0
            out.loc[day] = row / row.sum()
            notes.append(
                f"{day.date()}: {ticker} left the index on {pd.Timestamp(date).date()} "
                f"({kind}, {action_id}); its target weight {w:.2%} went pro rata to the rest"
            )
    return out, notes


def calculate_index(
    methodology: Methodology,
    market: Market,
    end: str | pd.Timestamp | None = None,
    *,
    actions: pd.DataFrame | None = None,
    withholding_table: pd.Series | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    actions_path: str | Path | None = None,
    result: BacktestResult | None = None,
) -> IndexCalculation:
    """Daily PR/TR/NTR levels of ``methodology`` from its first rebalance to ``end`` (default:
    the last price). ``actions``: the corporate actions table (default: the shipped one, filtered
    to real or synthetic events by ``market.synthetic``); ``result``: a backtest of the same
    methodology and market to ``end`` already run (its constituents are used); ``companies``
    and ``facts``: a custom company master and exposure facts (default: the shipped files)."""
    from exchina.backtest.engine import run_backtest
    from exchina.universe import load_companies

    hi = pd.Timestamp(end) if end is not None else market.as_of
    if result is None:
        result = run_backtest(methodology, market, None, hi, companies=companies, facts=facts)
    tickers = [str(t) for t in market.close.columns]
    table = actions if actions is not None else load_corporate_actions(actions_path)
    table = actions_for(table, market.synthetic)
    weights, notes = drop_removed(result.weights, table)
    master = companies if companies is not None else load_companies()
    country = master.drop_duplicates("ticker").set_index("ticker")["country"]
    held = sorted({str(t) for t in weights.columns[(weights > 0).any()]})
    wht = withholding_rates(
        country.reindex(held).dropna(), withholding_table, methodology.calculation.withholding
    )
    span = market.window(weights.index[0], hi)
    calc = calculate_daily(
        weights,
        span.close,
        fx=span.fx_for(tickers),
        dividends=span.dividends,
        withholding=wht,
        actions=table,
        rules=methodology.calculation,
        reserves=_reserves(result.universe, weights),
        base=methodology.base_level,
    )
    return IndexCalculation(methodology, calc, result, market.label, market.synthetic, notes)
