"""Yahoo Finance source: daily prices, dividends, splits, currencies and FX through yfinance.

yfinance is reached only through ``YahooClient`` (``download``, ``currency`` and, when the client
has it, ``shares``: the share-count history, ``exchina.core.share_history``), so tests inject
fixture frames of the shapes yfinance really returns and never touch the network. Facts handled
(see shared/reference/anchors.md): ``download`` returns ('Price', 'Ticker') MultiIndex columns even
for one ticker; offline or refused it returns an empty frame and raises nothing, so an empty or
all-NaN column set is a failure of that ticker; rate limits raise, and are retried with backoff;
London quotes come in pence (``GBp``) and Johannesburg in cents (``ZAc``), read from each ticker's
metadata and converted to the major unit. Every fetch asks for the full history from ``start``
(``FETCH_START`` by default): Yahoo rewrites past split-adjusted closes after a split, and a full
refresh lets the store revise them instead of mixing adjustment bases; unchanged rows are not
rewritten.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import pandas as pd
from tqdm import tqdm

from exchina.core.errors import ExchinaError, SourceError
from exchina.core.fx import fx_currency, fx_ticker, infer_currency, normalise_currency
from exchina.core.share_history import share_rows
from exchina.core.store import MarketStore, WriteSummary
from exchina.core.validate import validate_prices

FETCH_START = "2010-01-01"
YAHOO_SOURCE = "yahoo"
_COLUMNS = {
    "Close": "close",
    "Adj Close": "adj_close",
    "Dividends": "dividends",
    "Stock Splits": "splits",
    "Volume": "volume",
}
NO_DATA = "no data returned (offline, refused, unknown or delisted ticker)"


class YahooClient(Protocol):
    """The two yfinance calls the toolkit makes."""

    def download(self, tickers: list[str], start: str, end: str | None) -> pd.DataFrame:
        """Daily rows, ('Price', 'Ticker') columns, as ``yfinance.download`` returns them."""
        ...

    def currency(self, ticker: str) -> str | None:
        """The quote currency from the ticker's metadata (``GBp`` for London), None if unknown."""
        ...


YAHOO_HOST = ("query1.finance.yahoo.com", 443)


