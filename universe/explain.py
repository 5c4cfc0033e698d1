"""One company's China score at a date, fact by fact with sources (``explain``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchina.core.errors import InputError
from exchina.universe.facts import annotate_facts, fact_arrays
from exchina.universe.loaders import load_companies, load_facts
from exchina.universe.rules import BACKING_FACTOR, ChinaScoreRules
from exchina.universe.score import (
    _weights,
    flag_mask,
    graded_matrices,
    master_flags,
    score_companies,
)

TABLE_COLUMNS = [
    "fact_id",
    "factor",
    "value",
    "counterparty",
    "status",
    "in_force",
    "age_years",
    "multiplier",
    "role",
    "weight",
    "contribution",
    "source_title",
    "source_url",
    "evidence_grade",
]


@dataclass(frozen=True)
class Explanation:
    """The score of one company at one date and the facts behind it.

    ``table``: one row a fact known at the date (plus a row per unknown factor and per flag read
    from the master). ``role`` says how the row counts: ``hard flag``, ``sets factor`` (its
    ``contribution`` in score points), ``superseded`` (a larger fact sets that factor),
    ``unknown`` (policy value), ``allied backing`` (reported, never offsets), ``pending`` (not
    yet effective), ``no flag`` (a flag factor in force below its trigger) or ``ended flag``. The
    contributions sum to ``graded_score``, which is ``score`` unless a hard flag sets it to 100.
    """

    company_id: str
    ticker: str
    name: str
    date: pd.Timestamp
    score: float
    graded_score: float
    confidence: float
    flags: list[str]
    unknown_policy: str
    allied_backing_usd_m: float
    table: pd.DataFrame

    def to_markdown(self) -> str:
        """A readable report: header lines and the fact table with sources."""
        head = [
            f"# {self.name} ({self.ticker}) at {self.date.date()}",
            "",
            f"- China score: **{self.score:.1f}** / 100 (graded {self.graded_score:.1f}), "
            f"confidence {self.confidence:.2f}",
            f"- Hard flags: {', '.join(self.flags) if self.flags else 'none'}",
            f"- Unknown policy: {self.unknown_policy}",
            f"- Allied backing: USD {self.allied_backing_usd_m:,.0f}m (never offsets the score)",
            "",
        ]
        cols = ["factor", "value", "counterparty", "status", "multiplier", "role"]
        cols += ["contribution", "evidence_grade", "source_title", "source_url"]
        rows = [
            "| " + " | ".join(cols) + " |",
            "|" + "---|" * len(cols),
        ]
        for rec in self.table[cols].itertuples(index=False):
            cells = [_cell(v) for v in rec]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(head + rows) + "\n"


def _cell(v: object) -> str:
    if isinstance(v, float):
        return "" if np.isnan(v) else f"{v:.3g}"
    return str(v).replace("|", "/")


def resolve_company(companies: pd.DataFrame, key: str) -> pd.Series:
    """The master row for a company_id or ticker (case-insensitive); InputError if neither."""
    k = key.strip().lower()
    hit = companies.loc[
        (companies["company_id"].str.lower() == k) | (companies["ticker"].str.lower() == k)
    ]
    if hit.empty:
        raise InputError(f"no company with id or ticker '{key}' in the master", field="company")
    return hit.iloc[0]


def explain(
    company: str,
    date: str | pd.Timestamp,
    rules: ChinaScoreRules | None = None,
    *,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
) -> Explanation:
    """Break one company's score at ``date`` down fact by fact (shipped data by default)."""
    rules = rules or ChinaScoreRules()
    companies = load_companies() if companies is None else companies
    facts = load_facts(companies=companies) if facts is None else facts
    row = resolve_company(companies, company)
    cid = str(row["company_id"])
    t = pd.Timestamp(date)
    one = companies.loc[companies["company_id"] == cid]
    own = facts.loc[facts["company_id"] == cid]
    summary = score_companies(own, t, rules, companies=one).loc[cid].to_dict()

    ann = annotate_facts(own, t, rules)
    fa = fact_arrays(own, t, rules)
    factors, weights = _weights(rules)
    share = pd.Series(weights / weights.sum(), index=factors)
    setter_pos = graded_matrices(fa, pd.Index([cid]), factors)["setter"].ravel()
    is_setter = np.zeros(len(ann), dtype=bool)
    is_setter[setter_pos[setter_pos >= 0]] = True
    is_flag = flag_mask(fa, rules)
    weight = ann["graded_factor"].map(share).astype(float)
    contribution = np.where(is_setter, 100.0 * weight * ann["effective"], 0.0)
    role = np.select(
        [
            is_flag,
            ann["factor"].to_numpy() == BACKING_FACTOR,
            ann["status"].to_numpy() == "pending",
            is_setter,
            weight.notna().to_numpy(),
            ann["in_force"].to_numpy(),
        ],
        ["hard flag", "allied backing", "pending", "sets factor", "superseded", "no flag"],
        "ended flag",
    )
    table = ann.assign(weight=weight, contribution=contribution, role=role)

    extra = []
    for _, f in master_flags(one, fa):
        extra.append(
            {
                "factor": f,
                "status": "in_force",
                "in_force": True,
                "role": "hard flag",
                "source_title": "company master (companies.csv)",
                "evidence_grade": "A",
                "contribution": 0.0,
            }
        )
    fill = rules.unknown_value if rules.unknown_policy == "penalize" else 0.0
    for f in summary["unknown_factors"].split(";") if summary["unknown_factors"] else []:
        extra.append(
            {
                "factor": f,
                "status": "unknown",
                "in_force": False,
                "role": "unknown",
                "value": fill,
                "weight": share[f],
                "contribution": 100.0 * share[f] * fill,
                "source_title": f"no fact: unknown_policy {rules.unknown_policy}",
            }
        )
    if extra:
        table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    table = table.reindex(columns=TABLE_COLUMNS).reset_index(drop=True)
    return Explanation(
        company_id=cid,
        ticker=str(row["ticker"]),
        name=str(row["name"]),
        date=t,
        score=float(summary["china_score"]),
        graded_score=float(summary["graded_score"]),
        confidence=float(summary["confidence"]),
        flags=[f for f in summary["china_flags"].split(";") if f],
        unknown_policy=rules.unknown_policy,
        allied_backing_usd_m=float(summary["allied_backing_usd_m"]),
        table=table,
    )
