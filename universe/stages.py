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
from typing import Any

import numpy as np
import pandas as pd

from exchina.universe.rules import STAGES

_RANK = {s: i for i, s in enumerate(STAGES)}
SHARE_SUM_TOLERANCE = 1e-9


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
    if total > 1.0 + SHARE_SUM_TOLERANCE:
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
    if stage_facts is None or date is None:
        return StageEvidence(companies).classify(None)
    return StageEvidence(companies, stage_facts).classify(pd.Timestamp(date))


def chain_entry(
    stage_facts: pd.DataFrame | None, company_ids: pd.Index, date: str | pd.Timestamp
) -> pd.Series:
    """Per company in ``company_ids``: the first entry date (``effective_from`` of its earliest
    ``entry`` row) when the company has entry rows but none known and in force at ``date``,
    else NaT (in the chain, or no entry evidence: the master's stages stand)."""
    master = pd.DataFrame({"company_id": company_ids, "stages": ""})
    first = StageEvidence(master, stage_facts, parse_master=False).entry(pd.Timestamp(date))
    return pd.Series(first.to_numpy(), index=company_ids, dtype="datetime64[ns]")


_RECORD = ["company_id", "stage", "basis", "share", "effective_from", "known_from", "fact_id"]


class StageEvidence:
    """A master's stages and its dated stage evidence, read once and asked at any date:
    ``classify(t)`` (``classify_stages``) and ``entry(t)`` (``chain_entry``). Each answer is
    worked out once per state of the evidence at ``t`` (which rows are known and started, which
    of those still in force), because it changes only when a stage fact's date passes and a
    backtest asks at every review. Answers are shared: do not modify them."""

    def __init__(
        self,
        companies: pd.DataFrame,
        stage_facts: pd.DataFrame | None = None,
        *,
        parse_master: bool = True,
    ) -> None:
        self.index = pd.Index(companies["company_id"], name="company_id")
        self._pos: dict[object, int] = {c: i for i, c in enumerate(self.index.tolist())}
        self.master = [_classify_one(text) for text in companies["stages"]] if parse_master else []
        sf = stage_facts if stage_facts is not None else pd.DataFrame(columns=_RECORD)
        cid = sf["company_id"].to_numpy(dtype=object)
        covered = np.isin(cid, self.index.to_numpy(dtype=object)) if len(sf) else np.zeros(0, bool)
        entry = sf["basis"].to_numpy(dtype=object) == "entry" if len(sf) else np.zeros(0, bool)
        self._cid = cid
        self._stage_rows = np.flatnonzero(covered & ~entry)
        self._entry_rows = np.flatnonzero(covered & entry)
        dates = {
            c: sf[c].to_numpy(dtype="datetime64[ns]") if len(sf) else np.zeros(0, "datetime64[ns]")
            for c in ("known_from", "effective_from", "effective_to")
        }
        self._known, self._start, self._end = (
            dates["known_from"],
            dates["effective_from"],
            dates["effective_to"],
        )
        # the records ``_from_evidence`` reads, as Python values (Timestamps for dates)
        self._records = (
            list(zip(*(sf[c].tolist() for c in _RECORD), strict=True)) if len(sf) else []
        )
        first: dict[object, np.datetime64] = {}
        for i in self._entry_rows.tolist():
            d = self._start[i]
            if np.isnat(d):
                continue
            if cid[i] not in first or d < first[cid[i]]:
                first[cid[i]] = d
        self._first_entry = first
        self._classes: dict[bytes, tuple[tuple[list[tuple], list[str], list[bool]], dict]] = {}
        self._entries: dict[bytes, pd.Series] = {}

    def _live(self, rows: np.ndarray, t: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
        """Of ``rows``: known and started at ``t``; of those, still in force."""
        t64 = t.as_unit("ns").to_datetime64()
        known = (self._known[rows] <= t64) & (self._start[rows] <= t64)
        end = self._end[rows]
        return known, known & (np.isnat(end) | (t64 < end))

    def classify(self, t: pd.Timestamp | None) -> pd.DataFrame:
        """``classify_stages`` at ``t`` (None: the master alone)."""
        rows, facts, defaults = self._at(t)[0]
        frame = pd.DataFrame(rows, columns=CLASS_COLUMNS[:-2], index=self.index)
        frame["stage_fact"] = facts
        frame["stage_default"] = defaults
        return frame

    def columns(self, t: pd.Timestamp | None) -> dict[str, np.ndarray]:
        """``classify(t)``'s columns as arrays (text as object arrays)."""
        return self._at(t)[1]

    def state(self, t: pd.Timestamp | None) -> bytes:
        """The state of the stage evidence at ``t`` (which rows are known, which in force):
        answers at two dates with one state are the same."""
        return self._state(t)[0]

    def _state(self, t: pd.Timestamp | None) -> tuple[bytes, np.ndarray, np.ndarray]:
        rows = self._stage_rows
        if t is None or rows.size == 0:
            none = np.zeros(0, dtype=bool)
            return b"", none, none
        known, live = self._live(rows, t)
        return np.packbits(known).tobytes() + np.packbits(live).tobytes(), known, live

    def _at(self, t: pd.Timestamp | None) -> tuple[tuple[list[tuple], list[str], list[bool]], dict]:
        rows = self._stage_rows
        key, known, live = self._state(t)
        if key not in self._classes:
            out, facts, defaults = self._classify(rows[known], rows[live])
            cols = list(zip(*out, strict=True)) if out else [()] * (len(CLASS_COLUMNS) - 2)
            arrays = {
                c: np.array(v, dtype=float if c in SHARE_COLUMNS else object)
                for c, v in zip(CLASS_COLUMNS[:-2], cols, strict=True)
            }
            arrays["stage_fact"] = np.array(facts, dtype=object)
            arrays["stage_default"] = np.array(defaults, dtype=bool)
            self._classes[key] = ((out, facts, defaults), arrays)
        return self._classes[key]

    def _classify(
        self, known: np.ndarray, live: np.ndarray
    ) -> tuple[list[tuple], list[str], list[bool]]:
        """(one row per company: stages, primary, basis, shares; stage_fact; stage_default)."""
        out = list(self.master)
        facts = [""] * len(out)
        defaults = [r[2] == DEFAULT_BASIS for r in out]
        for cid, (recs, last_known) in self._positions(known, live).items():
            i = self._pos[cid]
            stages, primary, basis, shares, fact = _from_evidence(recs, out[i][0].split(";"))
            if last_known:
                basis += LAST_KNOWN
            out[i] = (stages, primary, basis, *(shares.get(s, 0.0) for s in STAGES))
            facts[i], defaults[i] = fact, False
        return out, facts, defaults

    def _positions(
        self, known: np.ndarray, live: np.ndarray
    ) -> dict[object, tuple[list[tuple], bool]]:
        """Per company, the stage records forming its position (file order) and whether it is
        the last known one: the rows known and in force; for a company whose known rows have all
        ended, the rows with the latest ``effective_from``, because the end of a position is
        learnt from the source of the next one, and that source may not be public yet."""
        out: dict[object, tuple[list[tuple], bool]] = {}
        for i in live.tolist():
            out.setdefault(self._cid[i], ([], False))[0].append(self._records[i][1:])
        latest: dict[object, Any] = {}  # company -> its latest effective_from
        in_force = set(live.tolist())
        ended = [i for i in known.tolist() if self._cid[i] not in out and i not in in_force]
        for i in ended:
            c = self._cid[i]
            if c not in latest or self._start[i] > latest[c]:
                latest[c] = self._start[i]
        for i in ended:
            c = self._cid[i]
            if self._start[i] == latest[c]:
                out.setdefault(c, ([], True))[0].append(self._records[i][1:])
        return out

    def entry(self, t: pd.Timestamp) -> pd.Series:
        """``chain_entry`` at ``t``."""
        _, live = self._live(self._entry_rows, t)
        key = np.packbits(live).tobytes()
        if key not in self._entries:
            entered = set(self._cid[self._entry_rows[live]].tolist())
            first = np.array(
                [
                    self._first_entry.get(c, np.datetime64("NaT"))
                    if c not in entered
                    else np.datetime64("NaT")
                    for c in self.index.tolist()
                ],
                dtype="datetime64[ns]",
            )
            self._entries[key] = pd.Series(first, index=self.index, dtype="datetime64[ns]")
        return self._entries[key]


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
