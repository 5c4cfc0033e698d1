"""``build_universe``'s inputs prepared once for many dates.

A backtest screens the same master, facts, share counts and market at every review.
``UniverseInputs`` turns them into arrays once - the master's columns, each company's price,
volume and share-count history on the market's calendar, the stage evidence - and answers "as
known at t" by cutting them at t: no market row after t and no fact not yet known at t reaches
the answer, so the screens stay point in time. ``build_universe`` prepares one for a single
date when none is given; ``run_backtest`` prepares one per backtest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray

from exchina.core.errors import MissingDataError
from exchina.core.market import LastCloses, Market, TradedValue, last_rows, take_columns
from exchina.core.paths import data_file
from exchina.universe.loaders import (
    SHARE_COLUMNS,
    load_companies,
    load_facts,
    load_shares,
    load_stage_facts,
)
from exchina.universe.score import Scorer
from exchina.universe.stages import StageEvidence


@dataclass(frozen=True)
class MarketStats:
    """Per ticker, the market as known at one date (NaN when absent)."""

    history_days: np.ndarray  # rows with a price
    adtv_usd: np.ndarray
    price_usd: np.ndarray  # last close x the FX of its day
    shares: np.ndarray  # last known share count


class MarketHistory:
    """The market's history of some tickers as arrays on its calendar: rows priced so far, the
    last priced row, close in USD, traded value and the last known share count. ``stats(n, w)``
    reads rows before ``n`` only. ``closes``: the local closes and FX behind them, which also
    price a rebalance's constituents (``LastCloses``)."""

    def __init__(self, market: Market, tickers: pd.Index) -> None:
        index = market.close.index
        self.dates = pd.DatetimeIndex(index)
        self.closes = LastCloses(market, tickers)
        close = self.closes.close
        fx = market.fx.reindex(index).ffill()
        if "USD" not in fx.columns:
            fx = fx.assign(USD=1.0)
        ccy = market.currency.reindex(tickers)
        fx_cols = fx.columns.get_indexer(pd.Index(ccy.fillna("USD")))
        self.currency = ccy.to_numpy(dtype=object)
        self.no_fx = fx_cols < 0  # a currency without an FX series to USD
        self.priced = np.cumsum(~np.isnan(close), axis=0, dtype=np.int32)  # rows priced so far
        self.last = self.closes.last
        self.close_usd = close * take_columns(fx.to_numpy(dtype=float), fx_cols)
        vol = market.volume if market.volume.index.equals(index) else market.volume.reindex(index)
        volume = take_columns(vol.to_numpy(dtype=float), market.volume.columns.get_indexer(tickers))
        self.traded = TradedValue.of(self.close_usd, volume)
        sh = market.shares if market.shares.index.equals(index) else market.shares.reindex(index)
        self.shares = take_columns(
            sh.to_numpy(dtype=float), market.shares.columns.get_indexer(tickers)
        )
        self.shares_last = last_rows(~np.isnan(self.shares))

    def rows(self, date: pd.Timestamp) -> int:
        """How many market rows are on or before ``date``."""
        return int(self.dates.searchsorted(date, side="right"))

    def stats(self, n: int, window: int) -> MarketStats:
        """As known after the first ``n`` rows; ADTV over the last ``window`` of them.
        ``MissingDataError`` when a priced ticker's currency has no FX series."""
        k = len(self.currency)
        if n == 0:
            empty = np.full(k, np.nan)
            return MarketStats(empty, empty, empty, empty)
        hist = self.priced[n - 1].astype(float)
        present = hist > 0
        missing = sorted({str(c) for c in self.currency[present & self.no_fx]})
        if missing:
            raise MissingDataError(f"no FX series to USD for currencies {missing}")
        row = self.last[n - 1]
        ok = present & (row >= 0)
        price = np.full(k, np.nan)
        price[ok] = self.close_usd[row[ok], np.flatnonzero(ok)]
        srow = self.shares_last[n - 1]
        shares = np.where(srow >= 0, self.shares[np.maximum(srow, 0), np.arange(k)], np.nan)
        return MarketStats(
            history_days=np.where(present, hist, np.nan),
            adtv_usd=np.where(present, self.traded.adtv(n, window), np.nan),
            price_usd=price,
            shares=shares,
        )


def shares_in_force(shares: pd.DataFrame, date: str | pd.Timestamp) -> pd.DataFrame:
    """Latest ``shares.csv`` record per company with ``effective_from <= date``; the free float
    is the latest known one (a record without a free float keeps the previous one)."""
    t = pd.Timestamp(date).as_unit("ns").to_datetime64()
    eff = shares["effective_from"].to_numpy()
    sel = np.flatnonzero(eff <= t)
    sel = sel[np.argsort(eff[sel], kind="stable")][::-1]  # newest first
    cid = shares["company_id"].to_numpy(dtype=object)[sel]
    ff = shares["free_float"].to_numpy(dtype=float)[sel]
    ids, first = np.unique(cid, return_index=True)
    known = ~np.isnan(ff)
    ff_ids, ff_first = np.unique(cid[known], return_index=True)
    index = pd.Index(ids, name="company_id", dtype=object)
    return pd.DataFrame(
        {
            "shares_outstanding": shares["shares_outstanding"].to_numpy(dtype=float)[sel][first],
            "free_float": pd.Series(ff[known][ff_first], index=ff_ids, dtype=float).reindex(index),
        },
        index=index,
    )


