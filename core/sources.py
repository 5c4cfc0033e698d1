"""``load_market``: the one way higher layers get a ``Market`` (store, demo, or auto).

From the store, the long tables are pivoted to the wide ``Market`` frames on the union of stored
dates. ``close`` is the split-adjusted close. Where a ticker has only an adjusted close (files
saved with yfinance's ``auto_adjust=True``, dsturdy's close-only files), the split-adjusted close is
rebuilt from the adjusted close and the stored dividends when there are any (the inverse of
Yahoo's adjustment), else the adjusted close is used as the close with zero dividends (total
return carried in the price); where a ticker has both closes but no dividend column (Yahoo's CSV
export), the dividends are recovered from the change in the adjustment ratio. Each of these is
named in ``Market.meta``. FX comes from the store's FX table (``USD`` = 1), its sources in
``meta["fx_sources"]`` (an approximation says so there); a currency without an FX series is a
MissingDataError that says how to fetch it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from exchina.core.demo import DEMO_SEED, DEMO_SOURCE, demo_market
from exchina.core.errors import InputError, MissingDataError
from exchina.core.fx import fx_ticker
from exchina.core.market import Market
from exchina.core.store import MarketStore
from exchina.core.yahoo import YAHOO_SOURCE

SOURCES = ("auto", "store", "demo")
DEMO_NOTICE = (
    "note: no prices in the store at {root}; using the SYNTHETIC demo market. "
    "For real prices run `exchina fetch --universe` or `exchina import FILE...`."
)
DIVIDEND_RATIO_TOL = 1e-4


def load_market(
    source: str = "auto",
    store: MarketStore | str | Path | None = None,
    tickers: list[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    seed: int = DEMO_SEED,
    as_stored: str | int | None = None,
) -> Market:
    """The market from ``source``: ``store``, ``demo`` (synthetic) or ``auto`` (the store when it
    holds prices, else the demo with a one-line notice on stderr). ``as_stored`` reads the store
    as it was at that version or time (``--as-stored``); it implies ``source="store"``."""
    if source not in SOURCES:
        raise InputError(
            f"unknown source {source!r}; use one of {', '.join(SOURCES)}", field="source"
        )
    if as_stored is not None:
        if source == "demo":
            raise InputError("--as-stored reads the store; drop --source demo", field="--as-stored")
        root = store.root if isinstance(store, MarketStore) else store
        store, source = MarketStore(root, as_stored=as_stored), "store"
    st = store if isinstance(store, MarketStore) else MarketStore(store)
    resolved = resolve_source(source, st)
    if source == "auto" and resolved == "demo":
        print(DEMO_NOTICE.format(root=st.root), file=sys.stderr)
    if resolved == "demo":
        market = demo_market(seed)
        if tickers is not None:
            missing = sorted(set(tickers) - set(market.tickers))
            if missing:
                raise MissingDataError(f"the demo market has no tickers {missing}")
            market = _select(market, list(tickers))
        return market.window(start, end)
    return market_from_store(st, tickers, start, end)


def resolve_source(source: str, store: MarketStore, refresh: bool = False) -> str:
    """What ``source`` means now: ``auto`` is the store when it holds prices (or a ``refresh``
    is about to fill it), else the synthetic demo market; ``store`` and ``demo`` are themselves.
    The one place that decides it (``load_market``, the scheduled run)."""
    if source != "auto":
        return source
    return "store" if refresh or store.has_prices() else "demo"


def _select(market: Market, tickers: list[str]) -> Market:
    from dataclasses import replace

    return replace(
        market,
        close=market.close[tickers],
        volume=market.volume[tickers],
        dividends=market.dividends[tickers],
        shares=market.shares[tickers],
        currency=market.currency[tickers],
    )


def close_from_adjusted(adj: pd.Series, dividends: pd.Series) -> pd.Series:
    """Split-adjusted close from a dividend-adjusted close and ex-date dividends.

    Inverts Yahoo's adjustment: before each ex-date t the multiplier shrinks by
    ``1 - D_t / close_{t-1}``, and ``close_{t-1} = adj_{t-1} / f_t + D_t``.
    """
    a = adj.dropna()
    vals = a.to_numpy(dtype=float)
    div = dividends.reindex(a.index).fillna(0.0).to_numpy(dtype=float)
    f = np.ones(len(a))
    factor = 1.0
    for i in np.flatnonzero(div > 0)[::-1]:
        if i == 0:
            continue
        prev_close = vals[i - 1] / factor + div[i]
        factor *= 1.0 - div[i] / prev_close
        f[:i] = factor
    return pd.Series(vals / f, index=a.index).reindex(adj.index)


def dividends_from_adjusted(close: pd.Series, adj: pd.Series) -> pd.Series:
    """Ex-date dividends implied by the change of ``adj / close`` (the inverse of the above)."""
    ratio = (adj / close).ffill()
    step = ratio.shift(1) / ratio
    prev_close = close.ffill().shift(1)
    div = (prev_close * (1.0 - step)).where(step < 1.0 - DIVIDEND_RATIO_TOL, 0.0)
    return div.fillna(0.0).clip(lower=0.0)


def market_from_store(
    store: MarketStore,
    tickers: list[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> Market:
    """Pivot the store's long tables into a ``Market`` (see the module docstring); every table
    is read at one store version, recorded in ``meta["store_version"]``."""
    store = store.pinned()
    px = store.read_prices(tickers, start, end)
    if not len(px):
        raise MissingDataError(
            f"the store at {store.root} holds no prices"
            + (f" for {sorted(tickers)}" if tickers else "")
            + "; run `exchina fetch` or `exchina import FILE...`"
        )
    if tickers is not None:
        missing = sorted(set(tickers) - set(px["ticker"]))
        if missing:
            raise MissingDataError(f"the store at {store.root} has no prices for {missing}")
    dates = pd.DatetimeIndex(sorted(px["date"].unique()), name="date").as_unit("ns")

    def wide(col: str) -> pd.DataFrame:
        w = px.pivot(index="date", columns="ticker", values=col).reindex(dates)
        w.columns = pd.Index([str(c) for c in w.columns], name="ticker")
        return w.astype("float64")

    close, adj, div, volume = wide("close"), wide("adj_close"), wide("dividends"), wide("volume")
    notes: dict[str, list[str]] = {
        "adjusted_as_close": [],
        "close_rebuilt": [],
        "dividends_derived": [],
    }
    for t in close.columns:
        c, a, d = close[t], adj[t], div[t]
        if c.notna().sum() >= a.notna().sum():
            if d.isna().all() and a.notna().any():
                div[t] = dividends_from_adjusted(c, a)
                notes["dividends_derived"].append(t)
            continue
        if (d.fillna(0.0) > 0).any():
            close[t] = close_from_adjusted(a, d)
            notes["close_rebuilt"].append(t)
        else:
            close[t] = a
            div[t] = 0.0
            notes["adjusted_as_close"].append(t)
    div = div.fillna(0.0)
    currency = px.groupby("ticker")["currency"].last()
    currency.index = pd.Index([str(i) for i in currency.index], name="ticker")
    currency = currency.astype(str).reindex(close.columns).rename("currency")
    fx, fx_sources = _fx(store, currency, dates, end)
    shares = _shares(store, list(close.columns), dates, end)
    sources = sorted(set(px["source"].astype(str)))
    kinds = sorted({_kind(s) for s in sources})
    synthetic = DEMO_SOURCE in sources
    meta = {
        "store": str(store.root),
        "store_version": str(store.version()),
        "sources": ";".join(sources),
    }
    if fx_sources:
        meta["fx_sources"] = fx_sources
    meta |= {k: ";".join(v) for k, v in notes.items() if v}
    return Market(
        close=close,
        volume=volume,
        dividends=div,
        currency=currency,
        fx=fx,
        shares=shares,
        source=f"store: {', '.join(kinds)}",
        synthetic=synthetic,
        meta=meta,
    )


def _kind(source: str) -> str:
    if source.startswith("file:"):
        return "imported files"
    if source == YAHOO_SOURCE:
        return "Yahoo Finance"
    if source == DEMO_SOURCE:
        return "SYNTHETIC demo"
    return source


def _fx(
    store: MarketStore, currency: pd.Series, dates: pd.DatetimeIndex, end
) -> tuple[pd.DataFrame, str]:
    """USD per unit on ``dates`` (forward-filled) and the FX series' sources (``;``-joined)."""
    needed = sorted(set(currency) - {"USD"})
    raw = store.read_fx(needed, None, end) if needed else store.read_fx([], None, end)
    missing = sorted(set(needed) - set(raw["currency"]))
    if missing:
        who = {c: sorted(currency[currency == c].index) for c in missing}
        hint = " ".join(fx_ticker(c) for c in missing)
        raise MissingDataError(
            f"no FX series to USD in the store at {store.root} for {', '.join(missing)} "
            f"(needed by {who}); run `exchina fetch {hint}` or import a file named "
            f"{fx_ticker(missing[0])}.csv"
        )
    if needed:
        w = raw.pivot(index="date", columns="currency", values="usd_per_unit")
        w = w.reindex(w.index.union(dates)).ffill().reindex(dates)
    else:
        w = pd.DataFrame(index=dates)
    w["USD"] = 1.0
    w.columns = pd.Index([str(c) for c in w.columns], name="currency")
    used = raw[raw["currency"].isin(needed)]["source"].astype(str)
    return w.astype("float64"), ";".join(sorted(set(used)))


def _shares(store: MarketStore, tickers: list[str], dates: pd.DatetimeIndex, end) -> pd.DataFrame:
    raw = store.read_shares(tickers, None, end)
    if not len(raw):
        return pd.DataFrame(np.nan, index=dates, columns=pd.Index(tickers, name="ticker"))
    w = raw.pivot(index="date", columns="ticker", values="shares")
    w = w.reindex(w.index.union(dates)).ffill().reindex(dates)
    w.columns = pd.Index([str(c) for c in w.columns], name="ticker")
    return w.reindex(columns=pd.Index(tickers, name="ticker")).astype("float64")
