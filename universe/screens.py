"""The investable universe at a date: every company, its score, its data and whether it passes.

``build_universe`` applies the methodology's ``UniverseRules`` to the master, the facts and the
market as known at ``date`` and lists every failing screen per company, so an exclusion is always
explained. Existing members (``previous_members``) get the looser buffer thresholds, as MVIS and
Sprott indices do, so names near a threshold do not churn in and out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from exchina.core.market import Market
from exchina.universe.inputs import MarketHistory, UniverseInputs, stored
from exchina.universe.rules import UniverseRules
from exchina.universe.screening import Candidates, apply_screens
from exchina.universe.stages import SHARE_COLUMNS as STAGE_SHARE_COLUMNS

FREE_FLOAT_UNKNOWN = "free float unknown, 100% assumed"
STAGE_DEFAULTED = "primary stage by the most-downstream default (no stage shares or evidence)"
NOTES = {
    (False, False): "",
    (True, False): FREE_FLOAT_UNKNOWN,
    (False, True): STAGE_DEFAULTED,
    (True, True): f"{FREE_FLOAT_UNKNOWN};{STAGE_DEFAULTED}",
}
"""``data_notes`` by (free float unknown, stage defaulted)."""
UNIVERSE_COLUMNS = [
    "company_id",
    "name",
    "country",
    "currency",
    "stages",
    "primary_stage",
    "commodities",
    "status",
    "china_score",
    "confidence",
    "china_flags",
    "float_mcap_usd",
    "adtv_usd",
    "history_days",
    "eligible",
    "reasons",
    # extensions beyond the contract
    "exchange",
    "primary_basis",
    "graded_score",
    "unknown_factors",
    "allied_backing_usd_m",
    "allied_backers",
    "price_usd",
    "shares_outstanding",
    "shares_source",
    "free_float",
    "member",
    "buffered",
    "data_notes",
    "near_miss",
    "evidenced_factors",
    "stage_fact",
    *STAGE_SHARE_COLUMNS,
]
STANDINGS = {
    "held": "held: passes the entry screens",
    "held, kept by buffer": "held: fails an entry screen but is inside the members' buffer",
    "held, leaving": "held now, fails even the buffer: leaves at the next rebalance",
    "eligible": "not held, passes the entry screens",
    "excluded": "not held, fails a screen (see reasons)",
}


def market_stats(
    market: Market, date: str | pd.Timestamp, tickers: pd.Index, window: int
) -> pd.DataFrame:
    """Per ticker from the market as known at ``date``: the same numbers as
    ``market.asof(date)``'s ``history_days()``, ``adtv_usd(window)``, last ``close_usd`` and last
    ``shares`` (``MarketHistory``). NaN when absent."""
    history = MarketHistory(market, tickers)
    s = history.stats(history.rows(pd.Timestamp(date)), window)
    return pd.DataFrame(
        {
            "history_days": s.history_days,
            "adtv_usd": s.adtv_usd,
            "price_usd": s.price_usd,
            "mkt_shares": s.shares,
        },
        index=tickers,
    )


@dataclass(frozen=True)
class ScreenedUniverse:
    """``build_universe``'s columns (``UNIVERSE_COLUMNS`` order, as arrays, indexed by ``index``)
    and its failures as a long table (ticker, screen, key, reason:
    ``exchina.universe.screening.FAILURE_COLUMNS``), one row per company and failed screen.
    ``frame`` is built from the columns when first read; ``with_columns`` builds it with
    columns added or replaced (one construction, as a top-up needs)."""

    columns: dict[str, Any]
    index: pd.Index
    failures: pd.DataFrame

    @cached_property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns, index=self.index)

    def with_columns(self, **extra: Any) -> pd.DataFrame:
        """The frame with ``extra`` columns: an existing name keeps its place, a new one follows."""
        return pd.DataFrame({**self.columns, **extra}, index=self.index)


def build_universe(
    date: str | pd.Timestamp,
    rules: UniverseRules,
    market: Market,
    previous_members: Iterable[str] | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    shares: pd.DataFrame | None = None,
    stage_facts: pd.DataFrame | None = None,
    *,
    inputs: UniverseInputs | None = None,
) -> pd.DataFrame:
    """Every company with ``eligible`` and, if not, every failing screen in ``reasons``.

    Indexed by ticker; columns ``UNIVERSE_COLUMNS``. Uses the market up to ``date`` (as
    ``market.asof(date)``) and facts known at ``date`` only. Float market cap = last close in
    USD x shares x free float (``shares.csv``, else 1.0 noted in ``data_notes``). Shares: the
    market's count known at ``date`` (Yahoo's share-count history in the store, or the demo's)
    where it has one, else the ``shares.csv`` fact in force (``shares_source`` says which): the
    dated history is one consistent series, the sourced facts are sparse, so they fill the
    dates before its first report and the companies it lacks rather than interleave with it.
    A company without prices fails "no price history" and the price screens are not evaluated.
    Status: ``delisted_on <= date`` means delisted; a master status of ``delisted`` with a later
    ``delisted_on`` leaves the status at ``date`` unknown (the master keeps only the last status).
    The screens are the classes of ``exchina.universe.screening``. ``inputs``: the master,
    facts, shares, stage facts and market prepared once (``UniverseInputs``, for a backtest's
    many dates; ``market`` is then a cut of its market and the frames are taken from it).
    """
    return screen_universe(
        date, rules, market, previous_members, companies, facts, shares, stage_facts, inputs=inputs
    ).frame


def screen_universe(
    date: str | pd.Timestamp,
    rules: UniverseRules,
    market: Market,
    previous_members: Iterable[str] | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    shares: pd.DataFrame | None = None,
    stage_facts: pd.DataFrame | None = None,
    *,
    inputs: UniverseInputs | None = None,
) -> ScreenedUniverse:
    """``build_universe`` with its failures as a table (see ``ScreenedUniverse``)."""
    t = pd.Timestamp(date)
    if inputs is None:  # one date: prepare the market up to it only
        market = market.asof(t)
        inputs = UniverseInputs(market, companies, facts, shares, stage_facts)
    members = set(previous_members or [])
    tickers = inputs.tickers
    col, text = inputs.columns, inputs.text
    score = inputs.scorer.arrays(t, rules.china)
    stages = inputs.stages.columns(t)
    stage_stored = inputs.stage_text(t)
    stats = inputs.history.stats(inputs.rows(market, t), rules.adtv_window_days)
    csv_sh, ff_known = inputs.shares_in_force(t)

    mkt_sh = stats.shares
    n_shares = np.where(np.isnan(mkt_sh), csv_sh, mkt_sh)
    shares_source = np.select([~np.isnan(mkt_sh), ~np.isnan(csv_sh)], ["market", "shares.csv"], "")
    free_float = np.where(np.isnan(ff_known), 1.0, ff_known)
    price = stats.price_usd
    float_mcap = price * n_shares * free_float
    adtv = stats.adtv_usd
    hist = stats.history_days
    has_px = ~np.isnan(hist) & (hist > 0)

    is_member = np.array([t in members for t in inputs.ticker_list], dtype=bool)
    mcap_min = np.where(
        is_member, rules.min_float_mcap_usd * rules.buffer_mcap, rules.min_float_mcap_usd
    )
    adtv_min = np.where(is_member, rules.min_adtv_usd * rules.buffer_adtv, rules.min_adtv_usd)

    t64 = t.as_unit("ns").to_datetime64()
    status = col["status"]
    gone = ~np.isnat(inputs.delisted_on) & (inputs.delisted_on <= t64)
    status_unknown = (status == "delisted") & ~gone & ~np.isnat(inputs.delisted_on)
    not_listed = ~np.isnat(inputs.listed_from) & (inputs.listed_from > t64)
    entry = inputs.stages.entry(t).to_numpy()
    entry_text = np.where(np.isnat(entry), "", np.datetime_as_string(entry, unit="D"))

    china = score["china_score"]
    flags = score["china_flags"]
    has_flag = (flags != "") & rules.exclude_china_flags
    if rules.max_china_score is None:
        china_max = np.full(len(tickers), np.inf)
        over_entry = np.zeros(len(tickers), dtype=bool)
    else:
        china_max = rules.max_china_score + np.where(is_member, rules.buffer_china_score, 0.0)
        # members the buffers keep: eligible, but failing an entry threshold a newcomer must meet
        over_entry = ~has_flag & (china > rules.max_china_score)
    below_entry = has_px & ((float_mcap < rules.min_float_mcap_usd) | (adtv < rules.min_adtv_usd))
    conf = score["confidence"]
    unknown = score["unknown_factors"]
    primary = stages["primary_stage"]
    stage_text = stages["stages"]

    screened = apply_screens(
        Candidates(
            rules=rules,
            status=status,
            gone=gone,
            status_unknown=status_unknown,
            delisted_text=inputs.delisted_text,
            not_listed=not_listed,
            listed_text=inputs.listed_text,
            entry_text=entry_text,
            stages=stage_text,
            primary=primary,
            commodities=col["commodities"],
            commodity_sets=inputs.commodity_sets,
            china=china,
            china_max=china_max,
            flags=flags,
            confidence=conf,
            unknown=unknown,
            priced=has_px,
            history_days=hist,
            float_mcap=float_mcap,
            mcap_min=mcap_min,
            adtv=adtv,
            adtv_min=adtv_min,
        ),
        tickers,
    )
    reasons = [";".join(r) for r in screened.reasons]
    eligible = np.array([not r for r in screened.reasons], dtype=bool)
    stage_default = stages["stage_default"]
    free_float_unknown = has_px & np.isnan(ff_known)
    notes = [
        NOTES[pair]
        for pair in zip(free_float_unknown.tolist(), stage_default.tolist(), strict=True)
    ]

    columns = {
        "company_id": text["company_id"],
        "name": text["name"],
        "country": text["country"],
        "currency": text["currency"],
        "stages": stage_stored["stages"],
        "primary_stage": stage_stored["primary_stage"],
        "commodities": text["commodities"],
        "status": text["status"],
        "china_score": china,
        "confidence": conf,
        "china_flags": stored(flags),
        "float_mcap_usd": float_mcap,
        "adtv_usd": adtv,
        "history_days": np.nan_to_num(hist, nan=0.0).astype("int64"),
        "eligible": eligible,
        "reasons": stored(reasons),
        "exchange": text["exchange"],
        "primary_basis": stage_stored["primary_basis"],
        "graded_score": score["graded_score"],
        "unknown_factors": stored(unknown),
        "allied_backing_usd_m": score["allied_backing_usd_m"],
        "allied_backers": stored(score["allied_backers"]),
        "price_usd": price,
        "shares_outstanding": n_shares,
        "shares_source": stored(shares_source),
        "free_float": free_float,
        "member": is_member,
        "buffered": np.asarray(is_member & eligible & (over_entry | below_entry), dtype=bool),
        "data_notes": stored(notes),
        "near_miss": screened.near_miss,
        "evidenced_factors": score["evidenced_factors"],
        "stage_fact": stage_stored["stage_fact"],
        **{c: stages[c] for c in STAGE_SHARE_COLUMNS},
    }
    return ScreenedUniverse(columns, tickers, screened.failures)


def standing(universe: pd.DataFrame, held: Iterable[str]) -> pd.Series:
    """Each company's standing towards the index (keys of ``STANDINGS``): held names that pass
    the entry screens, held names only the members' buffer keeps, held names that fail even the
    buffer, eligible names not held, and excluded ones. ``universe`` is ``build_universe`` with
    ``previous_members`` = ``held``."""
    is_held = universe.index.isin(list(held))
    elig = universe["eligible"].astype(bool).to_numpy()
    buf = universe["buffered"].astype(bool).to_numpy()
    labels = np.select(
        [is_held & elig & buf, is_held & elig, is_held, elig],
        ["held, kept by buffer", "held", "held, leaving", "eligible"],
        "excluded",
    )
    return pd.Series(labels, index=universe.index, name="standing", dtype=object)


def buffer_text(rules: UniverseRules) -> str:
    """The members' buffer in words, for a caption or a footnote."""
    china = (
        f"a China score up to {rules.max_china_score + rules.buffer_china_score:g} "
        f"(entry: {rules.max_china_score:g})"
        if rules.max_china_score is not None
        else ""
    )
    parts = [
        p
        for p in (
            china,
            f"a float market cap down to {rules.buffer_mcap:.0%} of the entry minimum",
            f"ADTV down to {rules.buffer_adtv:.0%} of the entry minimum",
        )
        if p
    ]
    return (
        "Current members keep their place with looser thresholds than a newcomer needs ("
        + "; ".join(parts)
        + "), so names near a threshold do not churn in and out."
    )
