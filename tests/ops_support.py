"""Shared helpers of the ``test_ops_*`` tests: a small synthetic store, a scriptable fake Yahoo
client, a methodology writer and folder snapshots.

The market is the synthetic demo market on a shortened window (2025-02 .. 2025-12) and 16 of its
largest ex-China names, so each scheduled run takes about a second. Run date: the effective date
2025-12-19 (review cut-off 2025-12-12) of a quarterly schedule.
"""

from __future__ import annotations

import hashlib
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from exchina.core.demo import DEMO_SOURCE, demo_long_frames
from exchina.core.market import Market
from exchina.core.sources import load_market
from exchina.core.store import MarketStore

RUN_DATE = "2025-12-19"
REVIEW = "2025-12-12"
WINDOW = ("2025-02-03", "2025-12-31")
SEED_END = "2025-11-28"  # the seeded store stops here: stale until refreshed
TICKERS = (
    "SQM", "4063.T", "6762.T", "MP", "TECK", "ALB", "LYC.AX", "UUUU",
    "TROX", "ILU.AX", "5714.T", "MTRN", "IGO.AX", "METC", "SOLB.BR", "5471.T",
)  # fmt: skip

METHODOLOGY = """\
name = "ops test"
version = "1"

[constraints]
max_weight = {max_weight}

[schedule]
frequency = "quarterly"
max_price_age_days = 5
"""


def write_methodology(path: Path, max_weight: float = 0.10, text: str | None = None) -> Path:
    """A small quarterly methodology (or ``text`` verbatim) at ``path``."""
    path.write_text(text if text is not None else METHODOLOGY.format(max_weight=max_weight))
    return path


@cache
def truth() -> Market:
    """The 'real' market the fake Yahoo serves: demo prices of ``TICKERS`` on ``WINDOW``."""
    full = load_market("demo").window(*WINDOW)
    from dataclasses import replace

    cols = list(TICKERS)
    return replace(
        full,
        close=full.close[cols],
        volume=full.volume[cols],
        dividends=full.dividends[cols],
        shares=full.shares[cols],
        currency=full.currency[cols],
    )


@cache
def _template(root: str, end: str) -> Path:
    st = MarketStore(Path(root) / f"template-{end}")
    prices, fx, shares = demo_long_frames(truth().window(None, end))
    with st.lock():
        st.write_prices(prices, DEMO_SOURCE, "demo")
        st.write_fx(fx, DEMO_SOURCE, "demo")
        st.write_shares(shares, DEMO_SOURCE, "demo")
    return st.root


def seeded_store(dest: Path, cache_root: Path, end: str = SEED_END) -> Path:
    """A copy of a store holding ``truth()`` up to ``end`` (built once per cache root)."""
    shutil.copytree(_template(str(cache_root), end), dest)
    return dest


def reference_files(dest: Path) -> tuple[Path, Path]:
    """``companies.csv`` and ``exposure_facts.csv`` cut to the companies of ``TICKERS``."""
    from exchina.core.paths import data_file

    comp = pd.read_csv(data_file("companies.csv"), dtype=str, keep_default_na=False)
    comp = comp[comp["ticker"].isin(TICKERS)]
    facts = pd.read_csv(data_file("exposure_facts.csv"), dtype=str, keep_default_na=False)
    facts = facts[facts["company_id"].isin(comp["company_id"])]
    dest.mkdir(parents=True, exist_ok=True)
    comp.to_csv(dest / "companies.csv", index=False)
    facts.to_csv(dest / "exposure_facts.csv", index=False)
    return dest / "companies.csv", dest / "exposure_facts.csv"


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (``{}`` if it does not exist)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def store_prices(root: Path) -> pd.DataFrame:
    """The store's price rows without their write timestamps (for before/after comparisons)."""
    px = MarketStore(root).read_prices()
    return px.drop(columns=["stored_at"]).sort_values(["ticker", "date"]).reset_index(drop=True)


