"""What the fact base needs at a date: the curator's to-do list (``review_facts``).

Four lists, each a research task:

* ``eligible_unknown``: companies eligible at the date with graded factors still unknown;
* ``due``: facts still open at the date (not ended) whose latest recorded check (``verified_on``,
  else ``source_date``) is older than ``reverify_after_months`` there;
* ``old_open_ended``: open-ended ownership and offtake facts in force whose source is older than
  ``ownership_stale_after_years`` (re-reading an old filing is not news of today's position);
* ``later_events``: descriptions naming a year after their source's year (a fact edited with
  later news but still dated and sourced as the old page).

Plus ``stage_defaults``: eligible companies whose primary stage comes from the last-resort
most-downstream default. Facts of companies delisted by the date, or flagged Chinese by the master
(domicile or listing: they score 100 whatever their facts say), are not listed. The review reads the files as they stand (latest checks), so it says what
is due by the date; the score itself is point in time (``facts.last_check``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from exchina.core.market import Market
from exchina.universe.facts import DAYS_PER_YEAR, MONTHS_PER_YEAR, OWNERSHIP_FACTORS
from exchina.universe.inputs import UniverseInputs
from exchina.universe.rules import UniverseRules
from exchina.universe.score import master_flags
from exchina.universe.screens import build_universe

OPEN_ENDED_FACTORS: tuple[str, ...] = (*OWNERSHIP_FACTORS, "offtake_revenue_china")
# A year after one of these words is a plan or a term, not an event the source could not know.
_FUTURE_WORDS = (
    r"by|until|till|through|over|from|before|due|scheduled|forecast|guidance|goal|"
    r"target(?:s|ed)?|plan(?:s|ned)?|expect(?:s|ed)?|aim(?:s|ing)?|complet(?:e|es|ing|ion)|"
    r"open(?:s|ing)?|commission(?:s|ing)?"
)
# A year joined by a hyphen to a word is part of a name (a fact_id, a slug), unless the word
# places it in time ("mid-2024").
_HYPHEN_WORDS = frozenset({"mid", "early", "late", "end", "fy", "cy", "h1", "h2"})
_WORD_BEFORE_HYPHEN = re.compile(r"([A-Za-z0-9]+)-$")
_YEAR = re.compile(r"(?<![\d./])(19[89]\d|20\d\d)(?![\d%])")
_FUTURE_BEFORE = re.compile(rf"(?:\b(?:{_FUTURE_WORDS})\b)[\s\w.,()-]{{0,20}}$", re.IGNORECASE)


@dataclass(frozen=True)
class FactsReview:
    """The to-do list at ``as_of``; each list holds plain dicts (JSON-ready)."""

    as_of: pd.Timestamp
    eligible_unknown: list[dict[str, Any]] = field(default_factory=list)
    due: list[dict[str, Any]] = field(default_factory=list)
    old_open_ended: list[dict[str, Any]] = field(default_factory=list)
    later_events: list[dict[str, Any]] = field(default_factory=list)
    stage_defaults: list[dict[str, Any]] = field(default_factory=list)

    SECTIONS = ("eligible_unknown", "due", "old_open_ended", "later_events", "stage_defaults")

    def counts(self) -> dict[str, int]:
        """Number of items per section."""
        return {s: len(getattr(self, s)) for s in self.SECTIONS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the date, the counts and every section."""
        return {
            "as_of": str(self.as_of.date()),
            "counts": self.counts(),
            **{s: getattr(self, s) for s in self.SECTIONS},
        }


def later_years(description: str, source_year: int, as_of_year: int) -> list[int]:
    """Years named in ``description`` after ``source_year`` (up to ``as_of_year``) that read as
    events, not plans: a year right after 'by', 'until', 'from', 'target' and the like is a
    term the source could state in advance."""
    out = []
    for m in _YEAR.finditer(description):
        year = int(m.group(1))
        if not source_year < year <= as_of_year:
            continue
        before = description[: m.start()]
        if _FUTURE_BEFORE.search(before):
            continue
        joined = _WORD_BEFORE_HYPHEN.search(before)
        if joined and joined.group(1).lower() not in _HYPHEN_WORDS:
            continue
        out.append(year)
    return sorted(set(out))


