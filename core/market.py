"""The in-memory market every stage reads: wide daily frames, their currencies and provenance.

A ``Market`` is what the universe, index and backtest layers see, whatever the source (the
Parquet store, imported files, or the synthetic demo market). ``asof(t)`` gives the market as it
was known at the close of ``t``: nothing dated after ``t`` survives, which is how every decision
stays point in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np
import pandas as pd

from exchina.core.errors import MissingDataError

SYNTHETIC_LABEL = "SYNTHETIC DEMO MARKET - not real prices"


@dataclass(frozen=True)
class TradedValue:
    """Daily traded value in USD, dates x tickers (close x FX x volume; a day without a trade or
    a price counts as zero), and whether the volume is known: the one ADTV of the code base, used
    by ``Market.adtv_usd``, the universe screens and the backtest's market-impact costs."""

    usd: np.ndarray
    known: np.ndarray

    @classmethod
    def of(cls, close_usd: np.ndarray, volume: np.ndarray) -> TradedValue:
        """From close in USD and shares traded on the same dates x tickers grid."""
        return cls(np.nan_to_num(close_usd * volume, copy=False, nan=0.0), ~np.isnan(volume))

    def adtv(self, end: int, window: int) -> np.ndarray:
        """Per ticker, the average traded value over the ``window`` rows before row ``end``;
        NaN where no volume is known in them (or there are none)."""
        lo = max(end - window, 0)
        if end <= lo:
            return np.full(self.usd.shape[1], np.nan)
        return np.where(self.known[lo:end].any(axis=0), self.usd[lo:end].mean(axis=0), np.nan)


