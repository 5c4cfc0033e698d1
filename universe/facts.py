"""Which exposure facts count at a date, and by how much.

Point in time: at date ``t`` only facts already public (``known_from <= t``) are seen. Of those, a
fact is *in force* when ``effective_from <= t`` and (``effective_to`` empty or ``t <
effective_to``); *ended* when ``effective_to <= t`` (it still counts, decaying with a half-life);
*pending* when it is known but not yet effective (shown, never counted).

Staleness is point in time too. A fact's *last check* at ``t`` is its ``verified_on`` when that
is on or before ``t``, else its ``source_date`` (a re-verification made after ``t`` was not known
at ``t``; the file keeps only the latest check). A fact whose last check is older than
``reverify_after_months`` counts as stale, and so does an open-ended ownership fact whose source is
older than ``ownership_stale_after_years`` however recently it was re-read: re-reading an old
filing says nothing about today's register.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchina.universe.rules import ChinaScoreRules

DAYS_PER_YEAR = 365.25
GRADE_QUALITY: dict[str, float] = {"A": 1.0, "B": 0.8, "C": 0.5}
# The state-linked holder's percent is also evidence of Chinese ownership (graded factor).
GRADED_AS: dict[str, str] = {"chinese_state_holder_pct": "chinese_ownership_pct"}
_PCT = ("chinese_ownership_pct", "chinese_state_holder_pct")
OWNERSHIP_FACTORS = (*_PCT, "chinese_largest_holder")
MONTHS_PER_YEAR = 12.0
_ONE_DAY = np.timedelta64(1, "D")


def facts_in_force(facts: pd.DataFrame, date: str | pd.Timestamp) -> pd.DataFrame:
    """The facts in force and known at ``date`` (a row subset of ``facts``)."""
    t = pd.Timestamp(date)
    mask = (
        (facts["known_from"] <= t)
        & (facts["effective_from"] <= t)
        & (facts["effective_to"].isna() | (t < facts["effective_to"]))
    )
    return facts.loc[mask]


@dataclass(frozen=True)
class FactColumns:
    """The columns of an exposure-facts frame the scorer reads, as numpy arrays (read once for
    a backtest's many dates), with each fact's graded factor and evidence quality."""

    known_from: np.ndarray
    effective_from: np.ndarray
    effective_to: np.ndarray
    source_date: np.ndarray
    verified_on: np.ndarray | None  # None: the file has no verified_on column
    company_id: np.ndarray
    factor: np.ndarray
    value: np.ndarray
    counterparty: np.ndarray
    graded_factor: np.ndarray
    quality: np.ndarray
    percent: np.ndarray  # the value is a percent (``_PCT``), scaled by ``ownership_full_scale_pct``
    ownership: np.ndarray  # an ownership factor (``OWNERSHIP_FACTORS``), stale with its source

    @classmethod
    def of(cls, facts: pd.DataFrame) -> FactColumns:
        factor = facts["factor"].to_numpy(dtype=object)
        grades = facts["evidence_grade"].to_numpy(dtype=object)
        return cls(
            known_from=facts["known_from"].to_numpy(),
            effective_from=facts["effective_from"].to_numpy(),
            effective_to=facts["effective_to"].to_numpy(),
            source_date=facts["source_date"].to_numpy(),
            verified_on=facts["verified_on"].to_numpy() if "verified_on" in facts else None,
            company_id=facts["company_id"].to_numpy(dtype=object),
            factor=factor,
            value=facts["value"].to_numpy(dtype=float),
            counterparty=facts["counterparty"].to_numpy(dtype=object),
            graded_factor=np.array([GRADED_AS.get(f, f) for f in factor], dtype=object),
            quality=np.array([GRADE_QUALITY[g] for g in grades], dtype=float),
            percent=np.isin(factor, _PCT),
            ownership=np.isin(factor, OWNERSHIP_FACTORS),
        )


def last_check(
    facts: pd.DataFrame | FactColumns, date: str | pd.Timestamp | np.datetime64
) -> np.ndarray:
    """Per fact, the last check known at ``date``: ``verified_on`` when it is on or before
    ``date``, else ``source_date`` (datetime64 array aligned with ``facts``)."""
    t = pd.Timestamp(date).as_unit("ns").to_datetime64()
    f = facts if isinstance(facts, FactColumns) else FactColumns.of(facts)
    source = f.source_date
    if f.verified_on is None:
        return source
    verified = f.verified_on
    seen = ~np.isnat(verified) & (verified <= t) & (verified > source)
    return np.where(seen, verified, source)


def fact_arrays(
    facts: pd.DataFrame | FactColumns, date: str | pd.Timestamp, rules: ChinaScoreRules
) -> dict[str, np.ndarray]:
    """Numpy columns for the facts known at ``date`` (see ``annotate_facts``), plus ``row``:
    their positions in ``facts``. The scorer's fast path; ``annotate_facts`` wraps it."""
    t = pd.Timestamp(date).as_unit("ns").to_datetime64()
    f = facts if isinstance(facts, FactColumns) else FactColumns.of(facts)
    known = f.known_from <= t
    row = np.flatnonzero(known)
    start = f.effective_from[row]
    end = f.effective_to[row]
    started = start <= t
    ended = ~np.isnat(end) & (end <= t) & started
    years_ended = np.where(ended, np.subtract(t, end) / _ONE_DAY / DAYS_PER_YEAR, 0.0)
    decay = np.where(ended, 0.5 ** (years_ended / rules.ended_half_life_years), 1.0)
    source = f.source_date[row]
    # np.subtract: the stubs misread t - array
    age = np.subtract(t, source) / _ONE_DAY / DAYS_PER_YEAR
    checked = last_check(f, t)[row]
    check_age = np.subtract(t, checked) / _ONE_DAY / DAYS_PER_YEAR
    factor = f.factor[row]
    stale = np.zeros(len(row), dtype=bool)
    if rules.reverify_after_months is not None:
        stale |= check_age > rules.reverify_after_months / MONTHS_PER_YEAR
    if rules.ownership_stale_after_years is not None:
        open_ended = np.isnat(end) | (end > t)
        own = f.ownership[row] & open_ended
        stale |= own & (age > rules.ownership_stale_after_years)
    multiplier = np.where(started, decay * np.where(stale, rules.stale_discount, 1.0), 0.0)
    value = f.value[row]
    scaled = np.where(
        f.percent[row],
        np.minimum(value / rules.ownership_full_scale_pct, 1.0),
        np.clip(value, 0.0, 1.0),
    )
    status = np.select([~started, ended], ["pending", "ended"], "in_force").astype(object)
    return {
        "row": row,
        "company_id": f.company_id[row],
        "factor": factor,
        "value": value,
        "counterparty": f.counterparty[row],
        "status": status,
        "in_force": status == "in_force",
        "age_years": age,
        "check_age_years": check_age,
        "years_ended": years_ended,
        "decay": decay,
        "stale": stale,
        "multiplier": multiplier,
        "scaled": scaled,
        "effective": scaled * multiplier,
        "graded_factor": f.graded_factor[row],
        "quality": f.quality[row],
    }


def annotate_facts(
    facts: pd.DataFrame, date: str | pd.Timestamp, rules: ChinaScoreRules
) -> pd.DataFrame:
    """Facts known at ``date`` with how much each counts.

    Adds ``status`` (in_force | ended | pending), ``in_force``, ``age_years`` (since
    ``source_date``; negative if the source postdates ``date``), ``years_ended``, ``decay``
    (``0.5 ** (years_ended / ended_half_life_years)`` for ended facts, else 1), ``stale``
    (source older than ``stale_after_years``), ``multiplier`` (decay x stale discount; 0 when
    pending), ``scaled`` (value mapped to [0, 1]: percents / ``ownership_full_scale_pct`` capped at
    1, shares as is, flags 1/0), ``effective`` (scaled x multiplier), ``graded_factor`` and
    ``quality`` (evidence grade A=1, B=0.8, C=0.5).
    """
    arrays = fact_arrays(facts, date, rules)
    row = arrays.pop("row")
    for col in ("company_id", "factor", "value", "counterparty"):
        arrays.pop(col)
    return facts.iloc[row].assign(**arrays)
