"""What ``exchina run`` does on a day, as an index's calculation agent would.

1. the scheduled cycle (``run_scheduled``): on a review or effective date, a rebalance revision;
2. on the announcement date of a coming rebalance, its pro-forma constituents; on an effective
   date, the final constituents and their difference from the pro-forma
   (``exchina.ops.announce``, in ``OUT/announcements/<effective>/``);
3. on every business day, the daily calculation through that day (``exchina.ops.calc_run``, in
   ``OUT/calc/``): PR, TR and net TR levels with corporate actions applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from exchina.core.sources import load_market
from exchina.index.methodology import load_methodology, resolve_methodology
from exchina.index.schedule import rebalance_dates
from exchina.ops.announce import announcement_date, write_final, write_proforma
from exchina.ops.calc_output import CalcCommit
from exchina.ops.calc_run import run_calc
from exchina.ops.reference import load_reference
from exchina.ops.scheduled_run import CALC_FOLDER, ScheduledRun, current_revision, run_scheduled


@dataclass(frozen=True)
class DayRun:
    """The scheduled cycle's result, what was published, and the day's calculation."""

    scheduled: ScheduledRun
    published: list[Path] = field(default_factory=list)
    calc: CalcCommit | None = None
    messages: list[str] = field(default_factory=list)


def publish_announcements(
    methodology: str | Path, out: str | Path, date: pd.Timestamp
) -> list[Path]:
    """Pro-forma files for rebalances announced on ``date``; the final file and diff when
    ``date`` is an effective date with a committed rebalance."""
    meth = load_methodology(resolve_methodology(methodology))
    t = pd.Timestamp(date).normalize()
    written = []
    coming = rebalance_dates(meth, t, t + pd.Timedelta(days=40))
    for eff in coming["effective"]:
        eff = pd.Timestamp(eff)
        rev = current_revision(out, eff)
        if announcement_date(meth, eff) == t and rev is not None and eff > t:
            written.append(write_proforma(out, eff, pd.read_csv(rev / "constituents.csv"), t))
    rev = current_revision(out, t)
    if rev is not None and (coming["effective"] == t).any():
        written.append(write_final(out, t, pd.read_csv(rev / "constituents.csv")))
    return written


def after_scheduled(
    methodology: str | Path,
    out: str | Path,
    res: ScheduledRun,
    *,
    source: str = "auto",
    store: str | Path | None = None,
    calc: bool = True,
    force: bool = False,
    as_stored: str | int | None = None,
    companies: str | Path | None = None,
    facts: str | Path | None = None,
) -> DayRun:
    """Steps 2 and 3 of the day, after the scheduled cycle ``res`` (the CLI runs that first);
    ``force``, ``as_stored``, ``companies`` and ``facts`` as for ``run_scheduled`` (the
    announcements publish the revision the scheduled cycle made from that master; the daily
    calculation selects with it and records the files in its manifest)."""
    t = res.date
    published = publish_announcements(methodology, out, t)
    messages = [f"published announcements/{p.parent.name}/{p.name}" for p in published]
    done = None
    if calc and t.weekday() < 5:
        ref = load_reference(companies, facts)
        market = load_market(source, str(store) if store else None, as_stored=as_stored).asof(t)
        done = run_calc(methodology, Path(out) / CALC_FOLDER, None, min(t, market.as_of),
                        market=market, force=force, reference=ref)  # fmt: skip
        messages.append(
            f"calculation {done.status} through {done.last.date()} (revision {done.revision}, "
            f"{Path(out) / CALC_FOLDER})"
        )
    return DayRun(res, published, done, messages)


def run_day(
    methodology: str | Path,
    out: str | Path,
    date: str | pd.Timestamp | None = None,
    *,
    source: str = "auto",
    store: str | Path | None = None,
    calc: bool = True,
    force: bool = False,
    as_stored: str | int | None = None,
    companies: str | Path | None = None,
    facts: str | Path | None = None,
    **scheduled: Any,
) -> DayRun:
    """One day of operations (see the module doc); ``scheduled`` goes to ``run_scheduled``."""
    res = run_scheduled(methodology, out, date, source=source, store=store, force=force,
                        as_stored=as_stored, companies=companies, facts=facts,
                        **scheduled)  # fmt: skip
    return after_scheduled(methodology, out, res, source=source, store=store, calc=calc,
                           force=force, as_stored=as_stored, companies=companies,
                           facts=facts)  # fmt: skip