def shipped_shares() -> pd.DataFrame:
    """``data/shares.csv`` validated against the shipped master; empty if not shipped."""
    path = data_file("shares.csv")
    if path.is_file():
        return load_shares(path)
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in SHARE_COLUMNS}).astype(
        {"company_id": "str", "effective_from": "datetime64[ns]"}
    )


STAGE_TEXT = ("stages", "primary_stage", "primary_basis", "stage_fact")
"""The text columns of ``StageEvidence.columns`` the universe frame shows."""


TEXT_DTYPE = pd.Series(["text"]).dtype
"""The dtype pandas gives a column of strings (``str``; Arrow-backed when pyarrow is there)."""


def stored(values: np.ndarray | list[str]) -> np.ndarray | ExtensionArray:
    """``values`` as a DataFrame column stores them: strings (missing as NaN) as pandas' string
    array, built straight from an Arrow array (the constructor's own conversion checks every
    element first, several times slower); anything else as given."""
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return np.asarray(values) if isinstance(values, list) else values
    if isinstance(TEXT_DTYPE, pd.StringDtype) and TEXT_DTYPE.storage == "pyarrow":
        arrow = pa.array(values, type=pa.large_string(), from_pandas=True)
        return pd.array(arrow, dtype=TEXT_DTYPE)
    return pd.Series(values).array


def _date_text(values: pd.Series) -> np.ndarray:
    return values.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


class UniverseInputs:
    """The master, facts, share counts, stage evidence and market of a universe, as arrays
    (defaults: the shipped files). Any cut ``market.asof(t)`` of ``market`` may be screened
    with it."""

    def __init__(
        self,
        market: Market,
        companies: pd.DataFrame | None = None,
        facts: pd.DataFrame | None = None,
        shares: pd.DataFrame | None = None,
        stage_facts: pd.DataFrame | None = None,
    ) -> None:
        self.market = market
        self.companies = load_companies() if companies is None else companies
        self.facts = load_facts(companies=self.companies) if facts is None else facts
        self.shares = shipped_shares() if shares is None else shares
        self.stage_facts = load_stage_facts() if stage_facts is None else stage_facts
        c = self.companies
        self.tickers = pd.Index(c["ticker"], name="ticker")
        self.company_ids = pd.Index(c["company_id"])
        self.columns = {
            col: c[col].to_numpy(dtype=object)
            for col in ("company_id", "name", "country", "currency", "commodities", "status")
        }
        self.columns["exchange"] = c["exchange"].to_numpy(dtype=object)
        self.ticker_list = [str(t) for t in self.tickers]
        self.text = {k: stored(v) for k, v in self.columns.items()}
        self.delisted_on = c["delisted_on"].to_numpy(dtype="datetime64[ns]")
        self.listed_from = c["listed_from"].to_numpy(dtype="datetime64[ns]")
        self.delisted_text = _date_text(c["delisted_on"])
        self.listed_text = _date_text(c["listed_from"])
        self.commodity_sets = [frozenset(str(x).split(";")) for x in self.columns["commodities"]]
        self.history = MarketHistory(market, self.tickers)
        self.stages = StageEvidence(self.companies, self.stage_facts)
        self.scorer = Scorer(self.facts, self.companies)
        sh = self.shares
        self._share_dates = sh["effective_from"].to_numpy(dtype="datetime64[ns]")
        self._share_order = np.argsort(self._share_dates, kind="stable")  # NaT last
        pos = {c: i for i, c in enumerate(self.company_ids.tolist())}
        self._share_company = np.array(
            [pos.get(c, -1) for c in sh["company_id"].tolist()], dtype=int
        )
        self._share_count = sh["shares_outstanding"].to_numpy(dtype=float)
        self._share_float = sh["free_float"].to_numpy(dtype=float)
        self._in_force: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._stage_text: dict[bytes, dict[str, np.ndarray | ExtensionArray]] = {}

    def stage_text(self, t: pd.Timestamp) -> dict[str, np.ndarray | ExtensionArray]:
        """The stage text columns at ``t`` (``StageEvidence.columns``) as the universe frame
        stores them, converted once per state of the stage evidence."""
        key = self.stages.state(t)
        if key not in self._stage_text:
            columns = self.stages.columns(t)
            self._stage_text[key] = {c: stored(columns[c]) for c in STAGE_TEXT}
        return self._stage_text[key]

    def rows(self, market: Market, date: pd.Timestamp) -> int:
        """Rows of ``market`` (a cut of this one) on or before ``date`` (``ValueError`` when it
        is not a cut)."""
        return self.history.closes.rows(market, date)[0]

    def shares_in_force(self, t: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
        """(shares outstanding, free float) per company from ``shares.csv`` at ``t`` (NaN =
        none), as ``shares_in_force``; the records in force only change when one more takes
        effect."""
        t64 = t.as_unit("ns").to_datetime64()
        key = int(np.count_nonzero(self._share_dates <= t64))
        if key not in self._in_force:
            count = np.full(len(self.company_ids), np.nan)
            free_float = np.full(len(self.company_ids), np.nan)
            seen: set[int] = set()
            for r in self._share_order[:key][::-1].tolist():  # newest first
                i = int(self._share_company[r])
                if i < 0:
                    continue
                if i not in seen:
                    seen.add(i)
                    count[i] = self._share_count[r]
                if np.isnan(free_float[i]) and not np.isnan(self._share_float[r]):
                    free_float[i] = self._share_float[r]
            self._in_force[key] = (count, free_float)
        return self._in_force[key]
