"""Run a methodology through history, point in time, and simulate the index it would have produced.

At each scheduled rebalance the index layer builds the universe and the weights from
``market.asof(review)`` - the market cut at the selection cut-off, so no later price can reach the
decision - and the weights are traded at the close of the effective date. Between rebalances the
holdings drift (``simulate``).

Halts and delistings, the index-provider way: a held name whose prices stop is held at its last
price (its value frozen) until the next rebalance, which sells it at that price when the new
weights leave it out; the gap is reported. A name given weight that has no price on the effective
date and none for more than ``schedule.max_price_age_days`` business days before it cannot be
bought: it is dropped and its weight handed pro rata to the other names (noted in the result).
Listings that start mid-way enter at the first review at which the universe rules find them
eligible (history and liquidity screens).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from exchina.backtest.result import RELAXATION_COLUMNS, BacktestResult
from exchina.backtest.simulate import simulate_detailed
from exchina.core.errors import (
    ExchinaError,
    InfeasibleError,
    InputError,
    MissingDataError,
    StaleDataError,
)
from exchina.core.market import Market, TradedValue, last_rows

if TYPE_CHECKING:  # the index layer (cvxpy) loads when a backtest runs, not on import
    from exchina.index.methodology import Methodology

ADTV_WINDOW = 63


def _trade_date(effective: pd.Timestamp, dates: pd.DatetimeIndex) -> pd.Timestamp | None:
    """The market date the rebalance trades at: the effective date or the last date before it."""
    pos = int(dates.searchsorted(effective, side="right")) - 1
    return dates[pos] if pos >= 0 else None


def adtv_at(
    market: Market, tickers: list[str], dates: pd.DatetimeIndex, window: int = ADTV_WINDOW
) -> pd.DataFrame:
    """ADTV in USD over the ``window`` market rows up to each of ``dates``, as
    ``Market.adtv_usd`` gives it on ``market.asof(date)`` (``TradedValue``), dates x tickers."""
    volume = market.volume.reindex(index=market.close.index, columns=tickers)
    traded = TradedValue.of(market.close_usd(tickers).to_numpy(float), volume.to_numpy(float))
    ends = market.close.index.searchsorted(dates, side="right")
    rows = [traded.adtv(int(end), window) for end in ends]
    return pd.DataFrame(
        np.array(rows).reshape(len(dates), len(tickers)),
        index=dates,
        columns=pd.Index(tickers, name="ticker"),
    )


class _PriceIndex:
    """The market's closes as arrays, for fast point lookups inside the rebalance loop."""

    def __init__(self, market: Market) -> None:
        self.dates = market.dates
        self.col = {str(t): i for i, t in enumerate(market.close.columns)}
        self.last = last_rows(~np.isnan(market.close.to_numpy(dtype=float)))
        self.usd = market.close_usd().ffill().to_numpy(dtype=float)
        self.days = self.dates.to_numpy().astype("datetime64[D]")

    def cols(self, tickers: pd.Index) -> np.ndarray:
        return np.array([self.col[str(t)] for t in tickers], dtype=int)

    def row(self, day: pd.Timestamp) -> int:
        return int(self.dates.searchsorted(day, side="right")) - 1

    def age(self, tickers: pd.Index, day: pd.Timestamp) -> np.ndarray:
        """Business days since each ticker's last price at ``day`` (huge if never priced)."""
        last = self.last[self.row(day), self.cols(tickers)]
        known = last >= 0
        ages = np.full(len(last), 10**9)
        ages[known] = np.busday_count(self.days[last[known]], np.datetime64(day.date(), "D"))
        return ages

    def drifted(self, w: pd.Series, start: pd.Timestamp, day: pd.Timestamp) -> pd.Series:
        """Weights ``w`` set at ``start`` after buy-and-hold to ``day`` (prices forward-filled)."""
        c = self.cols(w.index)
        rel = self.usd[self.row(day), c] / self.usd[self.row(start), c]
        held = w.to_numpy() * np.where(np.isfinite(rel), rel, 1.0)
        return pd.Series(held / held.sum() * w.sum(), index=w.index)


