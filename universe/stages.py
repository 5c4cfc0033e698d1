"""Supply-chain stages of a company: all the stages it is in, and one primary stage.

The master lists stages upstream to downstream with optional revenue shares, e.g.
``mining:0.7;separation_refining:0.3;metal_alloy;magnet``. The primary stage is the stage with
the largest known revenue share; when shares tie, or no share is known, it is the most
downstream of the candidates in the fixed order ``STAGES`` (mining -> separation_refining ->
metal_alloy -> magnet -> recycling), because downstream capacity is the scarce ex-China
capability a company is usually built around and named for.
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
    return max(shares, key=_RANK.__getitem__), "no shares: most downstream"


def classify_stages(companies: pd.DataFrame) -> pd.DataFrame:
    """Per company: ``stages`` (names ``;``-joined, upstream first), ``primary_stage``,
    ``primary_basis`` and one ``share_<stage>`` column per stage (NaN = listed, share unknown;
    0 = not listed). Indexed by ``company_id``."""
    rows = [_classify_one(text) for text in companies["stages"]]
    columns = ["stages", "primary_stage", "primary_basis"] + [f"share_{s}" for s in STAGES]
    index = pd.Index(companies["company_id"], name="company_id")
    return pd.DataFrame(rows, columns=columns, index=index)


@lru_cache(maxsize=4096)
def _classify_one(text: str) -> tuple:
    """One master ``stages`` cell -> (stages, primary, basis, share per stage); cached because
    a backtest classifies the same master at every rebalance."""
    parsed = parse_stages(text)
    primary, basis = primary_stage(parsed)
    names = ";".join(sorted(parsed, key=_RANK.__getitem__))
    return (names, primary, basis, *(parsed.get(s, 0.0) for s in STAGES))
