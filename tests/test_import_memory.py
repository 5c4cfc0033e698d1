"""A large price file is imported with bounded memory (issue 15): the importer reads, validates
and spools a CSV batch by batch and the store commits its partitions from disk, so the peak
memory of an import grows with a year of rows, not with the whole file held several times over
(before: 2.65 GB for a 279 MB file); ``bench/bench_import.py`` measures the 279 MB case.

Each import runs in a fresh interpreter (its own peak RSS) with small batches, so that a 2 MB
and a 20 MB file both take several batches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.core.store import MarketStore

CHILD = """
import resource, sys
import exchina.core.importer as importer
from exchina.core.store import MarketStore

importer.BATCH_ROWS = 5_000
importer.import_files([sys.argv[1]], MarketStore(sys.argv[2]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _csv(path: Path, tickers: int, years: int = 25) -> int:
    """A long price file (``Date,Ticker,Close,Adj Close,Volume``) of ``tickers`` x ``years``;
    returns its row count."""
    dates = pd.bdate_range("2001-01-01", periods=252 * years).strftime("%Y-%m-%d")
    rng = np.random.default_rng(7)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Date,Ticker,Close,Adj Close,Volume\n")
        for i in range(tickers):
            close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, len(dates))))
            frame = pd.DataFrame({"Date": dates, "Ticker": f"T{i:03d}.AX", "Close": close,
                                  "Adj Close": close * 0.98, "Volume": 1000})  # fmt: skip
            fh.write(frame.to_csv(index=False, header=False, float_format="%.6f"))
    return tickers * len(dates)


def _peak_mb(csv: Path, store: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(csv), str(store)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_of_an_import_grows_far_less_than_the_file(tmp_path: Path) -> None:
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    rows_small, rows_big = _csv(small, 8), _csv(big, 80)
    mb_small, mb_big = small.stat().st_size / 2**20, big.stat().st_size / 2**20
    assert mb_big - mb_small > 15
    peak_small = _peak_mb(small, tmp_path / "s1")
    peak_big = _peak_mb(big, tmp_path / "s2")
    # Reading the whole file grew the peak by 10-11 MB per MB of CSV (469 MB for 30 MB, 2.65 GB
    # for 279 MB); batches grow it by what one year of rows takes (about 2.6 MB per MB here,
    # where a year of the big file is 20,000 rows). The bound sits between the two.
    growth = (peak_big - peak_small) / (mb_big - mb_small)
    assert growth < 5.0, (peak_small, peak_big, mb_small, mb_big)
    assert len(MarketStore(tmp_path / "s2").read_prices(columns=["ticker", "date"])) == rows_big
    assert len(MarketStore(tmp_path / "s1").read_prices(columns=["ticker", "date"])) == rows_small
