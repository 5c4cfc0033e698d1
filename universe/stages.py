"""Supply-chain stages of a company: all the stages it is in, and one primary stage.

The master lists stages upstream to downstream with optional revenue shares, e.g.
``mining:0.7;separation_refining:0.3;metal_alloy;magnet``. The primary stage is the stage with
the largest known revenue share; when shares tie, or no share is known, it is the most
downstream of the candidates in the fixed order ``STAGES`` (mining -> separation_refining ->
metal_alloy -> magnet -> recycling), because downstream capacity is the scarce ex-China
capability a company is usually built around and named for.

Dated stage evidence (``stage_facts.csv``, see ``loaders.load_stage_facts``) overrides the
master at a date ``t`` for the companies it covers, point in time: rows known and in force at
``t`` form the company's position (when all its known rows have ended, the last known position
stands until the source of the next one is public). An explicit ``primary`` row sets the primary stage; else the
largest revenue share, else the largest capacity share. The most-downstream rule then remains only
as the last resort for a company listed in several stages with no shares and no evidence, and
``stage_default`` says so.

A company can enter the chain late (a coal miner that finds rare earths, a trading house that
starts selling magnets). ``entry`` rows in ``stage_facts.csv`` date that first activity; a company
that has them is outside the chain at ``t`` until one is known and in force (``chain_entry``), so
the master's present-day stages are not read back into years before the company had any.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd

from exchina.universe.rules import STAGES

_RANK = {s: i for i, s in enumerate(STAGES)}
_SHARE_SUM_TOLERANCE = 1e-9


def parse_stages(text: str) -> dict[str, float]:
    """``"mining:0.7;magnet"`` -> ``{"mining": 0.7, "magnet": nan}``; ValueError says what is wrong.

    Checks: non-empty, stages in the fixed vocabulary, no repeats, shares in [0, 1], sum <= 1.
    """
    parts = [p.strip() for p in str(text).split(";") if p.strip()]
    if not parts:
        raise ValueError(f"expected at least one stage from {list(STAGES)}")
    out: dict[str, float] = {}
    for part in parts:
        name, sep, share_text = part.partition(":")
        name = name.strip()
        if name not in _RANK:
            raise ValueError(f"unknown stage '{name}'; expected one of {list(STAGES)}")
        if name in out:
            raise ValueError(f"stage '{name}' listed twice")
        share = math.nan
        if sep:
            try:
                share = float(share_text)
            except ValueError:
                raise ValueError(
                    f"revenue share of '{name}' must be a number in [0, 1], got '{share_text}'"
                ) from None
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"revenue share of '{name}' must be in [0, 1], got {share:g}")
        out[name] = share
    total = sum(v for v in out.values() if not math.isnan(v))
    if total > 1.0 + _SHARE_SUM_TOLERANCE:
        raise ValueError(f"revenue shares sum to {total:g}, must be <= 1")
    return out


def primary_stage(shares: dict[str, float]) -> tuple[str, str]:
    """(primary stage, the rule that chose it) for one parsed stage mapping."""
    known = {s: v for s, v in shares.items() if not math.isnan(v)}
    if known:
        top = max(known.values())
        tied = [s for s, v in known.items() if v == top]
        basis = "largest revenue share" if len(tied) == 1 else "tied shares: most downstream"
        return max(tied, key=_RANK.__getitem__), basis
    if len(shares) == 1:
        return next(iter(shares)), "single stage"
    return max(shares, key=_RANK.__getitem__), DEFAULT_BASIS


SHARE_COLUMNS = [f"share_{s}" for s in STAGES]
CLASS_COLUMNS = [
    "stages",
    "primary_stage",
    "primary_basis",
    *SHARE_COLUMNS,
    "stage_fact",
    "stage_default",
]
DEFAULT_BASIS = "no shares: most downstream"
LAST_KNOWN = " (last known position; its end is known, its successor not yet)"


def classify_stages(
    companies: pd.DataFrame,
    stage_facts: pd.DataFrame | None = None,
    date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per company: ``stages`` (names ``;``-joined, upstream first), ``primary_stage``,
    ``primary_basis``, one ``share_<stage>`` column per stage (NaN = listed, share unknown;
    0 = not listed), ``stage_fact`` (the fact_id that set the primary stage; '' = the master) and
    ``stage_default`` (True when only the most-downstream default chose it). Indexed by
    ``company_id``. With ``stage_facts`` and ``date``, evidence in force at ``date`` overrides
    the master (see the module docstring)."""
    rows = [_classify_one(text) for text in companies["stages"]]
    index = pd.Index(companies["company_id"], name="company_id")
    facts = [""] * len(rows)
    defaults = [r[2] == DEFAULT_BASIS for r in rows]
    if stage_facts is not None and date is not None and not stage_facts.empty:
        live = _positions(stage_facts, index, pd.Timestamp(date))
        # plain Python per company (a backtest classifies at every rebalance; row-wise pandas
        # writes were half its time): the same rules, the same result
        position: dict[object, int] = {cid: i for i, cid in enumerate(index.tolist())}
        cols = ["company_id", "stage", "basis", "share", "effective_from", "known_from", "fact_id"]
        by_company: dict[object, list[tuple]] = {}
        last_known: dict[object, bool] = {}
        for rec, last in zip(
            zip(*(live[c].tolist() for c in cols), strict=True),
            live["last_known"].tolist(),
            strict=True,
        ):
            by_company.setdefault(rec[0], []).append(rec[1:])
            last_known[rec[0]] = last_known.get(rec[0], True) and bool(last)
        for cid, recs in by_company.items():
            i = position[cid]
            stages, primary, basis, shares, fact = _from_evidence(recs, rows[i][0].split(";"))
            if last_known[cid]:
                basis += LAST_KNOWN
            rows[i] = (stages, primary, basis, *(shares.get(s, 0.0) for s in STAGES))
            facts[i], defaults[i] = fact, False
    out = pd.DataFrame(rows, columns=CLASS_COLUMNS[:-2], index=index)
    out["stage_fact"] = facts
    out["stage_default"] = defaults
    return out