def _priced_weights(
    w: pd.Series, prices: _PriceIndex, day: pd.Timestamp, max_age: int, notes: list[str]
) -> pd.Series:
    """Drop weighted names with no recent price at ``day``; hand their weight out pro rata."""
    is_stale = (prices.age(w.index, day) > max_age) & (w.to_numpy() > 0)
    if is_stale.any():
        stale = w.index[is_stale]
        kept = w.drop(stale)
        if kept.sum() <= 0:
            raise MissingDataError(f"no priced names at {day.date()}: {list(stale)}")
        notes.append(
            f"{day.date()}: {', '.join(map(str, stale))} had no price within {max_age} business "
            f"days of the effective date; weight {w[stale].sum():.2%} handed pro rata to the rest"
        )
        w = kept * (w.sum() / kept.sum())
    return w


def _load_reference(spec: str, relative_to: str | Path | None) -> Methodology | None:
    """A methodology when ``spec`` names a .toml file or a shipped methodology, else None."""
    from exchina.index.methodology import (
        load_methodology,
        resolve_methodology,
        shipped_methodologies,
    )

    if spec.endswith(".toml") or spec in shipped_methodologies():
        return load_methodology(resolve_methodology(spec, relative_to=relative_to))
    return None


def resolve_benchmark(
    methodology: Methodology,
    override: str | None = None,
    market: Market | None = None,
    relative_to: str | Path | None = None,
) -> tuple[str | Methodology | None, Methodology | None]:
    """(benchmark, peer) for a run. ``benchmark``: ``override`` (a ticker, a methodology file or a
    shipped methodology name; ``"none"`` for none), else the methodology's ``[benchmark]`` ticker
    when ``market`` has it, else its ``[benchmark]`` methodology. ``peer``: the ``[benchmark]``
    methodology, run side by side for the China-exposure comparison (None when it already is the
    benchmark or there is none)."""
    from exchina.index.methodology import Methodology

    b = methodology.benchmark
    peer = _load_reference(b.methodology, relative_to) if b.methodology else None
    bench: str | Methodology | None
    if override is not None:
        bench = None if override.lower() == "none" else override
        if bench is not None:
            bench = _load_reference(bench, relative_to) or bench
    elif b.ticker and (market is None or b.ticker in market.close.columns):
        bench = b.ticker
    else:
        bench = peer
    if isinstance(bench, Methodology) and peer is not None and bench.digest() == peer.digest():
        peer = None
    return bench, peer