def take_columns(values: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``values[:, cols]`` with NaN columns where ``cols`` is -1 (ticker absent)."""
    if values.shape[1] == 0:
        return np.full((values.shape[0], len(cols)), np.nan)
    out = values[:, np.maximum(cols, 0)]  # a copy: fancy indexing
    absent = cols < 0
    if absent.any():
        out[:, absent] = np.nan
    return out


def last_rows(seen: np.ndarray) -> np.ndarray:
    """Per row and column, the last row up to it where ``seen`` (-1 = none yet); int32, which
    numpy accumulates several times faster than int64 (row numbers stay far below 2**31)."""
    rows = np.arange(seen.shape[0], dtype=np.int32)[:, None]
    return np.maximum.accumulate(np.where(seen, rows, np.int32(-1)), axis=0)


@dataclass(frozen=True)
class Closes:
    """Per ticker, its last close on or before a date (``LastCloses.at``)."""

    price: np.ndarray  # in the listing currency; NaN = never priced
    price_date: np.ndarray  # datetime64[ns] of that close; NaT = never priced
    currency: np.ndarray  # object: the ISO code; NaN = unknown
    price_usd: np.ndarray  # price x the FX last known at the date; NaN = no price or no FX

    def take(self, order: np.ndarray) -> Closes:
        """The same closes in the order of the positions ``order``."""
        return Closes(
            self.price[order], self.price_date[order], self.currency[order], self.price_usd[order]
        )


class LastCloses:
    """A market's closes and FX as arrays, prepared once, for "last close at t" lookups in a
    loop of rebalances: ``at(market, t, tickers)`` answers for ``market`` or any cut
    ``market.asof(...)`` of it by reading only its rows (point in time)."""

    def __init__(self, market: Market, tickers: pd.Index) -> None:
        self.market = market
        self.tickers = pd.Index(tickers)
        self.position = {str(t): i for i, t in enumerate(self.tickers.tolist())}
        self.dates = pd.DatetimeIndex(market.close.index)
        cols = market.close.columns.get_indexer(self.tickers)
        self.close = take_columns(market.close.to_numpy(dtype=float), cols)
        self.last = last_rows(~np.isnan(self.close))
        self.day = self.dates.to_numpy(dtype="datetime64[ns]")
        currency = market.currency
        self.currency = dict(
            zip(currency.index.tolist(), currency.to_numpy(dtype=object).tolist(), strict=True)
        )
        self.fx_dates = pd.DatetimeIndex(market.fx.index)
        self.fx_names = [str(c) for c in market.fx.columns]
        self.fx = market.fx.to_numpy(dtype=float)
        self.fx_last = last_rows(~np.isnan(self.fx))

    def rows(self, market: Market, date: pd.Timestamp) -> tuple[int, int]:
        """Close and FX rows of ``market`` (this market or a cut of it) on or before ``date``."""
        n, n_fx = len(market.close), len(market.fx)
        if (
            n > len(self.dates)
            or n_fx > len(self.fx_dates)
            or not market.close.index.equals(self.dates[:n])
            or not market.close.columns.equals(self.market.close.columns)
        ):
            raise ValueError("the market is not a cut of the one these closes were prepared from")
        return (
            min(int(self.dates.searchsorted(date, side="right")), n),
            min(int(self.fx_dates.searchsorted(date, side="right")), n_fx),
        )

    def at(self, market: Market, date: pd.Timestamp, tickers: list[str]) -> Closes:
        """Each of ``tickers``' last close in ``market`` on or before ``date``, its date, its
        currency and its value in USD at the FX last known at ``date``. ``MissingDataError``
        when a ticker's currency has no FX series to USD."""
        n, n_fx = self.rows(market, date)
        pos = np.array([self.position.get(t, -1) for t in tickers], dtype=int)
        row = self.last[n - 1, np.maximum(pos, 0)] if n else np.full(len(pos), -1)
        row = np.where(pos >= 0, row, -1)
        has = row >= 0
        price = np.where(has, self.close[np.maximum(row, 0), np.maximum(pos, 0)], np.nan)
        price_date = np.where(has, self.day[np.maximum(row, 0)], np.datetime64("NaT", "ns"))
        currency = np.array([self.currency.get(t, np.nan) for t in tickers], dtype=object)
        known = {str(c) for c in currency if isinstance(c, str)}
        missing = sorted(known - {"USD", *self.fx_names})
        if missing:
            raise MissingDataError(f"no FX series to USD for currencies {missing}")
        fx_row = self.fx_last[n_fx - 1] if n_fx else np.full(len(self.fx_names), -1)
        fx_last = {
            c: self.fx[r, j]
            for j, (c, r) in enumerate(zip(self.fx_names, fx_row, strict=True))
            if r >= 0
        }
        fx = np.array(
            [1.0 if c == "USD" else fx_last.get(str(c), np.nan) for c in currency], dtype=float
        )
        return Closes(price, price_date, currency, price * fx)


@dataclass(frozen=True)
class Market:
    """Daily market data on one calendar (a DatetimeIndex named ``date``, ascending, tz-naive).

    close:      dates x tickers, split-adjusted close in the listing currency (NaN = no trade)
    volume:     dates x tickers, shares traded (NaN = unknown)
    dividends:  dates x tickers, cash per share paid on the ex-date in the listing currency (0 = none)
    currency:   ticker -> ISO 4217 code of ``close`` (GBp and ZAc already normalised to GBP, ZAR)
    fx:         dates x currencies, USD per one unit of the currency (a ``USD`` column of 1.0)
    shares:     dates x tickers, shares outstanding (forward-filled; NaN = unknown)
    source:     human-readable provenance, e.g. "synthetic demo market (seed 7)" or "store: yahoo"
    synthetic:  True when any number comes from the synthetic demo market
    """

    close: pd.DataFrame
    volume: pd.DataFrame
    dividends: pd.DataFrame
    currency: pd.Series
    fx: pd.DataFrame
    shares: pd.DataFrame
    source: str
    synthetic: bool = False
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def tickers(self) -> list[str]:
        """Tickers with at least one price."""
        return [str(t) for t in self.close.columns]

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.close.index)

    @property
    def as_of(self) -> pd.Timestamp:
        """The last date with any price (NaT if none); read from the end, a block of rows at a
        time, since the last rows almost always hold prices."""
        end = len(self.close)
        while end > 0:
            lo = max(end - 64, 0)
            values = self.close.iloc[lo:end].to_numpy(dtype=float)
            rows = np.flatnonzero(~np.isnan(values).all(axis=1))
            if rows.size:
                return self.dates[int(lo + rows[-1])]
            end = lo
        return pd.Timestamp("NaT")

    @property
    def label(self) -> str:
        """The provenance line to stamp on every output, chart and file."""
        return f"{SYNTHETIC_LABEL} ({self.source})" if self.synthetic else self.source

    def asof(self, date: str | pd.Timestamp) -> Market:
        """The market as known at the close of ``date``: every row after it dropped (this
        market itself when it holds none)."""
        t = pd.Timestamp(date)
        frames = (self.close, self.volume, self.dividends, self.fx, self.shares)
        if all(f.index.empty or f.index[-1] <= t for f in frames):
            return self
        return replace(
            self,
            close=self.close.loc[:t],
            volume=self.volume.loc[:t],
            dividends=self.dividends.loc[:t],
            fx=self.fx.loc[:t],
            shares=self.shares.loc[:t],
        )

    def window(self, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None) -> Market:
        """The market restricted to ``[start, end]`` (either may be None)."""
        sl = slice(pd.Timestamp(start) if start else None, pd.Timestamp(end) if end else None)
        return replace(
            self,
            close=self.close.loc[sl],
            volume=self.volume.loc[sl],
            dividends=self.dividends.loc[sl],
            fx=self.fx.loc[sl],
            shares=self.shares.loc[sl],
        )

    def fx_for(self, tickers: list[str] | None = None) -> pd.DataFrame:
        """USD per unit of each ticker's currency, dates x tickers (FX forward-filled)."""
        cols = tickers if tickers is not None else self.tickers
        fx = self.fx.reindex(self.close.index).ffill()
        if "USD" not in fx.columns:
            fx = fx.assign(USD=1.0)
        ccy = self.currency.reindex(cols)
        missing = sorted({str(c) for c in ccy.dropna().unique()} - set(fx.columns))
        if missing:
            raise MissingDataError(f"no FX series to USD for currencies {missing}")
        pos = fx.columns.get_indexer(pd.Index(ccy.to_numpy(dtype=object)))
        if (pos < 0).any():
            unknown = [str(t) for t, p in zip(cols, pos, strict=True) if p < 0]
            raise MissingDataError(f"no currency for tickers {unknown}")
        return pd.DataFrame(
            fx.to_numpy(dtype=float)[:, pos],  # one column take, not a frame per ticker
            index=self.close.index,
            columns=pd.Index(cols, name="ticker"),
        )

    def close_usd(self, tickers: list[str] | None = None) -> pd.DataFrame:
        """Close in USD, dates x tickers."""
        cols = tickers if tickers is not None else self.tickers
        return self.close[cols] * self.fx_for(cols)

    def dividends_usd(self, tickers: list[str] | None = None) -> pd.DataFrame:
        """Dividends in USD on their ex-dates, dates x tickers."""
        cols = tickers if tickers is not None else self.tickers
        return self.dividends.reindex(columns=cols).fillna(0.0) * self.fx_for(cols)

    def adtv_usd(self, window: int = 63, tickers: list[str] | None = None) -> pd.Series:
        """Average daily traded value in USD over the last ``window`` rows (days without a trade
        count as zero traded value; a ticker with no volume data gets NaN)."""
        cols = tickers if tickers is not None else self.tickers
        volume = self.volume.reindex(index=self.close.index, columns=cols)
        traded = TradedValue.of(self.close_usd(cols).to_numpy(float), volume.to_numpy(float))
        return pd.Series(traded.adtv(len(self.close), window), index=pd.Index(cols, name="ticker"))

    def mcap_usd(self, tickers: list[str] | None = None) -> pd.Series:
        """Latest full market cap in USD (last close x last known shares x FX); NaN if unknown."""
        cols = tickers if tickers is not None else self.tickers
        px = self.close_usd(cols).ffill().iloc[-1] if len(self.close) else pd.Series(np.nan, cols)
        sh = self.shares.reindex(columns=cols).ffill()
        last_sh = sh.iloc[-1] if len(sh) else pd.Series(np.nan, index=cols)
        return (px * last_sh).rename("mcap_usd")

    def history_days(self, tickers: list[str] | None = None) -> pd.Series:
        """Number of rows with a price, per ticker."""
        cols = tickers if tickers is not None else self.tickers
        return self.close.reindex(columns=cols).notna().sum()

    def last_price_date(self, tickers: list[str] | None = None) -> pd.Series:
        """Date of the latest price per ticker (NaT if none)."""
        cols = tickers if tickers is not None else self.tickers
        c = self.close.reindex(columns=cols)
        # one value per column, so a Series (the stubs also allow a frame)
        return cast(pd.Series, c.apply(lambda s: s.last_valid_index()))