def _positions(stage_facts: pd.DataFrame, index: pd.Index, t: pd.Timestamp) -> pd.DataFrame:
    """Stage rows forming each company's position at ``t``: those known and in force; for a
    company whose known rows have all ended, its last known position (the rows with the latest
    ``effective_from``), because the end of a position is learnt from the source of the next one,
    and that source may not be public yet at ``t``."""
    known = stage_facts.loc[
        (stage_facts["basis"] != "entry")
        & (stage_facts["known_from"] <= t)
        & (stage_facts["effective_from"] <= t)
        & stage_facts["company_id"].isin(index)
    ]
    in_force = known["effective_to"].isna() | (t < known["effective_to"])
    live = known.loc[in_force].assign(last_known=False)
    ended = known.loc[~in_force & ~known["company_id"].isin(live["company_id"])]
    if ended.empty:
        return live
    last = ended.groupby("company_id")["effective_from"].transform("max")
    return pd.concat([live, ended.loc[ended["effective_from"] == last].assign(last_known=True)])


def _from_evidence(
    rows: list[tuple], listed: list[str]
) -> tuple[str, str, str, dict[str, float], str]:
    """One company's position from its stage facts in force, as (stage, basis, share,
    effective_from, known_from, fact_id) records in file order: (stages text, primary, basis,
    share per stage (NaN = listed, unknown), fact_id that set the primary)."""
    names = set(listed) | {r[0] for r in rows}
    stages = ";".join(sorted(names, key=_RANK.__getitem__))
    shares = {s: math.nan for s in names}
    with_share: list[tuple] = []
    for basis in ("revenue", "capacity"):
        with_share = [r for r in rows if r[1] == basis]
        if with_share:
            shares.update((r[0], float(r[2])) for r in with_share)
            break
    explicit = [r for r in rows if r[1] == "primary"]
    if explicit:
        top = sorted(explicit, key=lambda r: (r[3], r[4]))[-1]  # stable: the last listed wins
        return stages, str(top[0]), "stage evidence: primary", shares, str(top[5])
    basis = with_share[0][1]
    top_share = max(float(r[2]) for r in with_share if not math.isnan(float(r[2])))
    tied = [r for r in with_share if float(r[2]) == top_share]
    pick = max(range(len(tied)), key=lambda i: _RANK[tied[i][0]])
    text = f"stage evidence: largest {basis} share"
    if len(tied) > 1:
        text += " (tie: most downstream)"
    return stages, str(tied[pick][0]), text, shares, str(tied[pick][5])


@lru_cache(maxsize=4096)
def _classify_one(text: str) -> tuple:
    """One master ``stages`` cell -> (stages, primary, basis, share per stage); cached because
    a backtest classifies the same master at every rebalance."""
    parsed = parse_stages(text)
    primary, basis = primary_stage(parsed)
    names = ";".join(sorted(parsed, key=_RANK.__getitem__))
    return (names, primary, basis, *(parsed.get(s, 0.0) for s in STAGES))


def chain_entry(
    stage_facts: pd.DataFrame | None, company_ids: pd.Index, date: str | pd.Timestamp
) -> pd.Series:
    """Per company in ``company_ids``: the first entry date (``effective_from`` of its earliest
    ``entry`` row) when the company has entry rows but none known and in force at ``date``,
    else NaT (in the chain, or no entry evidence: the master's stages stand)."""
    out = pd.Series(pd.NaT, index=company_ids, dtype="datetime64[ns]")
    if stage_facts is None or stage_facts.empty:
        return out
    entries = stage_facts.loc[
        (stage_facts["basis"] == "entry") & stage_facts["company_id"].isin(company_ids)
    ]
    if entries.empty:
        return out
    t = pd.Timestamp(date)
    live = (entries["known_from"] <= t) & (entries["effective_from"] <= t)
    live &= entries["effective_to"].isna() | (t < entries["effective_to"])
    entered = set(entries.loc[live, "company_id"])
    first = entries.groupby("company_id")["effective_from"].min()
    outside = first.loc[~first.index.isin(list(entered))]
    out.loc[outside.index] = outside.to_numpy()
    return out
