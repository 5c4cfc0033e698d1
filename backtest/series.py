"""Names and colours of the series every output draws (app pages, HTML report), so one series
reads and looks the same everywhere.

A benchmark *ticker* (a fund's own prices, e.g. REMX) is labelled as such, distinct from a
*methodology* rebuilt from the company master (e.g. "REMX-like Rare Earth & Strategic Metals"),
which is labelled by its name. Shipped methodologies and benchmark tickers have fixed colours;
any other series gets a stable colour from its name.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchina.backtest.result import BacktestResult

PALETTE = ["#1f5f99", "#e07b00", "#2a9d4b", "#8e44ad", "#c0392b", "#16a5a5", "#b5a000", "#d6619f"]
BENCHMARK_COLOR = "#555555"
BENCHMARK_SUFFIX = " (benchmark ticker)"
# shipped methodology names -> colour (the flagship is the app's primary blue)
FIXED = {
    "exchina Allied Mine-to-Magnet": PALETTE[0],
    "REMX-like Rare Earth & Strategic Metals": PALETTE[1],
    "exchina Allied Mine-to-Magnet Equal Weight": PALETTE[2],
    "exchina Allied Mine-to-Magnet Minimum Variance": PALETTE[3],
}


def benchmark_label(ticker: str) -> str:
    """The label of a benchmark ticker's series: ``REMX (benchmark ticker)``."""
    return ticker if ticker.endswith(BENCHMARK_SUFFIX) else f"{ticker}{BENCHMARK_SUFFIX}"


def series_label(name: str | None, *, is_ticker: bool) -> str:
    """A series' label: a benchmark ticker says so; a methodology is its name."""
    if not name:
        return "benchmark"
    return benchmark_label(name) if is_ticker else name


def benchmark_series_label(result: BacktestResult) -> str | None:
    """The label of a backtest's benchmark series (None without one): a ticker's prices (the
    benchmark differs from the peer methodology and is a symbol) say so."""
    name = result.benchmark_name
    if not name:
        return None
    is_ticker = name != result.peer_name and " " not in name
    return series_label(name, is_ticker=is_ticker)


def series_color(label: str) -> str:
    """The one colour of ``label`` on every chart: benchmark tickers grey, shipped methodologies
    fixed (also with a suffix such as " (price return)"), any other from its name."""
    if label.endswith(BENCHMARK_SUFFIX):
        return BENCHMARK_COLOR
    known = [n for n in FIXED if label == n or label.startswith(n + " (")]
    if known:
        return FIXED[max(known, key=len)]
    spare = PALETTE[4:]
    return spare[int(hashlib.sha256(label.encode()).hexdigest(), 16) % len(spare)]
