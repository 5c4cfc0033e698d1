"""Shares-outstanding history from Yahoo through the adapter boundary, and market caps that use
the count known at each review date (point in time), merged with the dated facts of shares.csv.

Fixture Series are built the way yfinance 1.x builds them in ``get_shares_full``: counts from the
JSON, ``pd.to_datetime(timestamps, unit="s")``, ``tz_localize(<exchange zone>)``, ``sort_index``;
so the index is time-zone aware, dates repeat (yfinance issue #1954) and reports are months apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchina.core.share_history import share_rows
from exchina.core.sources import load_market
from exchina.core.store import MarketStore
from exchina.universe import build_universe, load_companies, load_shares
from exchina.universe.rules import UniverseRules
from tests.test_yahoo_adapter import FakeClient, run


def yf_shares(
    pairs: list[tuple[str, int]] | list[tuple[str, float]], tz: str = "America/New_York"
) -> pd.Series:
    """What ``Ticker.get_shares_full`` returns for these (UTC date, count) reports."""
    stamps = [int(pd.Timestamp(d, tz="UTC").timestamp()) for d, _ in pairs]
    s = pd.Series([v for _, v in pairs], index=pd.to_datetime(stamps, unit="s"))
    s.index = pd.DatetimeIndex(s.index).tz_localize(tz)
    return s.sort_index()


MP_REPORTS = [
    ("2021-03-31", 150_000_000),
    ("2021-08-02", 151_000_000),
    ("2021-08-02", 151_000_000),  # the same report twice
    ("2021-11-01", 0),  # Yahoo's zero: no count, dropped
    ("2023-05-04", 177_000_000),
    ("2023-05-04", 237_000_000),  # two counts on one day: the continuous one is kept
    ("2024-02-22", 178_000_000),
]


def test_share_rows_from_the_yfinance_shape() -> None:
    series = yf_shares(MP_REPORTS)
    assert pd.DatetimeIndex(series.index).tz is not None and series.index.duplicated().any()
    rows, notes = share_rows(series, "MP")
    assert list(rows.columns) == ["date", "ticker", "shares"]
    assert rows["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2021-03-31", "2021-08-02", "2023-05-04", "2024-02-22"
    ]  # fmt: skip
    # 2023-05-04: 177m is 17% from the 151m before it, 237m is 57% away
    assert rows["shares"].tolist() == [150e6, 151e6, 177e6, 178e6]
    assert rows["date"].dt.tz is None and (rows["ticker"] == "MP").all()
    assert len(notes) == 1 and "1 date(s) (first 2023-05-04)" in notes[0]


def test_first_date_conflict_uses_the_median_and_none_is_empty() -> None:
    rows, _ = share_rows(
        yf_shares([("2022-01-03", 9e9), ("2022-01-03", 1e9), ("2022-06-01", 1.1e9),
                   ("2022-09-01", 1.2e9)], tz="Australia/Sydney"), "LYC.AX"
    )  # fmt: skip
    assert rows["shares"].tolist() == [1e9, 1.1e9, 1.2e9]
    assert share_rows(None, "X")[0].empty and share_rows(pd.Series(dtype=float), "X")[0].empty


class SharesClient(FakeClient):
    """FakeClient plus ``shares``: fixture Series by ticker, or an exception to raise."""

    def __init__(self, series, shares, **kw):
        super().__init__(series, **kw)
        self.share_series, self.share_calls = shares, []

    def shares(self, ticker, start, end):
        self.share_calls.append((ticker, start, end))
        got = self.share_series.get(ticker)
        if isinstance(got, Exception):
            raise got
        return got


def test_fetch_stores_the_history_beside_prices(tmp_path) -> None:
    st = MarketStore(tmp_path)
    client = SharesClient(
        {"MP": [10.0, 11.0], "UUUU": [5.0, 5.1], "LYC.AX": [7.0, 7.1], "AUDUSD=X": [0.66, 0.67]},
        {"MP": yf_shares(MP_REPORTS), "UUUU": RuntimeError("HTTP 404"), "LYC.AX": None},
        currencies={"LYC.AX": "AUD"},
    )
    res = run(client, ["MP", "UUUU", "LYC.AX"], st)
    assert sorted(res.succeeded) == ["LYC.AX", "MP", "UUUU"]  # share failures never fail a fetch
    assert res.shares.added == 4
    assert {c[1] for c in client.share_calls} == {"2010-01-01"}  # full history, not 18 months
    stored = st.read_shares()
    assert stored["ticker"].unique().tolist() == ["MP"] and (stored["source"] == "yahoo").all()
    assert any("UUUU: no share-count history (RuntimeError" in w for w in res.warnings)
    assert any("LYC.AX: Yahoo has no share-count history" in w for w in res.warnings)
    assert len(st.versions()) == 1  # prices, FX and shares in one commit
    again = run(client, ["MP"], st)
    assert again.shares.added == 0 and len(st.versions()) == 1  # nothing new: no commit


def _store_with_mp_history(tmp_path) -> MarketStore:
    st = MarketStore(tmp_path)
    dates = pd.bdate_range("2020-12-01", "2024-06-28")
    close = np.linspace(10.0, 20.0, len(dates))
    st.write_prices(
        pd.DataFrame({"date": dates, "ticker": "MP", "close": close, "volume": 1e6,
                      "currency": "USD"}),
        "test",
    )  # fmt: skip
    rows, _ = share_rows(yf_shares(MP_REPORTS), "MP")
    st.write_shares(rows, "yahoo")
    return st


@pytest.mark.parametrize(
    ("review", "count", "source"),
    [
        # before Yahoo's first report: the shares.csv fact in force (2020-12-31, 171,453,600)
        ("2021-03-15", 171_453_600, "shares.csv"),
        ("2021-06-30", 150e6, "market"),  # Yahoo's count reported 2021-03-31, not today's
        ("2022-12-30", 151e6, "market"),  # the zero of 2021-11-01 was dropped: last good count
        ("2023-06-30", 177e6, "market"),
        ("2024-06-28", 178e6, "market"),
    ],
)
def test_market_caps_use_the_count_known_at_each_review(tmp_path, review, count, source) -> None:
    st = _store_with_mp_history(tmp_path)
    t = pd.Timestamp(review)
    market = load_market("store", st).asof(t)
    u = build_universe(t, UniverseRules.model_validate({}), market, companies=load_companies())
    assert u.at["MP", "shares_outstanding"] == count and u.at["MP", "shares_source"] == source
    price = market.close["MP"].loc[:t].dropna().iloc[-1]
    facts = load_shares()
    mp_facts = facts[facts["company_id"] == "mp_materials"]
    assert mp_facts["free_float"].isna().all()  # no free float known: 100% (noted)
    assert u.at["MP", "float_mcap_usd"] == pytest.approx(price * count)
