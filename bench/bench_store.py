"""Benchmark of the market-data store: write, read and append 20 years x 2,000 tickers.

Run: ``.venv/bin/python bench/bench_store.py [--tickers 2000] [--years 20]``. Prints the time of
the first bulk write, a full read, a one-ticker read, a one-day incremental append for every
ticker, an identical re-write (no-op) and the demo-market generation, with the store's size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from exchina.core.demo import _generate, demo_market
from exchina.core.store import MarketStore


def synthetic_long(tickers: int, dates: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"T{i:04d}.AX" for i in range(tickers)])
    steps = 0.02 * rng.standard_normal((len(dates), tickers))
    close = 10.0 * np.exp(np.cumsum(steps, axis=0))
    return pd.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), tickers),
            "ticker": np.tile(names, len(dates)),
            "close": close.ravel(),
            "volume": np.full(close.size, 1.0e5),
            "dividends": 0.0,
            "currency": "AUD",
        }
    )


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<44} {time.perf_counter() - t0:8.2f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickers", type=int, default=2000)
    ap.add_argument("--years", type=int, default=20)
    args = ap.parse_args()
    dates = pd.bdate_range("2006-01-02", periods=252 * args.years)
    frame = synthetic_long(args.tickers, dates[:-1])
    print(f"{args.tickers} tickers x {len(dates) - 1} days = {len(frame):,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        st = MarketStore(tmp)
        timed(
            "bulk write (validate + merge + atomic write)", lambda: st.write_prices(frame, "bench")
        )
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet")) / 1e6
        print(f"{'store size':<44} {size:8.1f} MB")
        full = timed("read all prices", st.read_prices)
        assert len(full) == len(frame)
        timed("read one ticker", lambda: st.read_prices(["T0042.AX"]))
        timed("read 100 tickers, last 5 years", lambda: st.read_prices(
            [f"T{i:04d}.AX" for i in range(100)], start=dates[-252 * 5]))  # fmt: skip
        new_day = synthetic_long(args.tickers, dates[-1:], seed=1)
        s = timed("append one new day for every ticker", lambda: st.write_prices(new_day, "bench"))
        print(f"{'  rows added / files rewritten':<44} {s.added:>8} / {len(s.files_written)}")
        s = timed("re-write the same day (no-op)", lambda: st.write_prices(new_day, "bench"))
        print(
            f"{'  rows unchanged / files rewritten':<44} {s.unchanged:>8} / {len(s.files_written)}"
        )
        timed("store info", st.info)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.test_demo_market import instruments

    inst = instruments()
    big = pd.concat([inst.assign(ticker=inst["ticker"] + f"_{i}") for i in range(13)])
    _generate.cache_clear()
    timed(f"demo market, {len(big)} tickers x 17 years", lambda: demo_market(7, big))
    timed("demo market again (lru cache)", lambda: demo_market(7, big))


if __name__ == "__main__":
    main()
