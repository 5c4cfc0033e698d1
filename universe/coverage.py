"""Does the market hold what the universe needs? A store that lacks it is missing data (exit 4),
never an optimizer "infeasible" blamed on the methodology.

The companies considered at a date are those of the company master listed then (``listed_from``,
``delisted_on``) whose status and commodities the universe rules admit. For each the check asks
whether the market holds a price on or before the date, volumes, a share count (the market's
history or a ``shares.csv`` fact in force) and an FX series to USD for its currency.

Thresholds, with ``needed`` the fewest names the methodology can hold (its ``min_names``, or the
``1 / max_weight`` names its caps need to sum to 100%; ``exchina.index.coverage.names_needed``):

- ``check_coverage`` (before the screens): some considered companies have no price AND fewer
  than ``needed`` are priced. A store holding a handful of the master's tickers fails with a
  count of what is missing; a store lacking only a few names, or a company master restricted to
  the companies the store holds (a quant's own universe), runs.
- ``check_eligible_data`` (after the screens and any top-up): fewer than ``needed`` names are
  eligible AND the companies failing only for want of data (no price, share count or volumes)
  would make up the difference. Otherwise what the rules cannot meet is the methodology's to
  report (exit 3): it would fail with the data too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from exchina.core.errors import MissingDataError
from exchina.core.market import Market
from exchina.universe.rules import UniverseRules
from exchina.universe.screening import LiquidityUnknown, MarketCapUnknown, PriceHistory

if TYPE_CHECKING:
    from exchina.universe.inputs import UniverseInputs

SHOWN = 5


def considered(companies: pd.DataFrame, rules: UniverseRules, date: pd.Timestamp) -> pd.DataFrame:
    """Companies listed at ``date`` whose status and commodities the rules admit."""
    return companies[_considered(companies, rules, date)]


def _considered(companies: pd.DataFrame, rules: UniverseRules, date: pd.Timestamp) -> np.ndarray:
    return considered_mask(
        companies["listed_from"].to_numpy(dtype="datetime64[ns]"),
        companies["delisted_on"].to_numpy(dtype="datetime64[ns]"),
        companies["status"].to_numpy(dtype=object),
        [frozenset(str(x).split(";")) for x in companies["commodities"].to_numpy(dtype=object)],
        rules,
        date,
    )


def considered_mask(
    listed_from: np.ndarray,
    delisted_on: np.ndarray,
    status: np.ndarray,
    commodity_sets: list[frozenset[str]],
    rules: UniverseRules,
    date: pd.Timestamp,
) -> np.ndarray:
    """``considered`` as a mask over the master's columns (``UniverseInputs`` holds them)."""
    t = pd.Timestamp(date).to_datetime64().astype("datetime64[ns]")
    keep = (np.isnat(listed_from) | (listed_from <= t)) & (
        np.isnat(delisted_on) | (delisted_on > t)
    )
    keep &= np.isin(status, list(rules.statuses))
    if rules.commodities:
        want = set(rules.commodities)
        keep &= np.array([bool(s & want) for s in commodity_sets], dtype=bool)
    return keep


def _seen(frame: pd.DataFrame, tickers: list[str], n: int) -> np.ndarray:
    """Per ticker: does ``frame`` hold a value in its first ``n`` rows (absent = no)."""
    cols = frame.columns.get_indexer(pd.Index(tickers))
    out = np.zeros(len(tickers), dtype=bool)
    present = np.flatnonzero(cols >= 0)
    if n and len(present):
        values = frame.to_numpy(dtype=float)[:n, cols[present]]
        out[present] = ~np.isnan(values).all(axis=0)
    return out


@dataclass(frozen=True)
class Coverage:
    """Tickers of the considered companies, and those lacking each kind of data."""

    considered: list[str]
    no_price: list[str]
    no_volume: list[str]
    no_shares: list[str]
    no_fx: list[str]

    @property
    def priced(self) -> int:
        return len(self.considered) - len(self.no_price)


def coverage(
    market: Market,
    rules: UniverseRules,
    companies: pd.DataFrame,
    date: str | pd.Timestamp,
    shares: pd.DataFrame | None = None,
) -> Coverage:
    """What the market lacks, at ``date``, for the companies the rules consider. ``shares``:
    the dated share facts (default: the shipped ``shares.csv``); a company with one in force has
    a share count."""
    from exchina.universe.inputs import shares_in_force, shipped_shares

    t = pd.Timestamp(date)
    cand = considered(companies, rules, t)
    tickers = [str(x) for x in cand["ticker"]]
    n = int(market.close.index.searchsorted(t, side="right"))
    priced = _seen(market.close, tickers, n)
    volume = _seen(market.volume.reindex(market.close.index), tickers, n)
    mkt_shares = _seen(market.shares.reindex(market.close.index), tickers, n)
    shares = shipped_shares() if shares is None else shares
    facts = set(shares_in_force(shares, t).index)
    fact_shares = cand["company_id"].isin(facts).to_numpy()
    fx_cols = {str(c) for c in market.fx.columns[market.fx.loc[:t].notna().any()]} | {"USD"}
    ccy = market.currency.reindex(tickers).fillna(pd.Series(cand["currency"].to_numpy(), tickers))
    fx_ok = np.array([str(c) in fx_cols for c in ccy], dtype=bool)
    pick = lambda mask: [tk for tk, m in zip(tickers, mask, strict=True) if m]  # noqa: E731
    return Coverage(
        considered=tickers,
        no_price=pick(~priced),
        no_volume=pick(priced & ~volume),
        no_shares=pick(priced & ~mkt_shares & ~fact_shares),
        no_fx=pick(priced & ~fx_ok),
    )


