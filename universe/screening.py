"""One class per eligibility screen, and their registry.

A screen sees every company at one date (``Candidates``: arrays aligned with the master) and the
rules, and says which companies fail it (``failing``), why, in words (``reason``: the text the
universe's ``reasons`` column joins with ``;``) and under which heading a report counts the
failure (``key``: the reason without its figures). ``SCREENS`` lists them in the order the
reasons are given; ``build_universe`` applies them all and keeps every failure as a row of a
long table (ticker, screen, key, reason), so nothing downstream parses text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from exchina.universe.rules import UniverseRules

FAILURE_COLUMNS = ["ticker", "screen", "key", "reason"]


def _commas(text: object) -> str:
    """Inner lists use ', ' so that ';' only separates reasons."""
    return str(text).replace(";", ", ")


@dataclass(frozen=True)
class Candidates:
    """Every company of the master at one date, as arrays in master order."""

    rules: UniverseRules
    status: np.ndarray
    gone: np.ndarray  # delisted on or before the date
    status_unknown: np.ndarray  # delisted later; the master keeps only the last status
    delisted_text: np.ndarray
    not_listed: np.ndarray
    listed_text: np.ndarray
    entry_text: np.ndarray  # first chain entry ('' = in the chain)
    stages: np.ndarray  # ';'-joined, upstream first
    primary: np.ndarray
    commodities: np.ndarray
    commodity_sets: list[frozenset[str]]
    china: np.ndarray
    china_max: np.ndarray  # entry maximum, or the members' buffer
    flags: np.ndarray  # ';'-joined hard flags ('' = none)
    confidence: np.ndarray
    unknown: np.ndarray  # ';'-joined unknown factors
    priced: np.ndarray  # has a price history
    history_days: np.ndarray
    float_mcap: np.ndarray
    mcap_min: np.ndarray
    adtv: np.ndarray
    adtv_min: np.ndarray

    @property
    def has_flag(self) -> np.ndarray:
        return (self.flags != "") & self.rules.exclude_china_flags


class Screen:
    """A screen: ``failing`` (mask over companies), ``reason`` and ``key`` of company ``i``."""

    name: ClassVar[str]
    label: ClassVar[str] = ""  # the key of every failure, unless ``key`` is overridden
    size: ClassVar[bool] = False  # size, liquidity or history: a top-up may admit its failures
    keyed_by_reason: ClassVar[bool] = False  # the key of a failure is its reason

    def failing(self, c: Candidates) -> np.ndarray:
        raise NotImplementedError

    def reason(self, c: Candidates, i: int) -> str:
        raise NotImplementedError

    def key(self, c: Candidates, i: int) -> str:
        return self.reason(c, i) if self.keyed_by_reason else self.label


class Delisted(Screen):
    name, label = "delisted", "delisted on"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.gone

    def reason(self, c: Candidates, i: int) -> str:
        return f"delisted on {c.delisted_text[i]}"


class StatusUnknown(Screen):
    name, label = "status_unknown", "status before delisting on"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.status_unknown

    def reason(self, c: Candidates, i: int) -> str:
        return f"status before delisting on {c.delisted_text[i]} unknown"


class Status(Screen):
    name = "status"

    def failing(self, c: Candidates) -> np.ndarray:
        return ~c.gone & ~c.status_unknown & ~np.isin(c.status, c.rules.statuses)

    def reason(self, c: Candidates, i: int) -> str:
        return f"status {c.status[i]} not in [{', '.join(c.rules.statuses)}]"

    keyed_by_reason = True


class NotListed(Screen):
    name, label = "not_listed", "not listed until"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.not_listed

    def reason(self, c: Candidates, i: int) -> str:
        return f"not listed until {c.listed_text[i]}"


class ChainEntry(Screen):
    name, label = "chain_entry", "not in the chain before"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.entry_text != ""

    def reason(self, c: Candidates, i: int) -> str:
        return f"not in the chain before {c.entry_text[i]} (stage evidence: entry)"


class Stage(Screen):
    name = "stage"

    def failing(self, c: Candidates) -> np.ndarray:
        if c.rules.stage_match == "primary":
            return ~np.isin(c.primary, c.rules.stages)
        wanted = set(c.rules.stages)
        return np.array([not (set(s.split(";")) & wanted) for s in c.stages], dtype=bool)

    def reason(self, c: Candidates, i: int) -> str:
        allowed = ", ".join(c.rules.stages)
        if c.rules.stage_match == "primary":
            return f"primary stage {c.primary[i]} not in [{allowed}]"
        return f"stages {_commas(c.stages[i])} not in [{allowed}]"

    keyed_by_reason = True


class Commodity(Screen):
    name = "commodity"

    def failing(self, c: Candidates) -> np.ndarray:
        if not c.rules.commodities:
            return np.zeros(len(c.status), dtype=bool)
        wanted = set(c.rules.commodities)
        return np.array([not (s & wanted) for s in c.commodity_sets], dtype=bool)

    def reason(self, c: Candidates, i: int) -> str:
        allowed = ", ".join(c.rules.commodities)
        return f"commodities {_commas(c.commodities[i])} not in [{allowed}]"

    keyed_by_reason = True


class ChinaFlags(Screen):
    name = "china_flags"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.has_flag

    def reason(self, c: Candidates, i: int) -> str:
        return f"china flags: {_commas(c.flags[i])}"

    keyed_by_reason = True


class ChinaScore(Screen):
    name, label = "china_score", "china_score"

    def failing(self, c: Candidates) -> np.ndarray:
        return ~c.has_flag & (c.china > c.china_max)

    def reason(self, c: Candidates, i: int) -> str:
        return f"china_score {c.china[i]:.1f} > {c.china_max[i]:g}"


class Confidence(Screen):
    name, label = "confidence", "confidence"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.confidence < c.rules.min_confidence

    def reason(self, c: Candidates, i: int) -> str:
        return f"confidence {c.confidence[i]:.2f} < {c.rules.min_confidence:g}"


class UnknownFactors(Screen):
    name = "unknown_factors"

    def failing(self, c: Candidates) -> np.ndarray:
        return (c.rules.china.unknown_policy == "exclude") & (c.unknown != "")

    def reason(self, c: Candidates, i: int) -> str:
        return f"unknown factors {_commas(c.unknown[i])} (unknown_policy exclude)"

    def key(self, c: Candidates, i: int) -> str:
        return f"unknown factors {_commas(c.unknown[i])}"


class PriceHistory(Screen):
    name, label = "price_history", "no price history"

    def failing(self, c: Candidates) -> np.ndarray:
        return ~c.priced

    def reason(self, c: Candidates, i: int) -> str:
        return "no price history"


class HistoryDays(Screen):
    name, label, size = "history_days", "history_days", True

    def failing(self, c: Candidates) -> np.ndarray:
        return c.priced & (c.history_days < c.rules.min_history_days)

    def reason(self, c: Candidates, i: int) -> str:
        return f"history_days {c.history_days[i]:.0f} < {c.rules.min_history_days}"


class MarketCapUnknown(Screen):
    name, label = "float_mcap_unknown", "float_mcap_usd unknown"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.priced & np.isnan(c.float_mcap)

    def reason(self, c: Candidates, i: int) -> str:
        return "float_mcap_usd unknown (no shares outstanding)"


class MarketCap(Screen):
    name, label, size = "float_mcap", "float_mcap_usd", True

    def failing(self, c: Candidates) -> np.ndarray:
        return c.priced & (c.float_mcap < c.mcap_min)

    def reason(self, c: Candidates, i: int) -> str:
        return f"float_mcap_usd {c.float_mcap[i]:.0f} < {c.mcap_min[i]:.0f}"


class LiquidityUnknown(Screen):
    name, label = "adtv_unknown", "adtv_usd unknown"

    def failing(self, c: Candidates) -> np.ndarray:
        return c.priced & np.isnan(c.adtv)

    def reason(self, c: Candidates, i: int) -> str:
        return "adtv_usd unknown (no volume)"


class Liquidity(Screen):
    name, label, size = "adtv", "adtv_usd", True

    def failing(self, c: Candidates) -> np.ndarray:
        return c.priced & (c.adtv < c.adtv_min)

    def reason(self, c: Candidates, i: int) -> str:
        return f"adtv_usd {c.adtv[i]:.0f} < {c.adtv_min[i]:.0f}"


SCREENS: tuple[Screen, ...] = (
    Delisted(),
    StatusUnknown(),
    Status(),
    NotListed(),
    ChainEntry(),
    Stage(),
    Commodity(),
    ChinaFlags(),
    ChinaScore(),
    Confidence(),
    UnknownFactors(),
    PriceHistory(),
    HistoryDays(),
    MarketCapUnknown(),
    MarketCap(),
    LiquidityUnknown(),
    Liquidity(),
)
"""Every screen, in the order a company's reasons are listed."""


