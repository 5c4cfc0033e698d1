"""A faulty price source behind the Yahoo adapter boundary (a fake ``YahooClient``): the stored
data survives every fault and the run names exactly what failed.

The store holds prices to 2025-11-28; the run (effective 2025-12-19, cut-off 2025-12-12) asks
for a refresh. Faults: exceptions, a rate limit (``YFRateLimitError``), timeouts, empty frames,
missing tickers, all-NaN and NaN-tail columns, a negative price, FX failures, and a transient
rate limit that a retry overcomes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from ops_support import (
    RUN_DATE,
    SEED_END,
    TICKERS,
    FakeYahoo,
    reference_files,
    seeded_store,
    snapshot,
    store_prices,
    write_methodology,
)

from exchina.core.errors import SourceError, StaleDataError
from exchina.core.yahoo import NO_DATA
from exchina.ops.runlog import RunLog
from exchina.ops.scheduled_run import MANIFEST, run_scheduled, verify_output

try:
    from yfinance.exceptions import YFRateLimitError
except ImportError:  # older yfinance: an equivalent stand-in with the same message

    class YFRateLimitError(Exception):
        def __init__(self) -> None:
            super().__init__("Too Many Requests. Rate limited. Try after a while.")


FX_TICKERS = {"AUDUSD=X", "EURUSD=X", "JPYUSD=X", "CADUSD=X"}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults-cache")


@pytest.fixture
def env(tmp_path: Path, cache_root: Path) -> dict:
    companies, facts = reference_files(tmp_path / "ref")
    return {
        "store": seeded_store(tmp_path / "store", cache_root),
        "companies": companies,
        "facts": facts,
        "meth": write_methodology(tmp_path / "m.toml"),
        "out": tmp_path / "out",
    }


def run(env: dict, client: FakeYahoo, **kw):
    return run_scheduled(
        env["meth"], env["out"], RUN_DATE, source="store", store=env["store"], refresh=True,
        client=client, sleep=lambda s: None, companies=env["companies"], facts=env["facts"],
        log=RunLog(stream=io.StringIO()), **kw,
    )  # fmt: skip


TOTAL_FAILURES = {
    "exception": (
        RuntimeError("HTTP Error 500: Internal Server Error"),
        "RuntimeError: HTTP Error 500",
    ),
    "rate_limit": (YFRateLimitError(), "YFRateLimitError"),
    "timeout": (TimeoutError("read timed out after 20 s"), "TimeoutError: read timed out"),
}


@pytest.mark.parametrize("kind", sorted(TOTAL_FAILURES))
def test_total_source_failure_is_exit_7_and_the_store_is_untouched(env, kind):
    exc, reason = TOTAL_FAILURES[kind]
    before = snapshot(env["store"])
    client = FakeYahoo(raise_for=exc)
    with pytest.raises(SourceError) as info:
        run(env, client)
    assert info.value.exit_code == 7
    assert set(info.value.failures) == set(TICKERS)
    assert all(reason in why for why in info.value.failures.values())
    assert len(client.calls) == 3  # first try + 2 retries with back-off
    assert snapshot(env["store"]) == before
    assert not list(env["out"].glob("2025-*"))


def test_empty_frames_fail_every_ticker_and_keep_the_store(env):
    before = snapshot(env["store"])
    with pytest.raises(SourceError) as info:
        run(env, FakeYahoo(missing=TICKERS))
    assert info.value.failures == dict.fromkeys(TICKERS, NO_DATA)
    assert snapshot(env["store"]) == before


def test_transient_rate_limit_is_retried_and_the_run_completes(env):
    client = FakeYahoo(raise_for=YFRateLimitError(), fail_calls=1)
    res = run(env, client)
    assert res.status == "written" and res.refresh_failures == {}
    assert verify_output(env["out"]) == []


PARTIAL = {
    # kind: (fake client arguments, tickers the refresh reports, tickers the stale check names)
    "missing_tickers": ({"missing": {"LYC.AX", "MP"}}, {"LYC.AX", "MP"}, {"LYC.AX", "MP"}),
    "all_nan_column": ({"nan": {"TECK"}}, {"TECK"}, {"TECK"}),
    "nan_tail": ({"nan_tail": {"ALB"}}, set(), {"ALB"}),
    "negative_price": ({"negative": {"SQM"}}, {"SQM"}, {"SQM"}),
}


@pytest.mark.parametrize("kind", sorted(PARTIAL))
def test_partial_failure_keeps_good_data_and_names_the_tickers(env, kind):
    args, reported, stale = PARTIAL[kind]
    old = store_prices(env["store"])
    with pytest.raises(StaleDataError) as info:
        run(env, FakeYahoo(**args))
    assert info.value.exit_code == 5 and set(info.value.tickers) == stale
    if reported:
        assert f"the refresh failed for {', '.join(sorted(reported))}" in str(info.value)
    new = store_prices(env["store"])
    # no stored close is lost or changed; a failed ticker's rows are exactly as before
    kept = old[["ticker", "date", "close"]].merge(new, on=["ticker", "date"], suffixes=("", "_new"))
    assert len(kept) == len(old) and (kept["close"] == kept["close_new"]).all()
    failed = old["ticker"].isin(reported)
    assert (
        new[new["ticker"].isin(reported)]
        .reset_index(drop=True)
        .equals(old[failed].reset_index(drop=True))
    )
    fresh = new[~new["ticker"].isin(stale)]
    assert fresh.groupby("ticker")["date"].max().min() > pd.Timestamp(SEED_END)
    assert not list(env["out"].glob("2025-*"))

    # accepted explicitly: the run completes and the manifest records what failed
    res = run(env, FakeYahoo(**args), allow_stale=True)
    assert res.status == "written" and set(res.refresh_failures) == reported
    m = json.loads((res.folder / MANIFEST).read_text())
    assert set(m["data"]["stale"]) == stale
    assert set(m["data"]["refresh"]["failures"]) == reported
    assert any("--allow-stale" in w for w in m["warnings"])
    if kind == "negative_price":
        assert "price must be positive" in m["data"]["refresh"]["failures"]["SQM"]


def test_fx_failure_is_stale_data_naming_the_fx_series(env):
    """Failed FX downloads leave old FX in the store; forward-filling it silently would misprice
    the index, so the stale check covers the FX each eligible company needs."""
    client = FakeYahoo(raise_for=RuntimeError("fx feed down"), raise_when=FX_TICKERS)
    with pytest.raises(StaleDataError) as info:
        run(env, client)
    assert set(info.value.tickers) == {"AUDUSD=X", "EURUSD=X", "JPYUSD=X"}
    assert "the refresh failed for AUDUSD=X, EURUSD=X, JPYUSD=X" in str(info.value)
    res = run(env, client, allow_stale=True)
    assert res.status == "written" and set(res.refresh_failures) == set(info.value.tickers)
    assert all("fx feed down" in why for why in res.refresh_failures.values())
    m = json.loads((res.folder / MANIFEST).read_text())
    assert m["data"]["fx_as_of_cutoff"]["AUD"] == SEED_END  # the old FX kept, its age recorded
    assert all(any(t in w for w in m["warnings"]) for t in res.refresh_failures)
