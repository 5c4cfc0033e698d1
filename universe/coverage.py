"""Does the market hold what the universe needs? A store that lacks it is missing data (exit 4),
never an optimizer "infeasible" blamed on the methodology.

The companies the universe rules consider at a date are those listed then (``listed_from`` and
``delisted_on``) whose status the rules admit. When most of them have no price on or before
the date, the run stops with a ``MissingDataError`` that counts them, names the first few, says
how many priced ones lack volumes, and gives the commands that fill the store.
"""

from __future__ import annotations

import pandas as pd

from exchina.core.errors import MissingDataError
from exchina.core.market import Market
from exchina.universe.rules import UniverseRules

SHOWN = 5


def considered(companies: pd.DataFrame, rules: UniverseRules, date: pd.Timestamp) -> pd.DataFrame:
    """Companies listed at ``date`` with a status the rules admit."""
    t = pd.Timestamp(date)
    listed = companies["listed_from"].isna() | (companies["listed_from"] <= t)
    alive = companies["delisted_on"].isna() | (companies["delisted_on"] > t)
    return companies[listed & alive & companies["status"].isin(list(rules.statuses))]


def check_coverage(
    market: Market, rules: UniverseRules, companies: pd.DataFrame, date: str | pd.Timestamp
) -> None:
    """Raise ``MissingDataError`` when more than half the companies the rules consider at
    ``date`` have no price in ``market`` on or before it (see the module doc)."""
    t = pd.Timestamp(date)
    cand = considered(companies, rules, t)
    if cand.empty:
        return
    known = market.close.loc[:t]
    priced = {str(c) for c in known.columns[known.notna().any()]}
    lacking = [str(x) for x in cand["ticker"] if str(x) not in priced]
    if 2 * len(lacking) <= len(cand):
        return
    vol = market.volume.loc[:t].reindex(columns=sorted(priced & set(cand["ticker"])))
    no_volume = [str(c) for c in vol.columns[vol.isna().all()]]
    first = ", ".join(lacking[:SHOWN]) + (
        f" and {len(lacking) - SHOWN} more" if len(lacking) > SHOWN else ""
    )
    raise MissingDataError(
        f"the market ({market.label}) has no prices up to {t.date()} for {len(lacking)} of the "
        f"{len(cand)} companies the universe considers ({first})"
        + (
            f"; {len(no_volume)} priced ones have no volumes ({', '.join(no_volume[:SHOWN])})"
            if no_volume
            else ""
        )
        + ". Fill the store with `exchina fetch --universe` (or `exchina fetch "
        + " ".join(lacking[:SHOWN])
        + " ...`), or `exchina import FILE...`; or run on `--source demo`"
    )