def run_backtest(
    methodology: Methodology,
    market: Market,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    *,
    benchmark: str | Methodology | None = None,
    peer: Methodology | None = None,
    progress: bool = False,
    on_rebalance: Callable[[str, int, int], None] | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    shares: pd.DataFrame | None = None,
) -> BacktestResult:
    """Backtest ``methodology`` on ``market`` between ``start`` (default: the methodology's base
    date or the first market date, whichever is later) and ``end`` (default: the last price).

    ``benchmark``: a ticker in the market or another ``Methodology`` over the same dates (levels
    column ``benchmark``); ``peer``: a methodology run beside it (column ``peer``) whose weights
    give the China-exposure comparison. ``resolve_benchmark`` gives the methodology's defaults.
    A rebalance the index layer cannot make (infeasible, stale or missing data) keeps the
    holdings and is noted; if none succeeds the last error is raised. ``companies``, ``facts``
    and ``shares``: a custom company master, exposure facts and share counts (default: the
    shipped files), used at every rebalance and by the benchmark and peer runs.
    ``on_rebalance(name, done, total)`` is called before each scheduled rebalance (the app's
    progress bar; ``progress`` draws a tqdm bar), by the benchmark and peer runs too."""
    from exchina.index import rebalance
    from exchina.index.methodology import Methodology
    from exchina.index.schedule import rebalance_dates
    from exchina.universe import UniverseInputs, load_companies, load_facts

    dates = market.dates
    if dates.empty:
        raise MissingDataError("the market holds no prices")
    first = max(pd.Timestamp(methodology.base_date), dates[0])
    lo = pd.Timestamp(start) if start is not None else first
    hi = min(pd.Timestamp(end), market.as_of) if end is not None else market.as_of
    if lo >= hi:
        raise InputError(f"start {lo.date()} is not before end {hi.date()}", field="start")
    sched = rebalance_dates(methodology, lo, hi)
    if sched.empty:
        raise InputError(
            f"no scheduled rebalance between {lo.date()} and {hi.date()}", field="start"
        )

    t0 = time.perf_counter()
    solver = 0.0
    notes: list[str] = []
    rows, targets = [], {}
    universes: list[tuple[pd.Timestamp, pd.DataFrame]] = []
    relaxed: list[dict] = []  # one row per rule that gave way at a rebalance
    px = _PriceIndex(market)
    # read once, filtered by date at each review
    master = load_companies() if companies is None else companies
    if facts is None:  # the shipped facts are validated once per file version (loader memo)
        facts = load_facts() if companies is None else load_facts(companies=master)
    # the universe's inputs as arrays once; each review reads them cut at its date
    inputs = UniverseInputs(market, master, facts, shares)
    current: pd.Series | None = None
    current_day: pd.Timestamp | None = None
    error: ExchinaError | None = None
    todo = list(sched.itertuples(index=False))
    for i, (review, effective) in enumerate(
        tqdm(todo, desc=f"rebalances ({methodology.name})", disable=not progress, file=sys.stderr)
    ):
        if on_rebalance is not None:
            on_rebalance(methodology.name, i, len(todo))
        review, effective = pd.Timestamp(review), pd.Timestamp(effective)
        day = _trade_date(effective, dates)
        if day is None or day < review:
            notes.append(f"{effective.date()}: no market date to trade at; skipped")
            continue
        known = market.asof(review)
        previous = None
        if current is not None and current_day is not None:
            previous = px.drifted(current, current_day, max(current_day, review))
        t = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RuntimeWarning)
                res = rebalance(
                    effective,
                    methodology,
                    known,
                    previous=previous,
                    inputs=inputs,
                    with_report=False,
                )
            # optimizer warnings (a rule relaxed by name, an inaccurate solve) become notes
            notes.extend(f"{effective.date()}: {m.message}" for m in caught)
            w = res.weights.astype(float)
        except (InfeasibleError, StaleDataError, MissingDataError) as exc:
            error = exc
            notes.append(f"{effective.date()}: rebalance not made, holdings kept ({exc})")
            continue
        finally:
            solver += time.perf_counter() - t
        nonzero = w.to_numpy() != 0.0
        if not nonzero.all():
            w = w[nonzero]
        status = str(res.optimized.status)
        if w.empty:
            notes.append(f"{effective.date()}: no weights ({status}); holdings kept")
            continue
        w = _priced_weights(w, px, day, methodology.schedule.max_price_age_days, notes)
        if day in targets:
            notes.append(f"{day.date()}: two reviews trade on one date; the later one is kept")
            rows = [r for r in rows if r["effective"] != day]
            relaxed = [r for r in relaxed if r["date"] != day]
        targets[day] = w
        current, current_day = w, day
        rows.append(
            {"review": review, "effective": day, "status": status, "relaxed": len(res.relaxations)}
        )
        relaxed += [{"date": day, **r.as_dict()} for r in res.relaxations]
        uni = res.universe
        if isinstance(uni, pd.DataFrame) and not uni.empty:
            universes.append((day, uni))
    if not targets:
        if error is not None:
            raise error
        raise MissingDataError(f"no rebalance produced weights between {lo.date()} and {hi.date()}")

    weights = pd.DataFrame(targets).T.fillna(0.0).sort_index()
    weights.index = pd.DatetimeIndex(weights.index, name="date")
    tickers = [str(c) for c in weights.columns]
    weights.columns = pd.Index(tickers, name="ticker")
    prices = market.close_usd(tickers).loc[weights.index[0] : hi]
    divs = market.dividends_usd(tickers).loc[weights.index[0] : hi]
    sched_rows = pd.DataFrame(rows).set_index("effective").reindex(weights.index)
    reviews = pd.DatetimeIndex(sched_rows["review"])
    adtv = adtv_at(market, tickers, reviews)
    adtv.index = weights.index
    c = methodology.costs
    sim = simulate_detailed(
        prices,
        weights,
        dividends=divs,
        cost_bps=c.spread_bps,
        base=methodology.base_level,
        impact_bps_at_full_adtv=c.impact_bps_at_full_adtv,
        adtv_usd=adtv,
        aum_usd=c.aum_usd,
    )
    for r in sim.unknown_adtv.itertuples(index=False):
        notes.append(f"{r.date:%Y-%m-%d}: {r.ticker} traded with unknown ADTV, charged full impact")
    halts = sim.gaps[sim.gaps["rows"] > methodology.schedule.max_price_age_days]
    for g in halts.itertuples(index=False):
        notes.append(
            f"{g.ticker}: no price {g.first_missing:%Y-%m-%d}..{g.last_missing:%Y-%m-%d} "
            f"({g.rows} rows); held at its last price"
        )
    costs = pd.DataFrame(
        {
            "review": reviews,
            "effective": weights.index,
            "status": sched_rows["status"].to_numpy(),
            "relaxed": sched_rows["relaxed"].to_numpy(int),
            "turnover": sim.turnover.to_numpy(),
            "cost": sim.cost.to_numpy(),
        }
    ).reset_index(drop=True)
    universe = _long_universe(universes)
    levels = sim.levels.copy()
    timings = {"rebalance_s": solver, "simulate_and_data_s": time.perf_counter() - t0 - solver}

    start_day = weights.index[0]
    data = {"companies": master, "facts": facts, "shares": shares}
    levels["benchmark"] = np.nan
    name, comparison = None, None
    if isinstance(benchmark, Methodology):
        comparison = run_backtest(
            benchmark, market, lo, hi, progress=progress, on_rebalance=on_rebalance, **data
        )
        name = benchmark.name
        levels["benchmark"] = _rebased(comparison.levels["level_tr"], levels)
    elif benchmark is not None:
        name = str(benchmark)
        levels["benchmark"] = _rebased(_ticker_levels(name, market, start_day, hi), levels)
    peer_name = None
    if peer is not None:
        other = run_backtest(
            peer, market, lo, hi, progress=progress, on_rebalance=on_rebalance, **data
        )
        levels["peer"] = _rebased(other.levels["level_tr"], levels)
        peer_name, comparison = peer.name, other
    elif comparison is not None:
        peer_name = name
    return BacktestResult(
        methodology=methodology.name,
        digest=methodology.digest(),
        levels=levels,
        weights=weights,
        drifted=sim.drifted,
        trades=weights - sim.drifted,
        costs=costs,
        universe=universe,
        prices_usd=prices,
        gaps=sim.gaps,
        label=market.label,
        synthetic=market.synthetic,
        store_version=market.meta.get("store_version"),
        benchmark_name=name,
        peer_name=peer_name,
        peer_weights=comparison.weights if comparison is not None else None,
        peer_universe=comparison.universe if comparison is not None else None,
        peer_prices_usd=comparison.prices_usd if comparison is not None else None,
        notes=notes,
        timings=timings,
        relaxations=pd.DataFrame(relaxed, columns=list(RELAXATION_COLUMNS)),
    )


