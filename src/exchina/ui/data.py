"""Cached calls into the package for the app: the market, methodologies, backtests, rebalances.

Every cached function is keyed by plain text: the data key (store folder and a fingerprint of its
files, so new prices invalidate the cache) and the methodology's resolved TOML (``to_toml``, which
starts with its hash). Results are ``st.cache_data`` copies, so a session can never mutate
another's; no optimizer problem is ever cached here (the index layer builds its own per call).

The slow results (the market, backtests, the latest rebalance) are also kept on disk in the user
cache folder (``exchina.core.resultcache``, keyed by methodology digest, data fingerprint and code
version), so a relaunch of the app reads them instead of recomputing. While a slow result is
computed the page (already drawn down to it) shows a spinner naming the work and the seconds
elapsed.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import streamlit as st

from exchina.backtest import BacktestResult, load_events, render_report, resolve_benchmark
from exchina.backtest import run_backtest as _run_backtest
from exchina.core.csvsafe import csv_text
from exchina.core.errors import InputError
from exchina.core.market import Market
from exchina.core.resultcache import ResultCache
from exchina.core.sources import load_market
from exchina.core.store import MarketStore
from exchina.core.tomlfile import loads_toml
from exchina.index.methodology import (
    Methodology,
    load_methodology,
    parse_methodology,
    shipped_methodologies,
)
from exchina.index.rebalance import RebalanceResult, rebalance
from exchina.index.rulebook import to_toml
from exchina.ui import progress
from exchina.universe import build_universe, explain, load_companies, load_facts
from exchina.universe.explain import Explanation
from exchina.universe.screens import standing

FLAGSHIP = "flagship"
T = TypeVar("T")


@dataclass(frozen=True)
class DataKey:
    """Which market the app reads: the store folder and a fingerprint of its files ("" = none)."""

    store: str
    fingerprint: str

    @property
    def source(self) -> str:
        """``store`` when the store holds prices, else ``demo`` (what ``load_market('auto')``
        would pick)."""
        return "store" if self.fingerprint else "demo"


def data_key(demo: bool = False) -> DataKey:
    """The current data key; cheap (a directory listing), so every rerun checks the store. The
    demo market when ``demo`` (the user's choice) or when the store holds no prices."""
    st_ = MarketStore()
    if demo or not st_.has_prices():
        return DataKey(str(st_.root), "")
    files = sorted(p for p in Path(st_.root).rglob("*.parquet"))
    stamp = ";".join(
        f"{p.relative_to(st_.root)}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in files
    )
    return DataKey(str(st_.root), stamp)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _disk(kind: str, key: DataKey, text: str, compute: Callable[[], T], *extra: str) -> T:
    """``compute()`` through the persistent result cache, keyed by ``text``'s digest (the
    methodology's canonical TOML, "" for none), the data key and ``extra`` parts."""
    store = key.store if key.fingerprint else ""
    parts = (_digest(text), key.source, store, key.fingerprint, *extra)
    return ResultCache.default().get_or_compute(kind, parts, compute)


@st.cache_data(show_time=True, show_spinner="Loading market data...", max_entries=2)
def market(key: DataKey) -> Market:
    """The market for ``key``: the store when it holds prices, else the synthetic demo market."""
    return _disk("market", key, "", lambda: load_market(source=key.source, store=key.store))


# ----------------------------------------------------------------------------- methodologies


def methodology_text(m: Methodology) -> str:
    """The canonical text of a methodology (resolved TOML with its hash): the cache key."""
    return to_toml(m)


@st.cache_data(show_spinner=False)
def shipped_texts() -> dict[str, str]:
    """Shipped methodology name -> canonical TOML text, flagship first."""
    paths = shipped_methodologies()
    names = sorted(paths, key=lambda n: (n != FLAGSHIP, n))
    return {n: methodology_text(load_methodology(paths[n])) for n in names}


@st.cache_data(show_spinner=False)
def methodology(text: str) -> Methodology:
    """Parse canonical methodology text (validated; InputError names the key)."""
    return parse_text(text, "<methodology>")


def parse_text(text: str, file: str) -> Methodology:
    """Validate methodology TOML text with ``parse_methodology``; errors name ``file`` and key."""
    return parse_methodology(loads_toml(text, file), file=file)


# ----------------------------------------------------------------------------- results


def backtest(text: str, key: DataKey) -> BacktestResult:
    """The methodology's backtest over all the market's history, against its own benchmark (the
    ``[benchmark]`` ticker when the market has it, else its methodology). The peer methodology
    used for the China-exposure comparison is backtested separately (``benchmark_methodology_text``)
    so one cached peer serves every methodology that names it. On a page, a backtest that is
    computed shows a progress bar counting its rebalances (``exchina.ui.progress``)."""
    return progress.with_progress(
        _job(text, key), lambda: _backtest(text, key), "Running the backtest"
    )


def _job(text: str, key: DataKey) -> str:
    """The name a backtest's progress is reported under: its cache key."""
    return f"backtest:{_digest(text)}:{key.store}:{_digest(key.fingerprint)}"


@st.cache_data(
    show_time=True,
    show_spinner="Running the backtest (first time for this methodology)...",
    max_entries=16,
)
def _backtest(text: str, key: DataKey) -> BacktestResult:
    """``backtest`` through the caches (cached calls within this module use it directly)."""

    def compute() -> BacktestResult:
        m = methodology(text)
        mk = market(key)
        bench, _peer = resolve_benchmark(m, market=mk)
        job = _job(text, key)
        try:
            return _run_backtest(m, mk, benchmark=bench, on_rebalance=progress.reporter(job))
        finally:
            progress.forget(job)

    return _disk("backtest", key, text, compute)


@st.cache_data(show_spinner=False, max_entries=16)
def metrics(text: str, key: DataKey) -> dict:
    """``BacktestResult.metrics()`` of the methodology's backtest."""
    return _disk("metrics", key, text, lambda: _backtest(text, key).metrics())


@st.cache_data(show_spinner=False, max_entries=16)
def china_exposure(text: str, key: DataKey) -> pd.Series:
    """Weighted China score of the index at each rebalance."""
    return _disk("china", key, text, lambda: _backtest(text, key).china_exposure()["index"])


@st.cache_data(show_spinner=False, max_entries=16)
def confidence_exposure(text: str, key: DataKey) -> pd.Series:
    """Weighted confidence of the index's China scores at each rebalance."""
    return _disk(
        "confidence", key, text, lambda: _backtest(text, key).confidence_exposure()["index"]
    )


@st.cache_data(show_spinner=False, max_entries=48)
def exposures(text: str, key: DataKey, by: str) -> pd.DataFrame:
    """Weight per group (``primary_stage``, ``country``, ``china_band``) at each rebalance."""
    return _disk("exposures", key, text, lambda: _backtest(text, key).exposures(by), by)


@st.cache_data(show_spinner=False, max_entries=32)
def attribution(text: str, key: DataKey, by: str) -> pd.DataFrame:
    """Contribution by group to each holding period's price return."""
    return _disk("attribution", key, text, lambda: _backtest(text, key).attribution(by), by)


@st.cache_data(show_time=True, show_spinner="Rebalancing...", max_entries=16)
def current_rebalance(text: str, key: DataKey) -> RebalanceResult:
    """The latest rebalance of the backtest, redone with the holdings drifted up to it, so the
    trades are against what the index held just before."""

    def compute() -> RebalanceResult:
        m = methodology(text)
        res = _backtest(text, key)
        date = pd.Timestamp(res.weights.index[-1])
        previous = None
        if len(res.weights) > 1:
            previous = res.drifted.iloc[-1]
            previous = previous[previous > 0]
        return rebalance(date, m, market(key), previous=previous)

    return _disk("rebalance", key, text, compute)


@st.cache_data(show_time=True, show_spinner="Checking the constraints...", max_entries=16)
def check_rebalance(text: str, key: DataKey) -> RebalanceResult:
    """One rebalance at the last scheduled date the market covers: a quick feasibility check
    before a full backtest (raises InfeasibleError naming the conflicts)."""
    from exchina.index.schedule import rebalance_dates

    m = methodology(text)
    mk = market(key)
    sched = rebalance_dates(m, mk.as_of - pd.DateOffset(years=1), mk.as_of)
    if sched.empty:
        raise InputError("no scheduled rebalance in the last year of data", field="schedule")
    return rebalance(pd.Timestamp(sched["effective"].iloc[-1]), m, mk)


@st.cache_data(show_time=True, show_spinner="Building the universe...", max_entries=32)
def universe(
    date: str,
    text: str,
    key: DataKey,
    companies_csv: bytes | None = None,
    held: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Every company at ``date`` under the methodology's universe rules, the ``held`` names
    getting the members' buffers, with each one's ``standing`` (an uploaded company master
    replaces the shipped one; facts of companies it lacks are left out)."""
    m = methodology(text)
    companies, facts = master(companies_csv)
    u = build_universe(
        date, m.universe, market(key), previous_members=held, companies=companies, facts=facts
    )
    return u.assign(standing=standing(u, held))


@st.cache_data(show_spinner=False, max_entries=64)
def held_at(text: str, key: DataKey, date: str) -> tuple[str, ...]:
    """The index's holdings in force at ``date`` (set at the last rebalance on or before it)."""
    w = _backtest(text, key).weights.loc[:date]
    if w.empty:
        return ()
    last = w.iloc[-1]
    return tuple(sorted(last[last > 0].index))


@st.cache_data(show_spinner=False, max_entries=4)
def master(companies_csv: bytes | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The company master and the facts about its companies (shipped, or an uploaded CSV)."""
    if companies_csv is None:
        companies = load_companies()
        return companies, load_facts(companies=companies)
    companies = read_uploaded_companies(companies_csv)
    facts = load_facts()
    return companies, facts[facts["company_id"].isin(set(companies["company_id"]))]


def read_uploaded_companies(data: bytes, name: str = "uploaded companies.csv") -> pd.DataFrame:
    """Validate an uploaded company master with ``load_companies`` (InputError names row/field)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "companies.csv"
        path.write_bytes(data)
        try:
            return load_companies(path)
        except InputError as exc:
            raise InputError(exc.reason, file=name, row=exc.row, field=exc.field) from None


@st.cache_data(show_spinner=False, max_entries=64)
def explanation(company: str, date: str, text: str) -> Explanation:
    """``explain`` of one company at a date under the methodology's China-score rules."""
    return explain(company, date, methodology(text).universe.china)


@st.cache_data(show_spinner=False)
def events() -> pd.DataFrame:
    """China's export-control events (``data/events.csv``)."""
    return load_events()


# ----------------------------------------------------------------------------- files


@st.cache_data(show_time=True, show_spinner="Writing the HTML report...", max_entries=8)
def report_html(text: str, key: DataKey) -> str:
    """The self-contained HTML backtest report."""
    return render_report(_backtest(text, key), events=events())


def levels_csv(result: BacktestResult) -> bytes:
    """Index levels with the data source on every row."""
    out = result.levels.assign(data_source=result.label)
    return csv_text(out, lineterminator="\n").encode()


def constituents_csv(reb: RebalanceResult) -> bytes:
    return csv_text(reb.constituents, index=False, lineterminator="\n").encode()


def constituents_parquet(reb: RebalanceResult) -> bytes:
    buf = io.BytesIO()
    reb.constituents.to_parquet(buf, index=False)
    return buf.getvalue()


def benchmark_methodology_text(m: Methodology) -> str | None:
    """Canonical text of the methodology named in ``[benchmark] methodology`` (None without one):
    the benchmark whose constituents, hence China score, are known."""
    from exchina.index.methodology import resolve_methodology

    ref = m.benchmark.methodology
    if not ref:
        return None
    shipped = shipped_texts()
    if ref.removesuffix(".toml") in shipped:
        return shipped[ref.removesuffix(".toml")]
    return methodology_text(load_methodology(resolve_methodology(ref)))


@st.cache_data(
    show_time=True, show_spinner="Building the factsheet (first time for this methodology)..."
)
def factsheet_html(text: str, key: DataKey) -> str:
    """The methodology's factsheet at the last price date as one self-contained HTML page."""
    from exchina.backtest.factsheet import factsheet, render_factsheet_html

    return _disk(
        "factsheet",
        key,
        text,
        lambda: render_factsheet_html(factsheet(methodology(text), market(key))),
    )


def warm(name: str = FLAGSHIP) -> None:
    """Fill the app's caches with what the first page (Overview) shows for the shipped
    methodology ``name``: read from the disk cache on a relaunch, computed on a first launch.
    ``exchina app`` calls it while its server starts, so the first visitor finds it done (or
    waits on the same computation, never a second one)."""
    key = data_key()
    market(key)
    text = shipped_texts()[name]
    for t in (text, benchmark_methodology_text(methodology(text))):
        if t is not None:
            backtest(t, key)
            metrics(t, key)
            china_exposure(t, key)
            confidence_exposure(t, key)


@st.cache_data(show_time=True, show_spinner="Printing the factsheet to PDF...", max_entries=4)
def factsheet_pdf(text: str, key: DataKey) -> bytes:
    """The factsheet printed to PDF by headless Chromium (ExchinaError when Chromium is missing)."""
    import tempfile

    from exchina.backtest.factsheet import html_to_pdf

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "factsheet.pdf"
        html_to_pdf(factsheet_html(text, key), target)
        return target.read_bytes()