class YFinanceClient:
    """The real client: ``yfinance.download`` with every behaviour-changing option explicit."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.timeout = timeout

    def reachable(self) -> str | None:
        """None when Yahoo Finance's host accepts a connection, else why not (one line).

        yfinance returns an empty frame offline instead of raising, so a batch that got nothing
        is checked here before any retry: offline, the fetch stops at once."""
        import socket

        try:
            socket.create_connection(YAHOO_HOST, timeout=5).close()
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def download(self, tickers: list[str], start: str, end: str | None) -> pd.DataFrame:
        import yfinance as yf

        with warnings.catch_warnings():  # yfinance's own pandas deprecations are not the user's
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._download(yf, tickers, start, end)

    def _download(self, yf, tickers: list[str], start: str, end: str | None) -> pd.DataFrame:
        return yf.download(
            tickers,
            start=start,
            end=end,
            auto_adjust=False,
            actions=True,
            multi_level_index=True,
            group_by="column",
            repair=False,
            progress=False,
            threads=True,
            timeout=self.timeout,
        )

    def currency(self, ticker: str) -> str | None:
        import yfinance as yf

        try:
            return yf.Ticker(ticker).fast_info["currency"]
        except Exception:  # metadata is best effort; the suffix is the documented fallback
            return None

    def shares(self, ticker: str, start: str, end: str | None) -> pd.Series | None:
        """``Ticker.get_shares_full(start, end)``: the share-count history (None if Yahoo has
        none); see ``exchina.core.share_history`` for its shape."""
        import yfinance as yf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return yf.Ticker(ticker).get_shares_full(start=start, end=end)


@dataclass
class FetchResult:
    """What a fetch stored and what failed (ticker -> reason)."""

    succeeded: list[str]
    failures: dict[str, str]
    currencies: dict[str, str]
    prices: WriteSummary
    fx: WriteSummary
    warnings: list[str] = field(default_factory=list)
    shares: WriteSummary = field(default_factory=lambda: WriteSummary("shares"))


def ticker_frame(frame: pd.DataFrame | None, ticker: str) -> pd.DataFrame:
    """One ticker's rows from a ``download`` frame, columns renamed to the store's names.

    Accepts MultiIndex ('Price', 'Ticker') columns (the default, even for one ticker) and flat
    columns; returns an empty frame when the ticker is absent or has no price.
    """
    if frame is None or frame.empty:
        return pd.DataFrame()
    if isinstance(frame.columns, pd.MultiIndex):
        level = "Ticker" if "Ticker" in frame.columns.names else 1
        if ticker not in frame.columns.get_level_values(level):
            return pd.DataFrame()
        # one ticker of a two-level column index leaves a frame (the stubs allow a Series)
        sub = cast(pd.DataFrame, frame.xs(ticker, axis=1, level=level))
    else:
        sub = frame
    sub = sub[[c for c in _COLUMNS if c in sub.columns]].rename(columns=_COLUMNS)
    price_cols = [c for c in ("close", "adj_close") if c in sub.columns]
    if not price_cols:
        return pd.DataFrame()
    sub = sub[sub[price_cols].notna().any(axis=1)]
    return sub.rename_axis("date").reset_index()


def _batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def download_batches(
    client: YahooClient,
    tickers: list[str],
    start: str,
    end: str | None,
    *,
    batch_size: int = 50,
    retries: int = 2,
    backoff: float = 2.0,
    sleep: Callable[[float], None] | None = None,
    progress: bool = True,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Download in batches, retrying failed tickers with exponential backoff.

    Returns ``(frames by ticker, failures ticker -> reason)``.
    """
    sleep = sleep or time.sleep
    got: dict[str, pd.DataFrame] = {}
    failures: dict[str, str] = {}
    batches = _batches(tickers, batch_size)
    bar = tqdm(
        total=len(tickers), desc="fetch", unit="ticker", disable=not progress, file=sys.stderr
    )
    for batch in batches:
        pending = list(batch)
        for attempt in range(retries + 1):
            reasons: dict[str, str] = {}
            try:
                frame = client.download(pending, start, end)
            except Exception as exc:  # yfinance raises assorted errors (rate limit, HTTP)
                reasons = {t: f"{type(exc).__name__}: {exc}" for t in pending}
            else:
                for t in pending:
                    sub = ticker_frame(frame, t)
                    if len(sub):
                        got[t] = sub
                    else:
                        reasons[t] = NO_DATA
            pending = list(reasons)
            if not pending:
                break
            failures.update(reasons)
            if attempt == 0 and not got and len(pending) == len(batch):
                _stop_if_offline(client)
            if attempt < retries:
                sleep(backoff * 2**attempt)
        for t in batch:
            if t in got:
                failures.pop(t, None)
        bar.update(len(batch))
    bar.close()
    return got, failures


def _stop_if_offline(client: YahooClient) -> None:
    """A batch that got nothing at the first try: if Yahoo's host cannot be reached at all, stop
    now with one line (exit 7) instead of retrying every ticker with backoff."""
    probe = getattr(client, "reachable", None)
    why = probe() if callable(probe) else None
    if why is not None:
        host, port = YAHOO_HOST
        raise SourceError(
            f"cannot reach Yahoo Finance ({host}:{port}: {why}); offline? Nothing was fetched "
            "and the store is unchanged (import files with `exchina import FILE...` instead)",
            {},
        )


