"""Benchmark of ``exchina import`` on a large price CSV: time and peak memory (issue 15).

Run: ``.venv/bin/python bench/bench_import.py [--mb 279] [--gzip] [--keep DIR]``.

Writes a long price CSV of about ``--mb`` megabytes into a temporary folder in the shape users
save when they stack yfinance ``Ticker.history`` exports of many tickers into one file
(``Date,Ticker,Open,High,Low,Close,Adj Close,Volume``; ``.AX`` tickers, so the currency is
inferred), then runs ``exchina import`` on it in a child process, into an empty store and again
into the filled store (every row unchanged), and prints each import's wall time and peak RSS
(the child's own ``ru_maxrss``, from ``os.wait4``). Target: peak RSS under 500 MB for the 279 MB file.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TARGET_MB = 500.0
HEADER = "Date,Ticker,Open,High,Low,Close,Adj Close,Volume\n"


def write_csv(path: Path, megabytes: float, years: int = 25, seed: int = 0) -> tuple[int, int]:
    """A long CSV of ``megabytes``: as many tickers of ``years`` business days as fit; returns
    ``(tickers, rows)``. Written ticker by ticker (bounded memory)."""
    dates = pd.bdate_range("2001-01-01", periods=252 * years).strftime("%Y-%m-%d").to_numpy()
    rng = np.random.default_rng(seed)
    target = megabytes * 1e6
    opener = gzip.open if path.name.endswith(".gz") else open
    tickers = rows = 0
    written = 0
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        while written < target:
            name = f"T{tickers:04d}.AX"
            close = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, len(dates))))
            spread = np.abs(rng.normal(0.0, 0.01, len(dates)))
            frame = pd.DataFrame(
                {
                    "Date": dates,
                    "Ticker": name,
                    "Open": close * (1 + spread / 2),
                    "High": close * (1 + spread),
                    "Low": close * (1 - spread),
                    "Close": close,
                    "Adj Close": close * 0.97,
                    "Volume": rng.integers(10_000, 5_000_000, len(dates)),
                }
            )
            text = frame.to_csv(index=False, header=False, float_format="%.6f")
            fh.write(text)
            written += len(text)
            tickers += 1
            rows += len(frame)
    return tickers, rows


def run_import(csv: Path, store: Path) -> tuple[float, float, str]:
    """``exchina import csv --store store`` in a child: (seconds, peak RSS in MB, last line)."""
    cmd = [sys.executable, "-m", "exchina", "import", str(csv), "--store", str(store)]
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().strip()
    if child.returncode != 0:
        raise SystemExit(f"import failed (exit {child.returncode}): {text[-2000:]}")
    return seconds, usage.ru_maxrss / 1024.0, text.splitlines()[-1] if text else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=279.0, help="size of the CSV (MB)")
    ap.add_argument("--gzip", action="store_true", help="write and import a .csv.gz")
    ap.add_argument("--keep", type=Path, help="keep the CSV and store in this folder")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="exchina-bench-import-"))
    try:
        csv = tmp / ("prices.csv.gz" if args.gzip else "prices.csv")
        t0 = time.perf_counter()
        tickers, rows = write_csv(csv, args.mb)
        size = csv.stat().st_size / 1e6
        print(f"CSV: {size:.0f} MB on disk, {tickers} tickers, {rows:,} rows "
              f"(written in {time.perf_counter() - t0:.0f} s)")  # fmt: skip
        store = tmp / "store"
        for label in ("import into an empty store", "re-import (every row unchanged)"):
            seconds, peak, said = run_import(csv, store)
            ok = "yes" if peak < TARGET_MB else "NO"
            print(f"{label:<34} {seconds:7.1f} s   peak RSS {peak:6.0f} MB   "
                  f"< {TARGET_MB:.0f} MB: {ok}")  # fmt: skip
            print(f"  {said}")
        stored = sum(p.stat().st_size for p in store.rglob("*.parquet")) / 1e6
        print(f"store: {stored:.0f} MB of Parquet")
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
