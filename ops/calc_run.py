"""``exchina calc``: calculate a methodology's daily PR, TR and net TR levels into a folder.

The constituents are the backtest's, selected point in time from the methodology's first
rebalance (so a level never depends on where a calculation started); the days written are
``[start, end]`` together with every day already committed in ``OUT`` (see
``exchina.ops.calc_output`` for appends, revisions and crash safety).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from exchina.backtest.daily import calculate_index
from exchina.core.atomic import check_output_folder
from exchina.core.errors import InputError, MissingDataError
from exchina.core.market import Market
from exchina.core.sources import load_market
from exchina.index.methodology import load_methodology, resolve_methodology
from exchina.ops.calc_output import (
    CALC_FILES,
    CalcCommit,
    calc_lock,
    commit_calc,
    is_calc_name,
    read_levels,
    recover,
)
from exchina.ops.reference import ReferenceData


def _date(value: str | pd.Timestamp | None, field: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise InputError(f"expected a date YYYY-MM-DD, got {value!r}", field=field) from None


def run_calc(
    methodology: str | Path,
    out: str | Path,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    *,
    source: str = "auto",
    store: str | Path | None = None,
    market: Market | None = None,
    lock_timeout: float = 600.0,
    force: bool = False,
    as_stored: str | int | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    reference: ReferenceData | None = None,
) -> CalcCommit:
    """Calculate and commit the levels of ``[start, end]`` (default: from the first rebalance to
    the last price) into ``out``; ``market`` overrides ``source``/``store`` (tests, the app);
    ``companies``/``facts``: a custom company master and exposure facts (default: shipped);
    ``reference``: the master and facts loaded from files (``load_reference``; overrides
    ``companies``/``facts``), whose paths and SHA-256 the manifest records.

    ``out`` holding files a calculation does not write is refused (``OutputFolderError``)
    unless ``force`` (writes beside them, deletes nothing). ``as_stored`` reads the store as
    it was at that version or time; the store version read is recorded in the manifest."""
    if reference is not None:
        companies, facts = reference.companies, reference.facts
    lo, hi = _date(start, "from"), _date(end, "to")
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"--from {lo.date()} is after --to {hi.date()}", field="from")
    out = check_output_folder(out, CALC_FILES, force=force, owns=is_calc_name)
    path = resolve_methodology(methodology)
    meth = load_methodology(path)
    mkt = market if market is not None else load_market(source, store, as_stored=as_stored)
    lock = calc_lock(out, lock_timeout)
    try:
        recover(out)
        committed = read_levels(out)
        last = hi if hi is not None else mkt.as_of
        if hi is not None and hi > mkt.as_of:
            raise MissingDataError(
                f"--to {hi.date()} is after the last price in the market ({mkt.as_of.date()}; "
                f"{mkt.label})"
            )
        if len(committed):
            last = max(last, committed.index[-1])
        ic = calculate_index(meth, mkt.asof(last), last, companies=companies, facts=facts)
        levels = ic.levels
        first = levels.index[0] if lo is None else max(lo, levels.index[0])
        if len(committed):
            first = min(first, committed.index[0])
        levels = levels.loc[first:last]
        if levels.empty:
            raise MissingDataError(
                f"no index level between {first.date()} and {last.date()} "
                f"(the index starts {ic.levels.index[0].date()})"
            )
        acts = ic.calc.actions
        acts = acts[(acts["date"] >= first) & (acts["date"] <= last)]
        hold = ic.calc.holdings
        in_force = hold.loc[hold["effective"] <= first, "effective"].max()
        start_from = in_force if pd.notna(in_force) else first
        hold = hold[(hold["effective"] >= start_from) & (hold["effective"] <= last)]
        label = {"data_source": ic.label}
        levels, acts, hold = levels.assign(**label), acts.assign(**label), hold.assign(**label)
        meta = {
            "methodology": meth.name,
            "methodology_file": path.name,
            "methodology_digest": meth.digest(),
            "data_source": ic.label,
            "synthetic": bool(ic.synthetic),
            "store_version": mkt.meta.get("store_version"),
            "notes": ic.notes,
        }
        if reference is not None:
            meta["reference_data"] = reference.files
        return commit_calc(out, levels, acts, hold, meta)
    finally:
        lock.release()