@dataclass(frozen=True)
class Screened:
    """The outcome of every screen: per company its reasons (in ``SCREENS`` order), whether
    it failed only size, liquidity or history screens (``near_miss``), and the failures as a
    long table (``FAILURE_COLUMNS``, one row per company and failed screen)."""

    reasons: list[list[str]]
    near_miss: np.ndarray
    failures: pd.DataFrame


def apply_screens(
    c: Candidates, tickers: pd.Index, screens: Iterable[Screen] = SCREENS
) -> Screened:
    """Apply ``screens`` to the candidates (tickers in master order)."""
    n = len(tickers)
    reasons: list[list[str]] = [[] for _ in range(n)]
    size_fails = np.zeros(n, dtype=int)
    other_fails = np.zeros(n, dtype=int)
    rows: list[tuple[str, str, str, str]] = []
    names = tickers.to_numpy(dtype=object)
    for screen in screens:
        mask = np.asarray(screen.failing(c), dtype=bool)
        if screen.size:
            size_fails += mask
        else:
            other_fails += mask
        for i in np.flatnonzero(mask).tolist():
            text = screen.reason(c, i)
            reasons[i].append(text)
            key = text if screen.keyed_by_reason else screen.key(c, i)
            rows.append((str(names[i]), screen.name, key, text))
    # one object block from a 2-D array: several times quicker than from the list of rows
    table = np.array(rows, dtype=object).reshape(len(rows), len(FAILURE_COLUMNS))
    failures = pd.DataFrame(table, columns=FAILURE_COLUMNS, dtype=object)
    return Screened(reasons, (size_fails > 0) & (other_fails == 0), failures)


def exclusion_counts(failures: pd.DataFrame, excluded: Iterable[str]) -> dict[str, int]:
    """How many excluded companies failed under each key, sorted by key (``report.json``)."""
    out = set(excluded)
    counts = Counter(
        k
        for t, k in zip(failures["ticker"].tolist(), failures["key"].tolist(), strict=True)
        if t in out
    )
    return {str(k): counts[k] for k in sorted(counts)}