def fetch(
    tickers: list[str],
    store: MarketStore | None = None,
    client: YahooClient | None = None,
    start: str | None = None,
    end: str | None = None,
    *,
    batch_size: int = 50,
    retries: int = 2,
    backoff: float = 2.0,
    sleep: Callable[[float], None] | None = None,
    progress: bool = True,
) -> FetchResult:
    """Download tickers (and the FX to USD their currencies need, and each stock's share-count
    history) and store what succeeded, in one store version.

    Tickers named like ``AUDUSD=X`` are stored as FX. A ticker with no rows, or with rows that
    fail validation, is a failure with its reason; the others are stored. SourceError (exit 7)
    when nothing succeeded, with the store untouched.
    """
    store = store or MarketStore()
    client = client or YFinanceClient()
    start = start or FETCH_START
    tickers = list(dict.fromkeys(tickers))

    def download(names: list[str]) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
        return download_batches(
            client, names, start, end, batch_size=batch_size, retries=retries,
            backoff=backoff, sleep=sleep, progress=progress,
        )  # fmt: skip

    stocks = [t for t in tickers if not fx_currency(t)]
    frames, failures = download(stocks)
    warnings: list[str] = []
    prices, currencies = [], {}
    for t, sub in frames.items():
        try:
            clean, notes = _prepare(client, t, sub)
        except (ExchinaError, ValueError) as exc:
            failures[t] = str(exc)
            continue
        prices.append(clean)
        currencies[t] = str(clean["currency"].iloc[0])
        warnings += notes
    wanted_fx = {c for t in tickers if (c := fx_currency(t))}
    wanted_fx |= {c for c in currencies.values() if c != "USD"}
    fx_frames, fx_fail = download([fx_ticker(c) for c in sorted(wanted_fx)])
    failures.update(fx_fail)
    fx_rows = []
    for t, sub in fx_frames.items():
        rate = sub["close"] if "close" in sub.columns else sub["adj_close"]
        fx_rows.append(
            pd.DataFrame({"date": sub["date"], "currency": fx_currency(t), "usd_per_unit": rate})
        )
    succeeded = sorted(currencies) + sorted(t for t in fx_frames if t in tickers)
    if not succeeded:
        raise SourceError(
            f"Yahoo Finance returned no usable data for any of {len(tickers)} ticker(s); "
            "the store is unchanged"
            + "".join(f"\n  - {t}: {why}" for t, why in sorted(failures.items())[:20])
            + (f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""),
            failures,
        )
    counts = share_counts(client, sorted(currencies), start, end, warnings)
    with store.lock():
        p_sum = (
            store.write_prices(pd.concat(prices, ignore_index=True), YAHOO_SOURCE, "yahoo")
            if prices
            else WriteSummary("prices")
        )
        f_sum = WriteSummary("fx")
        if fx_rows:
            f_sum = store.write_fx(pd.concat(fx_rows, ignore_index=True), YAHOO_SOURCE, "yahoo")
        s_sum = store.write_shares(counts, YAHOO_SOURCE, "yahoo") if len(counts) else None
    return FetchResult(
        succeeded, failures, currencies, p_sum, f_sum, warnings, s_sum or WriteSummary("shares")
    )


def share_counts(
    client: YahooClient, tickers: list[str], start: str, end: str | None, notes: list[str]
) -> pd.DataFrame:
    """The share-count history of each ticker (``get_shares_full`` from ``start``, not its
    18-month default) as store rows; a ticker without one, or a failed request, is a note in
    ``notes`` (its prices are stored all the same). A client without ``shares`` gets none."""
    ask = getattr(client, "shares", None)
    if not callable(ask):
        return pd.DataFrame()
    frames = []
    for t in tickers:
        try:
            got = ask(t, start, end)
            rows, why = share_rows(got if isinstance(got, pd.Series) else None, t)
        except Exception as exc:  # yfinance raises assorted errors for this endpoint
            notes.append(f"{t}: no share-count history ({type(exc).__name__}: {exc})")
            continue
        notes += why
        if len(rows):
            frames.append(rows)
        else:
            notes.append(f"{t}: Yahoo has no share-count history")
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _prepare(client: YahooClient, ticker: str, sub: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Currency from metadata (suffix as fallback), minor units converted, rows validated."""
    notes = []
    raw = client.currency(ticker)
    inferred = raw is None
    if inferred:
        iso, factor = infer_currency(ticker)
        notes.append(f"{ticker}: no currency in Yahoo metadata; inferred {iso} from the suffix")
    else:
        iso, factor = normalise_currency(raw)
    frame = sub.copy()
    if factor != 1.0:
        for c in ("close", "adj_close", "dividends"):
            if c in frame.columns:
                frame[c] = frame[c] * factor
    frame = frame.assign(ticker=ticker, currency=iso, currency_inferred=inferred)
    clean, warns = validate_prices(frame, file=f"yahoo:{ticker}")
    return clean, notes + warns


def universe_tickers(instruments: pd.DataFrame) -> list[str]:
    """Tickers to fetch for the universe: every company not delisted, plus the REMX benchmark."""
    live = instruments[(instruments["status"] != "delisted") & (instruments["delisted_on"] == "")]
    return [*live["ticker"].tolist(), "REMX"]
