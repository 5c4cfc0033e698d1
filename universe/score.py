"""The Chinese-exposure score (0-100) with a confidence figure, from dated facts.

* Hard flags (in force at ``t``): Chinese domicile or primary listing (from a fact, or from the
  master: country CN/HK/MO, ticker on Shanghai, Shenzhen, Beijing or Hong Kong, unless a dated
  fact of that factor exists), a Chinese
  state-linked holder at or above ``state_holder_threshold_pct``, a Chinese largest holder (when
  ``largest_holder_flag``). A flagged company scores 100. An ownership flag lapses when its
  source is older than ``flag_stale_after_years`` (5) at ``t``: an old filing is weak evidence of
  today's register, so the fact then counts as graded ownership only, with the stale discount.
* Graded: for each weighted factor, the largest ``effective`` value over its facts (in force or
  ended; see ``annotate_facts``); ``chinese_state_holder_pct`` facts also count as
  ``chinese_ownership_pct``. ``graded_score = 100 x sum(w x v) / sum(w)``.
* ``evidenced_factors``: how many weighted factors have a counted fact (6 when all are known).
* Unknown (a weighted factor with no fact): ``penalize`` counts it as ``unknown_value``;
  ``neutral`` and ``exclude`` count it as 0 (``exclude`` makes the company ineligible in
  ``build_universe``). Never silently zero: the factor is listed in ``unknown_factors``.
* Confidence = ``sum(w x k x q) / sum(w)``: ``k`` the factor's largest fact multiplier (1 for a
  current fact, less for an ended or stale one, 0 when unknown), ``q`` the evidence quality of the
  fact that set the value. Equivalently coverage x weight-averaged quality. A flagged company's
  confidence is the best quality among its flag facts (1 for flags read from the master).
* Allied backing (``allied_backing`` facts in force): summed USD millions and the backers. It is
  reported to rank with, never subtracted from the score.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from exchina.universe.facts import FactColumns, fact_arrays
from exchina.universe.rules import BACKING_FACTOR, ChinaScoreRules

CHINA_COUNTRIES = frozenset({"CN", "HK", "MO"})
CHINA_TICKER_SUFFIXES = (".SS", ".SZ", ".BJ", ".HK")
MASTER_FLAG_FACTORS = ("domicile_china", "primary_listing_china")
SCORE_COLUMNS = [
    "china_score",
    "graded_score",
    "confidence",
    "china_flags",
    "unknown_factors",
    "evidenced_factors",
    "allied_backing_usd_m",
    "allied_backers",
]


def flag_mask(fa: Mapping[str, np.ndarray], rules: ChinaScoreRules) -> np.ndarray:
    """Which facts (``fact_arrays`` or ``annotate_facts`` columns) raise a hard flag: in force
    only."""
    factor = np.asarray(fa["factor"], dtype=object)
    value = np.asarray(fa["value"], dtype=float)
    age = np.asarray(fa["age_years"], dtype=float)
    lapse = rules.flag_stale_after_years
    fresh = np.ones(len(age), dtype=bool) if lapse is None else age <= lapse
    ownership = (factor == "chinese_state_holder_pct") & (
        value >= rules.state_holder_threshold_pct
    ) | (factor == "chinese_largest_holder") & (value == 1.0) & rules.largest_holder_flag
    flag = np.isin(factor, MASTER_FLAG_FACTORS) & (value == 1.0) | ownership & fresh
    return flag & np.asarray(fa["in_force"], dtype=bool)


def master_flags(
    companies: pd.DataFrame, fa: Mapping[str, np.ndarray] | None = None
) -> list[tuple[str, str]]:
    """Hard flags read from the company master: (company_id, factor) pairs.

    The master is undated, so a dated fact of the same factor (in force or ended at the date,
    in ``fa``) takes precedence: a company that moved its domicile is flagged only while its
    ``domicile_china`` fact says so.
    """
    return _undated(_master_pairs(companies), fa)


def _master_pairs(companies: pd.DataFrame) -> list[tuple[str, str]]:
    """The master's flags before dated facts are considered."""
    ids = companies["company_id"].to_numpy(dtype=object)
    dom = companies["country"].isin(CHINA_COUNTRIES).to_numpy()
    lst = companies["ticker"].str.upper().str.endswith(CHINA_TICKER_SUFFIXES).to_numpy()
    pairs = [(c, "domicile_china") for c in ids[dom]]
    return pairs + [(c, "primary_listing_china") for c in ids[lst]]