DATA_SCREENS = {
    PriceHistory.name: "prices",
    MarketCapUnknown.name: "a share count",
    LiquidityUnknown.name: "volumes",
}
"""Screens that fail for missing data, not a company failing a rule; and what is missing."""


def check_eligible_data(
    universe: pd.DataFrame,
    failures: pd.DataFrame,
    date: str | pd.Timestamp,
    label: str,
    needed: int,
    why_needed: str = "",
) -> None:
    """Raise ``MissingDataError`` when fewer than ``needed`` companies are eligible and the ones
    failing only for want of data (``DATA_SCREENS``) would make up the difference: the store is
    what is short, not the rules. Names what each lacks and how to fill it. ``failures``: the
    screens' failures (``screen_universe``; columns ticker and screen)."""
    eligible = int(universe["eligible"].astype(bool).sum())
    if eligible >= needed:
        return
    failed: dict[str, list[str]] = {}
    for ticker, screen in zip(
        failures["ticker"].tolist(), failures["screen"].tolist(), strict=True
    ):
        failed.setdefault(str(ticker), []).append(str(screen))
    short: dict[str, list[str]] = {what: [] for what in DATA_SCREENS.values()}
    for ticker in map(str, universe.index):
        screens = failed.get(ticker, [])
        if screens and all(s in DATA_SCREENS for s in screens):
            for s in screens:
                short[DATA_SCREENS[s]].append(ticker)
    named = sorted({t for names in short.values() for t in names})
    if eligible + len(named) < needed:
        return
    gaps = "; ".join(f"{len(v)} without {k} ({_first(v)})" for k, v in short.items() if v)
    raise MissingDataError(
        f"missing data, not a methodology failure: {eligible} companies are eligible at "
        f"{pd.Timestamp(date).date()}, the methodology needs at least {needed}{why_needed}, and "
        f"{len(named)} more fail only for want of data in the market ({label}): {gaps}. Fill it with `exchina fetch {' '.join(named[:SHOWN])}"
        f"{' ...' if len(named) > SHOWN else ''}` (prices, volumes and Yahoo's share-count "
        "history) or `exchina import FILE...`, or add dated share counts with sources to "
        "data/shares.csv"
    )


def _first(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _priced_count(
    market: Market,
    rules: UniverseRules,
    companies: pd.DataFrame,
    t: pd.Timestamp,
    inputs: UniverseInputs | None,
) -> tuple[int, int]:
    """(priced, considered): how many of the companies the rules consider at ``t`` have a
    price on or before ``t``, and how many they consider."""
    if inputs is None:
        tickers = companies["ticker"].to_numpy(dtype=object)[_considered(companies, rules, t)]
        n = int(market.close.index.searchsorted(t, side="right"))
        return int(_seen(market.close, [str(x) for x in tickers], n).sum()), len(tickers)
    keep = considered_mask(
        inputs.listed_from,
        inputs.delisted_on,
        inputs.columns["status"],
        inputs.commodity_sets,
        rules,
        t,
    )
    n = inputs.rows(market, t)
    seen = inputs.history.priced[n - 1] > 0 if n else np.zeros(len(keep), dtype=bool)
    return int((seen & keep).sum()), int(keep.sum())


def check_coverage(
    market: Market,
    rules: UniverseRules,
    companies: pd.DataFrame,
    date: str | pd.Timestamp,
    needed: int,
    shares: pd.DataFrame | None = None,
    why_needed: str = "",
    inputs: UniverseInputs | None = None,
) -> None:
    """Raise ``MissingDataError`` when considered companies lack prices and fewer than
    ``needed`` are priced (the threshold of the module doc); the message counts what is missing
    (prices, volumes, shares, FX), names the first few and gives the commands that fill it.
    ``inputs``: ``companies`` and ``market`` (or the market it is a cut of) prepared as arrays
    once (``UniverseInputs``), for a backtest's many reviews."""
    t = pd.Timestamp(date)
    priced, total = _priced_count(market, rules, companies, t, inputs)
    if priced == total or priced >= needed:
        return  # the common case, decided from the prices alone (every rebalance runs this)
    cov = coverage(market, rules, companies, t, shares)
    gaps = [
        f"{len(names)} without {what} ({_first(names)})"
        for names, what in (
            (cov.no_volume, "volumes"),
            (cov.no_shares, "shares outstanding"),
            (cov.no_fx, "an FX series to USD"),
        )
        if names
    ]
    raise MissingDataError(
        f"missing data, not a methodology failure: the market ({market.label}) has no prices up "
        f"to {t.date()} for {len(cov.no_price)} of the {len(cov.considered)} companies the "
        f"universe rules consider ({_first(cov.no_price)}); {cov.priced} are priced"
        + (f" ({'; '.join(gaps)})" if gaps else "")
        + f", and the methodology needs at least {needed}{why_needed}. Fill the store with "
        "`exchina fetch --universe` (or `exchina fetch "
        + " ".join(cov.no_price[:SHOWN])
        + " ...`) or `exchina import FILE...`; or restrict the company master to the "
        "companies you hold (`exchina run --companies FILE --facts FILE`, or `companies=` and "
        "`facts=` in Python); or use `--source demo`"
    )
