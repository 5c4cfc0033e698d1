"""The Yahoo source through its adapter boundary, with frames shaped like yfinance 1.x returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchina.core.errors import SourceError
from exchina.core.sources import load_market
from exchina.core.store import MarketStore
from exchina.core.yahoo import NO_DATA, fetch, ticker_frame

FIELDS = ["Adj Close", "Close", "Dividends", "High", "Low", "Open", "Stock Splits", "Volume"]


def yf_frame(series: dict[str, list[float]], start: str = "2024-01-02") -> pd.DataFrame:
    """``yf.download(..., auto_adjust=False, actions=True)``: ('Price', 'Ticker') columns sorted
    by price field, a DatetimeIndex named Date, NaN where a ticker did not trade."""
    n = max(len(v) for v in series.values())
    idx = pd.DatetimeIndex(pd.bdate_range(start, periods=n), name="Date").as_unit("s")
    cols = pd.MultiIndex.from_product([FIELDS, sorted(series)], names=["Price", "Ticker"])
    data = {}
    for f, t in cols:
        close = np.array(series[t] + [np.nan] * (n - len(series[t])), dtype=float)
        data[(f, t)] = {
            "Adj Close": close * 0.98,
            "Close": close,
            "Dividends": np.zeros(n),
            "High": close * 1.01,
            "Low": close * 0.99,
            "Open": close,
            "Stock Splits": np.zeros(n),
            "Volume": np.where(np.isnan(close), np.nan, 1000.0),
        }[f]
    return pd.DataFrame(data, index=idx, columns=cols)


def offline_frame(tickers: list[str]) -> pd.DataFrame:
    """What yfinance returns offline: no rows, columns without the action fields."""
    cols = pd.MultiIndex.from_product(
        [["Adj Close", "Close", "High", "Low", "Open", "Volume"], sorted(tickers)],
        names=["Price", "Ticker"],
    )
    return pd.DataFrame(index=pd.DatetimeIndex([], dtype="datetime64[s]"), columns=cols)


class FakeClient:
    """Serves fixture frames; ``fail_first`` raises on the first call (a rate limit)."""

    def __init__(self, series, currencies=None, fail_first=False, offline=False):
        self.series, self.currencies = series, currencies or {}
        self.fail_first, self.offline, self.calls = fail_first, offline, []

    def download(self, tickers, start, end):
        self.calls.append(list(tickers))
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("YFRateLimitError: Too Many Requests")
        have = {t: self.series[t] for t in tickers if t in self.series}
        if self.offline or not have:
            return offline_frame(tickers)
        frame = yf_frame(have)
        for t in set(tickers) - set(have):  # failed tickers appear as all-NaN columns
            for f in FIELDS:
                frame[(f, t)] = np.nan
        return frame.sort_index(axis=1)

    def currency(self, ticker):
        return self.currencies.get(ticker, "USD")


def run(client, tickers, store, **kw):
    return fetch(tickers, store, client, progress=False, sleep=lambda s: None, **kw)


def test_single_ticker_multiindex_is_parsed() -> None:
    sub = ticker_frame(yf_frame({"MP": [10.0, 11.0]}), "MP")
    assert list(sub.columns) == ["date", "close", "adj_close", "dividends", "splits", "volume"]
    assert sub["close"].tolist() == [10.0, 11.0]
    assert ticker_frame(offline_frame(["MP"]), "MP").empty


def test_offline_empty_frame_fails_all_and_keeps_store(tmp_path) -> None:
    st = MarketStore(tmp_path)
    st.write_prices(
        pd.DataFrame(
            {"date": ["2023-01-02"], "ticker": ["MP"], "close": [9.0], "currency": ["USD"]}
        ),
        "yahoo",
    )
    before = st.read_prices()
    with pytest.raises(SourceError) as e:
        run(FakeClient({}, offline=True), ["MP", "LYC.AX"], st)
    assert e.value.exit_code == 7 and set(e.value.failures) == {"MP", "LYC.AX"}
    assert e.value.failures["MP"] == NO_DATA
    pd.testing.assert_frame_equal(st.read_prices(), before)


def test_partial_failure_stores_good_tickers_and_fx(tmp_path) -> None:
    st = MarketStore(tmp_path)
    client = FakeClient(
        {
            "MP": [10.0, np.nan, np.nan, 11.0],
            "LYC.AX": [7.0, 7.2, 7.1, 7.3],
            "AUDUSD=X": [0.68] * 4,
        },
        currencies={"LYC.AX": "AUD"},
    )
    res = run(client, ["MP", "LYC.AX", "GONE"], st)
    assert res.succeeded == ["LYC.AX", "MP"] and res.failures == {"GONE": NO_DATA}
    got = st.read_prices()
    assert got.groupby("ticker").size().to_dict() == {"LYC.AX": 4, "MP": 2}  # NaN run dropped
    assert st.read_fx()["currency"].unique().tolist() == ["AUD"]
    m = load_market("store", st)
    assert m.close_usd().iloc[-1]["LYC.AX"] == pytest.approx(7.3 * 0.68)
    assert m.source == "store: Yahoo Finance"


def test_pence_are_converted_to_pounds(tmp_path) -> None:
    st = MarketStore(tmp_path)
    client = FakeClient({"RBW.L": [250.0, 260.0], "GBPUSD=X": [1.27, 1.28]}, {"RBW.L": "GBp"})
    res = run(client, ["RBW.L"], st)
    assert res.currencies == {"RBW.L": "GBP"}
    got = st.read_prices(["RBW.L"])
    assert got["close"].tolist() == pytest.approx([2.5, 2.6])
    assert got["currency"].unique().tolist() == ["GBP"]


def test_rate_limit_is_retried_with_backoff(tmp_path) -> None:
    waits = []
    client = FakeClient({"MP": [10.0, 11.0]}, fail_first=True)
    res = fetch(["MP"], MarketStore(tmp_path), client, progress=False, sleep=waits.append,
                backoff=1.5)  # fmt: skip
    assert res.succeeded == ["MP"] and res.failures == {}
    assert waits == [1.5] and client.calls[:2] == [["MP"], ["MP"]]


def test_batches_split_the_ticker_list(tmp_path) -> None:
    tickers = [f"T{i}" for i in range(5)]
    client = FakeClient({t: [1.0 + i, 2.0] for i, t in enumerate(tickers)})
    res = run(client, tickers, MarketStore(tmp_path), batch_size=2)
    assert res.succeeded == tickers and [len(c) for c in client.calls] == [2, 2, 1]


def test_invalid_rows_fail_only_that_ticker(tmp_path) -> None:
    client = FakeClient({"BAD": [10.0, -1.0], "MP": [10.0, 11.0]})
    res = run(client, ["BAD", "MP"], MarketStore(tmp_path))
    assert res.succeeded == ["MP"] and "price must be positive" in res.failures["BAD"]


@pytest.mark.network
def test_live_yahoo_fetch(tmp_path) -> None:
    """Opt-in (``pytest -m network``): deselected otherwise, see ``conftest.py``."""
    res = fetch(["MP"], MarketStore(tmp_path), start="2024-01-01", end="2024-02-01", progress=False)
    assert res.succeeded == ["MP"]
    assert len(MarketStore(tmp_path).read_prices(["MP"])) > 15


class OfflineClient(FakeClient):
    """yfinance offline (empty frames, nothing raised) with the host unreachable."""

    def reachable(self):
        return "OSError: [Errno 101] Network is unreachable"


def test_offline_fetch_stops_at_the_first_failure_with_one_line(tmp_path) -> None:
    from exchina.cli import main

    client = OfflineClient({}, offline=True)
    slept: list[float] = []
    with pytest.raises(SourceError) as e:
        fetch([f"T{i}" for i in range(120)], MarketStore(tmp_path), client, progress=False,
              sleep=slept.append)  # fmt: skip
    assert e.value.exit_code == 7 and len(client.calls) == 1 and slept == []
    assert "\n" not in str(e.value) and "cannot reach Yahoo Finance" in str(e.value)
    assert not MarketStore(tmp_path).has_prices()
    # online, a batch that got nothing is still retried with backoff
    online = FakeClient({}, offline=True)
    with pytest.raises(SourceError):
        run(online, ["MP"], MarketStore(tmp_path))
    assert len(online.calls) == 3
    # through the CLI: exit 7 and one line
    import exchina.core.yahoo as yahoo

    real = yahoo.YFinanceClient
    yahoo.YFinanceClient = lambda: client  # type: ignore[assignment]
    try:
        assert main(["fetch", "MP", "LYC.AX", "--store", str(tmp_path), "--json"]) == 7
    finally:
        yahoo.YFinanceClient = real