def _undated(
    pairs: list[tuple[str, str]], fa: Mapping[str, np.ndarray] | None
) -> list[tuple[str, str]]:
    """``pairs`` without those a counted dated fact of the same factor speaks for."""
    if fa is not None and pairs:
        counted = np.asarray(fa["status"], dtype=object) != "pending"
        dated = set(
            zip(
                np.asarray(fa["company_id"])[counted],
                np.asarray(fa["factor"])[counted],
                strict=True,
            )
        )
        pairs = [p for p in pairs if p not in dated]
    return pairs


def _weights(rules: ChinaScoreRules) -> tuple[pd.Index, np.ndarray]:
    """The weighted graded factors and their weights (zero weights left out)."""
    weighted = [(f, float(v)) for f, v in rules.weights.items() if float(v) > 0]
    return pd.Index([f for f, _ in weighted], dtype=object), np.array([v for _, v in weighted])


def graded_matrices(
    fa: Mapping[str, np.ndarray], ids: pd.Index, factors: pd.Index
) -> dict[str, np.ndarray]:
    """Companies x weighted factors: ``value`` (largest effective value; NaN = unknown), ``k``
    (largest multiplier), ``q`` (quality of the fact that set the value) and ``setter`` (its
    position in ``fa``; -1 = none)."""
    ci = ids.get_indexer(pd.Index(fa["company_id"]))
    fi = factors.get_indexer(pd.Index(fa["graded_factor"]))
    return _graded(fa, ci, fi, (len(ids), len(factors)))


