"""The investable universe at a date: every company, its score, its data and whether it passes.

``build_universe`` applies the methodology's ``UniverseRules`` to the master, the facts and the
market as known at ``date`` and lists every failing screen per company, so an exclusion is always
explained. Existing members (``previous_members``) get the looser buffer thresholds, as MVIS and
Sprott indices do, so names near a threshold do not churn in and out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from exchina.core.errors import MissingDataError
from exchina.core.market import Market
from exchina.core.paths import data_file
from exchina.universe.loaders import (
    SHARE_COLUMNS,
    load_companies,
    load_facts,
    load_shares,
    load_stage_facts,
)
from exchina.universe.rules import UniverseRules
from exchina.universe.score import score_companies
from exchina.universe.stages import SHARE_COLUMNS as STAGE_SHARE_COLUMNS
from exchina.universe.stages import chain_entry, classify_stages

FREE_FLOAT_UNKNOWN = "free float unknown, 100% assumed"
STAGE_DEFAULTED = "primary stage by the most-downstream default (no stage shares or evidence)"
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


def shares_in_force(shares: pd.DataFrame, date: str | pd.Timestamp) -> pd.DataFrame:
    """Latest ``shares.csv`` record per company with ``effective_from <= date``; the free float
    is the latest known one (a record without a free float keeps the previous one)."""
    t = pd.Timestamp(date).as_unit("ns").to_datetime64()
    eff = shares["effective_from"].to_numpy()
    sel = np.flatnonzero(eff <= t)
    sel = sel[np.argsort(eff[sel], kind="stable")][::-1]  # newest first
    cid = shares["company_id"].to_numpy(dtype=object)[sel]
    ff = shares["free_float"].to_numpy(dtype=float)[sel]
    ids, first = np.unique(cid, return_index=True)
    known = ~np.isnan(ff)
    ff_ids, ff_first = np.unique(cid[known], return_index=True)
    index = pd.Index(ids, name="company_id", dtype=object)
    return pd.DataFrame(
        {
            "shares_outstanding": shares["shares_outstanding"].to_numpy(dtype=float)[sel][first],
            "free_float": pd.Series(ff[known][ff_first], index=ff_ids, dtype=float).reindex(index),
        },
        index=index,
    )


def _shipped_shares() -> pd.DataFrame:
    """``data/shares.csv`` validated against the shipped master; empty if not shipped."""
    path = data_file("shares.csv")
    if path.is_file():
        return load_shares(path)
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in SHARE_COLUMNS}).astype(
        {"company_id": "str", "effective_from": "datetime64[ns]"}
    )


def _fmt(values: Iterable[Any], mask: np.ndarray, template: str) -> np.ndarray:
    """``template.format(v)`` where ``mask``, else ''."""
    return np.array([template.format(v) if m else "" for v, m in zip(values, mask, strict=True)])


def _commas(values: Iterable[str]) -> np.ndarray:
    """Inner lists use ', ' so that ';' only separates reasons."""
    return np.array([str(v).replace(";", ", ") for v in values], dtype=object)


def _last_valid(frame: pd.DataFrame, index: pd.Index, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``frame`` (on ``index``, first ``n`` rows): the last non-NaN value and the
    row it is on (-1 = none). One pass over the history, all columns at once."""
    f = frame if frame.index.equals(index) else frame.reindex(index)
    arr = f.to_numpy(dtype=float)[:n]
    if arr.size == 0:
        return np.full(arr.shape[1], np.nan), np.full(arr.shape[1], -1)
    ok = ~np.isnan(arr)
    row = n - 1 - np.argmax(ok[::-1], axis=0)
    row = np.where(ok.any(axis=0), row, -1)
    value = np.where(row >= 0, arr[np.maximum(row, 0), np.arange(arr.shape[1])], np.nan)
    return value, row