class FakeYahoo:
    """A ``YahooClient`` serving ``truth()`` in yfinance's shapes, with injectable faults.

    ``missing``: tickers left out of the frame; ``nan``: tickers whose columns are all NaN;
    ``nan_tail``: tickers NaN from ``nan_from`` on; ``negative``: tickers with a negative close
    on their last row; ``raise_for``: an exception raised on every call (or on the first
    ``fail_calls`` calls); ``raise_when``: tickers whose batch raises ``raise_for``.
    """

    def __init__(
        self,
        missing=(),
        nan=(),
        nan_tail=(),
        nan_from: str = "2025-12-01",
        negative=(),
        raise_for: BaseException | None = None,
        fail_calls: int | None = None,
        raise_when=(),
        end: str = "2025-12-31",
    ) -> None:
        self.missing, self.nan, self.nan_tail = set(missing), set(nan), set(nan_tail)
        self.nan_from, self.negative = pd.Timestamp(nan_from), set(negative)
        self.raise_for, self.fail_calls, self.raise_when = raise_for, fail_calls, set(raise_when)
        self.end = end
        self.calls: list[list[str]] = []

    def download(self, tickers: list[str], start: str, end: str | None) -> pd.DataFrame:
        self.calls.append(list(tickers))
        if self.raise_for is not None:
            failing = self.fail_calls is None or len(self.calls) <= self.fail_calls
            if failing and (not self.raise_when or self.raise_when & set(tickers)):
                raise self.raise_for
        m = truth().window(start, self.end)
        cols, data = [], {}
        for t in tickers:
            if t in self.missing:
                continue
            if t.endswith("USD=X"):
                close = m.fx[t[:3]]
                fields = {"Adj Close": close, "Close": close, "Dividends": 0.0 * close}
                fields |= {"Stock Splits": 0.0 * close, "Volume": 0.0 * close}
            elif t in m.close.columns:
                close = m.close[t].copy()
                if t in self.nan_tail:
                    close[close.index >= self.nan_from] = np.nan
                if t in self.negative:
                    close.iloc[-1] = -abs(close.iloc[-1])
                fields = {
                    "Adj Close": close,
                    "Close": close,
                    "Dividends": m.dividends[t],
                    "Stock Splits": 0.0 * m.dividends[t],
                    "Volume": m.volume[t],
                }
            else:  # yfinance gives an unknown ticker all-NaN columns
                fields = {k: pd.Series(np.nan, index=m.dates) for k in ("Adj Close", "Close")}
            for k, v in fields.items():
                v = pd.Series(v, index=m.dates, dtype="float64")
                if t in self.nan:
                    v = v * np.nan
                cols.append((k, t))
                data[(k, t)] = v.to_numpy()
        if not cols:
            return pd.DataFrame()
        frame = pd.DataFrame(data, index=pd.DatetimeIndex(m.dates, name="Date"))
        frame.columns = pd.MultiIndex.from_tuples(cols, names=["Price", "Ticker"])
        return frame

    def currency(self, ticker: str) -> str | None:
        return str(truth().currency.get(ticker, "USD"))


def _child(target, args, kill_at, kill_after) -> None:
    import os
    import signal

    if kill_after is not None:
        import threading

        threading.Timer(kill_after, os.kill, (os.getpid(), signal.SIGKILL)).start()
    if kill_at is not None:
        install_kill_hooks(kill_at)
    os._exit(int(target(*args)))


def forked(
    target,
    *args,
    kill_at: int | None = None,
    kill_after: float | None = None,
    clean: bool = False,
):
    """Start ``target(*args)`` in a forked child (a real second process sharing nothing but the
    imported modules); the child exits with ``target``'s return value (an int).

    ``clean``: fork from a fresh fork server instead of this process (``target`` must then be a
    module-level function); needed when the child uses the store, because the Delta Lake
    runtime cannot be used in a child forked after this process has used it.
    ``kill_at``: the child SIGKILLs itself at the ``kill_at``-th file-system commit event (before
    or after each ``os.replace``, ``os.rename`` and ``pyarrow.parquet.write_table`` call, counted
    from 1). ``kill_after``: the child SIGKILLs itself after that many seconds.
    """
    import multiprocessing as mp

    if clean:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["ops_support", "exchina.ops.scheduled_run", "deltalake"])
        proc = ctx.Process(target=_child, args=(target, args, kill_at, kill_after))
    else:
        proc = mp.get_context("fork").Process(
            target=lambda: _child(target, args, kill_at, kill_after)
        )
    proc.start()
    return proc


EVENTS: list[str] = []


def install_kill_hooks(kill_at: int | None) -> None:
    """Count (and at ``kill_at`` die at) commit events: before/after each os.replace, os.rename
    and pyarrow.parquet.write_table call. The names go to ``EVENTS``."""
    import os
    import signal

    import pyarrow.parquet as pq

    def wrap(owner, name):
        real = getattr(owner, name)

        def hooked(*a, **kw):
            for phase in ("before", "after"):
                if phase == "after":
                    result = real(*a, **kw)
                EVENTS.append(
                    f"{phase} {name} {Path(str(a[-1] if name != 'write_table' else a[1])).name}"
                )
                if kill_at is not None and len(EVENTS) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(owner, name, hooked)

    wrap(os, "replace")
    wrap(os, "rename")
    wrap(pq, "write_table")