def _graded(
    fa: Mapping[str, np.ndarray], ci: np.ndarray, fi: np.ndarray, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """``graded_matrices`` with each fact's company row ``ci`` and factor column ``fi`` given
    (-1 = not scored)."""
    n, m = shape
    sel = np.flatnonzero((fa["status"] != "pending") & (ci >= 0) & (fi >= 0))
    out = {
        "value": np.full((n, m), np.nan),
        "k": np.zeros((n, m)),
        "q": np.zeros((n, m)),
        "setter": np.full((n, m), -1),
    }
    if sel.size == 0:
        return out
    eff, mult, qual = fa["effective"][sel], fa["multiplier"][sel], fa["quality"][sel]
    order = sel[np.lexsort((-qual, -mult, -eff))]  # best first
    key = ci[order] * m + fi[order]
    _, first = np.unique(key, return_index=True)
    best = order[first]
    out["value"][ci[best], fi[best]] = fa["effective"][best]
    out["q"][ci[best], fi[best]] = fa["quality"][best]
    out["setter"][ci[best], fi[best]] = best
    np.maximum.at(out["k"], (ci[sel], fi[sel]), fa["multiplier"][sel])
    return out


def score_companies(
    facts: pd.DataFrame,
    date: str | pd.Timestamp,
    rules: ChinaScoreRules | None = None,
    companies: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every company at ``date`` (see the module docstring for the method).

    Indexed by ``company_id``: the companies in ``companies`` when given (also the source of
    master flags), else those with facts. Columns: ``SCORE_COLUMNS``.
    """
    return Scorer(facts, companies).score(date, rules)


class Scorer:
    """``score_companies`` for one set of facts and master at many dates: the facts' columns
    and the master's flags are read once."""

    def __init__(self, facts: pd.DataFrame, companies: pd.DataFrame | None = None) -> None:
        self.facts = FactColumns.of(facts)
        self.master: list[tuple[str, str]] | None = None
        if companies is not None:
            self.ids = pd.Index(companies["company_id"], name="company_id")
            self.master = _master_pairs(companies)
        else:
            self.ids = pd.Index(pd.unique(facts["company_id"]), name="company_id")
        self.pos = {c: i for i, c in enumerate(self.ids)}
        # each fact's company row and graded factor, looked up once for every date
        self.company_row = self.ids.get_indexer(pd.Index(self.facts.company_id))
        self.graded_names, self.graded_code = np.unique(
            self.facts.graded_factor.astype(str), return_inverse=True
        )
        self._by_weights: dict[tuple, tuple[pd.Index, np.ndarray, np.ndarray]] = {}

    def _factors(self, rules: ChinaScoreRules) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """``_weights(rules)`` and each graded factor name's column among them (-1 = not
        weighted), worked out once per set of weights."""
        key = tuple(rules.weights.items())
        if key not in self._by_weights:
            factors, wv = _weights(rules)
            column = {f: j for j, f in enumerate(factors.tolist())}
            names = self.graded_names.tolist()
            self._by_weights[key] = (
                factors,
                wv,
                np.array([column.get(g, -1) for g in names], dtype=int),
            )
        return self._by_weights[key]

    def score(self, date: str | pd.Timestamp, rules: ChinaScoreRules | None = None) -> pd.DataFrame:
        """Every company's score at ``date`` (``score_companies``)."""
        a = self.arrays(date, rules or ChinaScoreRules())
        strings = ("china_flags", "unknown_factors", "allied_backers")
        return pd.DataFrame(
            {c: pd.array(a[c], dtype="str") if c in strings else a[c] for c in SCORE_COLUMNS},
            index=self.ids,
        )

    def arrays(self, date: str | pd.Timestamp, rules: ChinaScoreRules) -> dict[str, np.ndarray]:
        """``score``'s columns as arrays in ``ids`` order (text columns as object arrays)."""
        fa = fact_arrays(self.facts, date, rules)
        ids, pos = self.ids, self.pos
        factors, wv, factor_column = self._factors(rules)
        ci = self.company_row[fa["row"]]
        fi = factor_column[self.graded_code[fa["row"]]]
        g = _graded(fa, ci, fi, (len(ids), len(factors)))
        unknown = np.isnan(g["value"])
        fill = rules.unknown_value if rules.unknown_policy == "penalize" else 0.0
        graded_score = 100.0 * (np.where(unknown, fill, g["value"]) @ wv) / wv.sum()
        confidence = ((g["k"] * g["q"]) @ wv) / wv.sum()
        names = factors.to_numpy(dtype=object)
        # one text per pattern of unknown factors (few patterns, many companies)
        codes = unknown.astype(np.int64) @ (np.int64(1) << np.arange(len(names), dtype=np.int64))
        texts = {
            int(c): ";".join(names[unknown[i]])
            for c, i in zip(*np.unique(codes, return_index=True), strict=True)
        }
        unknown_factors = np.array([texts[c] for c in codes.tolist()], dtype=object)
        evidenced = (~unknown).sum(axis=1).astype("int64")

        flags: dict[int, dict[str, float]] = {}
        hit = np.flatnonzero(flag_mask(fa, rules))
        for c, f, q in zip(
            fa["company_id"][hit], fa["factor"][hit], fa["quality"][hit], strict=True
        ):
            if c in pos:
                d = flags.setdefault(pos[c], {})
                d[f] = max(d.get(f, 0.0), q)
        if self.master is not None:
            for c, f in _undated(self.master, fa):
                flags.setdefault(pos[c], {})[f] = 1.0
        flag_text = np.full(len(ids), "", dtype=object)
        conf_out = confidence.copy()
        score = graded_score.copy()
        for i, d in flags.items():
            flag_text[i] = ";".join(sorted(d))
            conf_out[i] = max(d.values())
            score[i] = 100.0

        backed = np.zeros(len(ids))
        backers: dict[int, set[str]] = {}
        bi = np.flatnonzero((fa["factor"] == BACKING_FACTOR) & fa["in_force"])
        keep = ci[bi] >= 0
        np.add.at(backed, ci[bi][keep], fa["value"][bi][keep])
        for i, who in zip(ci[bi][keep], fa["counterparty"][bi][keep], strict=True):
            backers.setdefault(int(i), set()).add(str(who))
        backer_text = np.full(len(ids), "", dtype=object)
        for i, names_set in backers.items():
            backer_text[i] = ";".join(sorted(names_set))

        return {
            "china_score": score,
            "graded_score": graded_score,
            "confidence": conf_out,
            "china_flags": flag_text,
            "unknown_factors": unknown_factors,
            "evidenced_factors": evidenced,
            "allied_backing_usd_m": backed,
            "allied_backers": backer_text,
        }