def _record(frame: pd.DataFrame, i: int, cols: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in cols:
        v = frame[c].iloc[i]
        if isinstance(v, pd.Timestamp):
            out[c] = str(v.date())
        elif v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            out[c] = None
        else:
            out[c] = v.item() if isinstance(v, np.generic) else v
    return out


def _all_facts(facts: pd.DataFrame, stage_facts: pd.DataFrame) -> pd.DataFrame:
    """Exposure and stage facts in one frame (stage rows get factor ``stage:<stage>``)."""
    stage_rows = stage_facts.assign(
        factor="stage:" + stage_facts["stage"].astype(str), value=stage_facts["share"]
    )
    cols = [
        "fact_id",
        "company_id",
        "factor",
        "value",
        "effective_from",
        "effective_to",
        "known_from",
        "description",
        "source_url",
        "source_date",
        "verified_on",
    ]
    parts = [f.reindex(columns=cols) for f in (facts, stage_rows) if len(f)]
    if not parts:
        return facts.reindex(columns=cols)
    return pd.concat(parts, ignore_index=True)


def review_facts(
    as_of: str | pd.Timestamp,
    rules: UniverseRules,
    market: Market,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    stage_facts: pd.DataFrame | None = None,
    shares: pd.DataFrame | None = None,
) -> FactsReview:
    """The research to-do list at ``as_of`` (see the module docstring); shipped data by default."""
    t = pd.Timestamp(as_of)
    cut = market.asof(t)
    # the shipped files where none are given, read once for the screens and the checks below
    inputs = UniverseInputs(cut, companies, facts, shares, stage_facts)
    companies, facts, stage_facts = inputs.companies, inputs.facts, inputs.stage_facts
    china = rules.china
    u = build_universe(t, rules, cut, inputs=inputs)
    eligible = u.loc[u["eligible"].astype(bool)]
    eligible_unknown = [
        {
            "company_id": r.company_id,
            "ticker": str(tk),
            "name": r["name"],
            "unknown_factors": [f for f in str(r.unknown_factors).split(";") if f],
        }
        for tk, r in eligible.iterrows()
        if r.unknown_factors
    ]
    stage_defaults = [
        {"company_id": r.company_id, "ticker": str(tk), "name": r["name"], "stages": r.stages}
        for tk, r in eligible.iterrows()
        if "most-downstream default" in str(r.data_notes)
    ]

    gone = companies["delisted_on"].notna() & (companies["delisted_on"] <= t)
    skip = set(companies.loc[gone, "company_id"]) | {c for c, _ in master_flags(companies)}
    every = _all_facts(facts, stage_facts)
    every = every.loc[~every["company_id"].isin(skip) & (every["known_from"] <= t)]
    open_ = every.loc[every["effective_to"].isna() | (every["effective_to"] > t)]
    cols = ["fact_id", "company_id", "factor", "value", "source_date", "verified_on"]

    checked = open_["verified_on"].where(open_["verified_on"].notna(), open_["source_date"])
    checked = checked.where(checked >= open_["source_date"], open_["source_date"])
    due_mask = np.zeros(len(open_), dtype=bool)
    if china.reverify_after_months is not None:
        check_age = (t - checked).dt.days / DAYS_PER_YEAR  # as the score counts it
        due_mask = (check_age > china.reverify_after_months / MONTHS_PER_YEAR).to_numpy()
    due = [
        {**_record(open_, int(i), cols), "last_check": str(checked.iloc[i].date())}
        for i in np.flatnonzero(due_mask)
    ]

    old_open: list[dict[str, Any]] = []
    if china.ownership_stale_after_years is not None:
        live = open_.loc[
            (open_["effective_from"] <= t)
            & open_["effective_to"].isna()
            & open_["factor"].isin(OPEN_ENDED_FACTORS)
        ]
        age = (t - live["source_date"]).dt.days / DAYS_PER_YEAR
        old = live.loc[age > china.ownership_stale_after_years]
        old_age = age.loc[old.index]
        old_open = [
            {**_record(old, i, cols), "source_age_years": round(float(old_age.iloc[i]), 2)}
            for i in range(len(old))
        ]

    later = []
    for i in range(len(every)):
        text = str(every["description"].iloc[i] or "")
        years = later_years(text, every["source_date"].iloc[i].year, t.year)
        if years:
            later.append({**_record(every, i, cols), "later_years": years, "description": text})

    return FactsReview(
        as_of=t,
        eligible_unknown=eligible_unknown,
        due=due,
        old_open_ended=old_open,
        later_events=later,
        stage_defaults=stage_defaults,
    )


def evidence_summary(universe: pd.DataFrame, n_factors: int = 6) -> dict[str, Any]:
    """Evidence behind the eligible names of a ``build_universe`` frame: how many there are,
    how many have all ``n_factors`` graded factors evidenced, that share, and the median and
    mean confidence (None when nothing is eligible)."""
    e = universe.loc[universe["eligible"].astype(bool)]
    full = int((e["evidenced_factors"] >= n_factors).sum())
    conf = e["confidence"].astype(float)
    return {
        "eligible": len(e),
        "fully_evidenced": full,
        "fully_evidenced_share": full / len(e) if len(e) else None,
        "median_confidence": float(conf.median()) if len(e) else None,
        "mean_confidence": float(conf.mean()) if len(e) else None,
    }