def _pick(values: np.ndarray, cols: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """``values[cols]`` with ``fill`` where ``cols`` is -1 (ticker absent)."""
    if values.size == 0:
        return np.full(len(cols), fill)
    return np.where(cols >= 0, values[np.maximum(cols, 0)], fill)


def market_stats(
    market: Market, date: str | pd.Timestamp, tickers: pd.Index, window: int
) -> pd.DataFrame:
    """Per ticker from the market as known at ``date``: the same numbers as
    ``market.asof(date)``'s ``history_days()``, ``adtv_usd(window)``, last ``close_usd`` and last
    ``shares``, computed in a few numpy passes because a backtest calls this at every rebalance.
    NaN when absent."""
    index = market.close.index
    n = int(index.searchsorted(pd.Timestamp(date), side="right"))
    cols = market.close.columns.get_indexer(tickers)
    fx = market.fx.reindex(index).ffill()
    if "USD" not in fx.columns:
        fx = fx.assign(USD=1.0)
    ccy = market.currency.reindex(tickers)
    close_all = market.close.to_numpy(dtype=float)[:n]
    hist = _pick((~np.isnan(close_all)).sum(axis=0).astype(float), cols, 0.0)
    present = hist > 0
    missing = sorted({str(c) for c in ccy[present].dropna()} - set(fx.columns))
    if missing:
        raise MissingDataError(f"no FX series to USD for currencies {missing}")
    fx_cols = fx.columns.get_indexer(pd.Index(ccy.fillna("USD")))
    fx_arr = fx.to_numpy(dtype=float)[:n][:, fx_cols]

    last_close, last_row = _last_valid(market.close, index, n)
    row = _pick(last_row.astype(float), cols, -1.0).astype(int)
    ok = present & (row >= 0)
    price = np.full(len(tickers), np.nan)
    price[ok] = _pick(last_close, cols)[ok] * fx_arr[row[ok], np.flatnonzero(ok)]

    lo = max(n - window, 0)
    close_tail = np.where(cols >= 0, close_all[lo:, np.maximum(cols, 0)], np.nan)
    vcols = market.volume.columns.get_indexer(tickers)
    vol = market.volume if market.volume.index.equals(index) else market.volume.reindex(index)
    vol_tail = vol.to_numpy(dtype=float)[lo:n]
    vol_tail = np.where(vcols >= 0, vol_tail[:, np.maximum(vcols, 0)], np.nan)
    traded = np.nan_to_num(close_tail * fx_arr[lo:] * vol_tail, nan=0.0)
    has_volume = (~np.isnan(vol_tail)).any(axis=0)
    adtv = np.where(has_volume & present, traded.mean(axis=0) if n else np.nan, np.nan)

    last_shares, _ = _last_valid(market.shares, index, n)
    return pd.DataFrame(
        {
            "history_days": np.where(present, hist, np.nan),
            "adtv_usd": adtv,
            "price_usd": price,
            "mkt_shares": _pick(last_shares, market.shares.columns.get_indexer(tickers)),
        },
        index=tickers,
    )


def build_universe(
    date: str | pd.Timestamp,
    rules: UniverseRules,
    market: Market,
    previous_members: Iterable[str] | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    shares: pd.DataFrame | None = None,
    stage_facts: pd.DataFrame | None = None,
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
    """
    t = pd.Timestamp(date)
    companies = load_companies() if companies is None else companies
    facts = load_facts(companies=companies) if facts is None else facts
    shares = _shipped_shares() if shares is None else shares
    stage_facts = load_stage_facts() if stage_facts is None else stage_facts
    members = set(previous_members or [])

    c = companies.set_index("ticker", drop=False)
    tickers = pd.Index(c["ticker"], name="ticker")
    cid = c["company_id"]
    score = score_companies(facts, t, rules.china, companies=companies).reindex(cid)
    stages = classify_stages(companies, stage_facts, t).reindex(cid)
    stats = market_stats(market, t, tickers, rules.adtv_window_days)
    sif = shares_in_force(shares, t).reindex(cid)

    mkt_sh = stats["mkt_shares"].to_numpy()
    csv_sh = sif["shares_outstanding"].to_numpy(dtype=float)
    n_shares = np.where(np.isnan(mkt_sh), csv_sh, mkt_sh)
    shares_source = np.select([~np.isnan(mkt_sh), ~np.isnan(csv_sh)], ["market", "shares.csv"], "")
    ff_known = sif["free_float"].to_numpy(dtype=float)
    free_float = np.where(np.isnan(ff_known), 1.0, ff_known)
    price = stats["price_usd"].to_numpy()
    float_mcap = price * n_shares * free_float
    adtv = stats["adtv_usd"].to_numpy()
    hist = stats["history_days"].to_numpy()
    has_px = ~np.isnan(hist) & (hist > 0)

    is_member = tickers.isin(members)
    mcap_min = np.where(
        is_member, rules.min_float_mcap_usd * rules.buffer_mcap, rules.min_float_mcap_usd
    )
    adtv_min = np.where(is_member, rules.min_adtv_usd * rules.buffer_adtv, rules.min_adtv_usd)

    status = c["status"].to_numpy()
    delisted_on = c["delisted_on"]
    gone = (delisted_on.notna() & (delisted_on <= t)).to_numpy()
    status_unknown = (status == "delisted") & ~gone & delisted_on.notna().to_numpy()
    allowed_status = ", ".join(rules.statuses)
    bad_status = ~gone & ~status_unknown & ~np.isin(status, rules.statuses)
    listed_from = c["listed_from"]
    not_listed = (listed_from.notna() & (listed_from > t)).to_numpy()
    entry = chain_entry(stage_facts, pd.Index(cid), t)
    not_in_chain = entry.notna().to_numpy()

    stage_sets = [set(s.split(";")) for s in stages["stages"]]
    wanted = set(rules.stages)
    primary = stages["primary_stage"].to_numpy()
    if rules.stage_match == "primary":
        bad_stage = ~np.isin(primary, rules.stages)
        stage_msg = _fmt(
            primary, bad_stage, "primary stage {} not in [" + ", ".join(rules.stages) + "]"
        )
    else:
        bad_stage = np.array([not (s & wanted) for s in stage_sets], dtype=bool)
        stage_msg = _fmt(
            _commas(stages["stages"]),
            bad_stage,
            "stages {} not in [" + ", ".join(rules.stages) + "]",
        )
    if rules.commodities:
        want_c = set(rules.commodities)
        bad_comm = np.array(
            [not (set(x.split(";")) & want_c) for x in c["commodities"]], dtype=bool
        )
    else:
        bad_comm = np.zeros(len(c), dtype=bool)

    china = score["china_score"].to_numpy()
    flags = score["china_flags"].to_numpy()
    has_flag = (flags != "") & rules.exclude_china_flags
    if rules.max_china_score is None:
        china_max = np.full(len(c), np.inf)
    else:
        china_max = rules.max_china_score + np.where(is_member, rules.buffer_china_score, 0.0)
    bad_china = ~has_flag & (china > china_max)
    # members the buffers keep: eligible, but failing an entry threshold a newcomer must meet
    over_entry = (
        ~has_flag & (china > rules.max_china_score)
        if rules.max_china_score is not None
        else np.zeros(len(c), dtype=bool)
    )
    below_entry = has_px & ((float_mcap < rules.min_float_mcap_usd) | (adtv < rules.min_adtv_usd))
    conf = score["confidence"].to_numpy()
    bad_conf = conf < rules.min_confidence
    unknown = score["unknown_factors"].to_numpy()
    bad_unknown = (rules.china.unknown_policy == "exclude") & (unknown != "")

    short_hist = has_px & (hist < rules.min_history_days)
    no_mcap = has_px & np.isnan(float_mcap)
    low_mcap = has_px & (float_mcap < mcap_min)
    no_adtv = has_px & np.isnan(adtv)
    low_adtv = has_px & (adtv < adtv_min)

    msgs = [
        _fmt(delisted_on.dt.strftime("%Y-%m-%d").to_numpy(), gone, "delisted on {}"),
        _fmt(
            delisted_on.dt.strftime("%Y-%m-%d").to_numpy(),
            status_unknown,
            "status before delisting on {} unknown",
        ),
        _fmt(status, bad_status, "status {} not in [" + allowed_status + "]"),
        _fmt(listed_from.dt.strftime("%Y-%m-%d").to_numpy(), not_listed, "not listed until {}"),
        _fmt(
            entry.dt.strftime("%Y-%m-%d").to_numpy(),
            not_in_chain,
            "not in the chain before {} (stage evidence: entry)",
        ),
        stage_msg,
        _fmt(
            _commas(c["commodities"]),
            bad_comm,
            "commodities {} not in [" + ", ".join(rules.commodities) + "]",
        ),
        _fmt(_commas(flags), has_flag, "china flags: {}"),
        _fmt(
            list(zip(china, china_max, strict=True)), bad_china, "china_score {0[0]:.1f} > {0[1]:g}"
        ),
        _fmt(conf, bad_conf, "confidence {:.2f} < " + f"{rules.min_confidence:g}"),
        _fmt(_commas(unknown), bad_unknown, "unknown factors {} (unknown_policy exclude)"),
        _fmt(hist, ~has_px, "no price history"),
        _fmt(
            list(zip(hist, [rules.min_history_days] * len(c), strict=True)),
            short_hist,
            "history_days {0[0]:.0f} < {0[1]}",
        ),
        _fmt(hist, no_mcap, "float_mcap_usd unknown (no shares outstanding)"),
        _fmt(
            list(zip(float_mcap, mcap_min, strict=True)),
            low_mcap,
            "float_mcap_usd {0[0]:.0f} < {0[1]:.0f}",
        ),
        _fmt(hist, no_adtv, "adtv_usd unknown (no volume)"),
        _fmt(list(zip(adtv, adtv_min, strict=True)), low_adtv, "adtv_usd {0[0]:.0f} < {0[1]:.0f}"),
    ]
    reasons = [";".join(r for r in row if r) for row in zip(*msgs, strict=True)]
    eligible = np.array([r == "" for r in reasons], dtype=bool)
    # failed only the size, liquidity or history screens: a methodology's top-up may add it
    size_fails = short_hist.astype(int) + low_mcap.astype(int) + low_adtv.astype(int)
    all_fails = np.sum([np.asarray(m) != "" for m in msgs], axis=0)
    near_miss = (size_fails > 0) & (all_fails == size_fails)
    notes = [
        ";".join(n for n in pair if n)
        for pair in zip(
            np.where(has_px & np.isnan(ff_known), FREE_FLOAT_UNKNOWN, ""),
            np.where(stages["stage_default"].to_numpy(dtype=bool), STAGE_DEFAULTED, ""),
            strict=True,
        )
    ]

    out = pd.DataFrame(
        {
            "company_id": cid.to_numpy(),
            "name": c["name"].to_numpy(),
            "country": c["country"].to_numpy(),
            "currency": c["currency"].to_numpy(),
            "stages": stages["stages"].to_numpy(),
            "primary_stage": primary,
            "commodities": c["commodities"].to_numpy(),
            "status": status,
            "china_score": china,
            "confidence": conf,
            "china_flags": flags,
            "float_mcap_usd": float_mcap,
            "adtv_usd": adtv,
            "history_days": np.nan_to_num(hist, nan=0.0).astype("int64"),
            "eligible": eligible,
            "reasons": reasons,
            "exchange": c["exchange"].to_numpy(),
            "primary_basis": stages["primary_basis"].to_numpy(),
            "graded_score": score["graded_score"].to_numpy(),
            "unknown_factors": unknown,
            "allied_backing_usd_m": score["allied_backing_usd_m"].to_numpy(),
            "allied_backers": score["allied_backers"].to_numpy(),
            "price_usd": price,
            "shares_outstanding": n_shares,
            "shares_source": shares_source,
            "free_float": free_float,
            "member": is_member,
            "buffered": np.asarray(is_member & eligible & (over_entry | below_entry), dtype=bool),
            "data_notes": notes,
            "near_miss": near_miss,
            "evidenced_factors": score["evidenced_factors"].to_numpy(dtype="int64"),
            "stage_fact": stages["stage_fact"].to_numpy(),
            **{col: stages[col].to_numpy(dtype=float) for col in STAGE_SHARE_COLUMNS},
        },
        index=tickers,
    )
    return out[UNIVERSE_COLUMNS]


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