def _long_universe(universes: list[tuple[pd.Timestamp, pd.DataFrame]]) -> pd.DataFrame:
    """The universes of the rebalances as one long frame: ``ticker``, the universe's columns,
    ``date`` (effective)."""
    if not universes:
        return pd.DataFrame(columns=["date", "ticker"])
    frames = [u for _, u in universes]
    out = pd.concat(frames).rename_axis("ticker").reset_index()
    days = np.array([d.to_datetime64() for d, _ in universes])
    out["date"] = np.repeat(days, [len(u) for u in frames])
    return out


def _ticker_levels(
    ticker: str, market: Market, start: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    """A ticker's USD total-return level (dividends reinvested) from its first price in range."""
    if ticker not in market.close.columns:
        raise InputError(
            f"benchmark ticker {ticker!r} is not in the market data", field="benchmark"
        )
    px = market.close_usd([ticker]).loc[start:end]
    first = px[ticker].first_valid_index()
    if first is None:
        raise MissingDataError(
            f"benchmark {ticker} has no price between {start.date()} and {end.date()}"
        )
    div = market.dividends_usd([ticker]).loc[start:end]
    w = pd.DataFrame({ticker: [1.0]}, index=pd.DatetimeIndex([first]))
    return simulate_detailed(px, w, dividends=div).levels["level_tr"]


def _rebased(series: pd.Series, levels: pd.DataFrame) -> pd.Series:
    """``series`` on the index's dates, equal to the index's TR level where it starts."""
    s = series.reindex(levels.index).ffill()
    first = s.first_valid_index()
    if first is None:
        return s
    return s / s.loc[first] * levels["level_tr"].loc[first]
