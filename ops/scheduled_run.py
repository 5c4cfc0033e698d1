"""One scheduled cycle: on a review or effective date, refresh, select, optimise, write a revision.

``run_scheduled`` is what ``exchina run`` and a cron job call. On a date that is neither a review
(selection cut-off) nor an effective date of the methodology it does nothing and says so. On a
scheduled date it, in order and without writing anything before the inputs validate:

1. loads the methodology and the company and fact files (``InputError`` naming file, row,
   field; nothing written);
2. takes the output folder's lock (``filelock``; waits ``lock_timeout`` s, then ``LockHeldError``);
3. refreshes the store from Yahoo Finance when asked (``--refresh``; the store keeps its last good
   data for every ticker that failed, and the failures are recorded);
4. loads the market as known at the run date (never later), checks that every eligible company
   has a price, and the FX its currency needs a quote, no older than
   ``schedule.max_price_age_days`` business days before the cut-off (``StaleDataError`` naming
   the tickers unless ``allow_stale``, which records a warning);
5. compares the input fingerprint (methodology hash + data fingerprint + reference-data hashes +
   previous holdings + code version + stale series accepted) with the committed revision's:
   equal means nothing to do;
6. otherwise runs ``rebalance`` and writes a new revision.

Output layout (``out_dir``)::

    2025-12-19/rev-001/constituents.csv, constituents.parquet, trades.csv, report.json,
                       manifest.json        (inputs, data as-of dates, source label, versions,
                                             fingerprint, sha256 of every output, warnings)
    2025-12-19/rev-002/...                  a later run whose inputs changed; rev-001 is kept
    latest                                  the committed revision of each effective date, one
                                            "2025-12-19/rev-002" line per date, newest first
                                            (``head -1 latest`` is the current index)
    .lock                                   held while a run is in progress

A revision is built in a hidden temporary folder, fsync'd, and renamed into place complete; then
``latest`` is replaced atomically, the single commit point. A crash at any moment leaves
``latest`` naming complete revisions only (the old state, or the new one). The next run deletes
leftover temporaries; a complete revision that a crash left uncommitted is committed by the next
run whose inputs give the same fingerprint (otherwise it stays, unreferenced, beside the next
revision number).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from filelock import FileLock, Timeout

from exchina.core.atomic import check_output_folder
from exchina.core.errors import (
    DamagedDataError,
    InputError,
    LockHeldError,
    MissingDataError,
    StaleDataError,
)
from exchina.core.inputs import parse_date
from exchina.core.market import Market
from exchina.core.sources import SOURCES, load_market, resolve_source
from exchina.core.store import MarketStore
from exchina.index.methodology import Methodology, load_methodology, resolve_methodology
from exchina.index.rebalance import RebalanceResult, rebalance, write_rebalance
from exchina.index.schedule import rebalance_dates
from exchina.ops.announce import FOLDER as ANNOUNCE_FOLDER
from exchina.ops.reference import load_reference, sha256_file
from exchina.ops.runlog import RunLog

MANIFEST = "manifest.json"
POINTER = "latest"
LOCK_FILE = ".lock"
CALC_FOLDER = "calc"
RUN_FILES = (POINTER, LOCK_FILE, ANNOUNCE_FOLDER, CALC_FOLDER)
"""What a run writes into its folder, besides the ``YYYY-MM-DD`` folders of its revisions."""
MANIFEST_VERSION = 1
_REV = re.compile(r"^rev-(\d{3,})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
VERSIONED_PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "cvxpy",
    "clarabel",
    "highspy",
    "pydantic",
    "exchange_calendars",
    "yfinance",
    "filelock",
)

Status = Literal["written", "unchanged", "not_scheduled"]


@dataclass(frozen=True)
class ScheduledRun:
    """What a scheduled run did. ``folder`` is the current revision (None if not scheduled)."""

    status: Status
    date: pd.Timestamp
    message: str
    effective: pd.Timestamp | None = None
    review: pd.Timestamp | None = None
    folder: Path | None = None
    manifest: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    refresh_failures: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------ schedule


def schedule_table(methodology: Methodology, year: int) -> pd.DataFrame:
    """The review (selection cut-off) and effective dates of ``year``, ascending."""
    return rebalance_dates(methodology, f"{year}-01-01", f"{year}-12-31")


def scheduled_role(
    methodology: Methodology, date: pd.Timestamp
) -> tuple[str, pd.Timestamp, pd.Timestamp] | None:
    """``(role, review, effective)`` when ``date`` is a review or effective date, else None.

    A review date belongs to the effective date it selects for; when a date is both (an
    unusual calendar), the effective role wins.
    """
    t = pd.Timestamp(date).normalize()
    table = rebalance_dates(methodology, t - pd.Timedelta(days=40), t + pd.Timedelta(days=40))
    pairs = list(zip(table["review"], table["effective"], strict=True))
    for review, effective in pairs:
        if effective == t:
            return "effective", review, effective
    for review, effective in pairs:
        if review == t:
            return "review", review, effective
    return None


# ------------------------------------------------------------------------------ fingerprints


def data_fingerprint(market: Market) -> str:
    """SHA-256 over every value, date, ticker and currency of the market, and its source label.

    Two markets with the same fingerprint give the same rebalance; a revised close anywhere in
    the history changes it.
    """
    h = hashlib.sha256()
    for name in ("close", "volume", "dividends", "fx", "shares"):
        frame = getattr(market, name)
        h.update(name.encode())
        h.update(json.dumps([str(c) for c in frame.columns]).encode())
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    h.update(
        pd.util.hash_pandas_object(market.currency.astype(str), index=True).to_numpy().tobytes()
    )
    h.update(f"{market.source}|{market.synthetic}".encode())
    return h.hexdigest()


@cache
def package_versions() -> dict[str, str]:
    """Versions of Python, exchina and the libraries that shape the numbers."""
    import exchina

    out = {"python": platform.python_version(), "exchina": exchina.__version__}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _fingerprint(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------------------ staleness


def stale_tickers(
    universe: pd.DataFrame, market: Market, cutoff: pd.Timestamp, max_age_days: int
) -> dict[str, str]:
    """Eligible tickers whose latest price on or before ``cutoff`` is more than ``max_age_days``
    business days old: ticker -> last price date (``"none"`` when there is no price at all)."""
    eligible = universe.index[universe["eligible"].astype(bool)]
    cut = market.asof(cutoff)
    last = cut.last_price_date([str(t) for t in eligible if str(t) in cut.tickers])
    oldest_ok = pd.Timestamp(cutoff) - pd.offsets.BDay(max_age_days)
    out: dict[str, str] = {}
    for t in eligible:
        d = last.get(str(t))
        if d is None or pd.isna(d):
            out[str(t)] = "none"
        elif pd.Timestamp(d) < oldest_ok:
            out[str(t)] = f"{pd.Timestamp(d):%Y-%m-%d}"
    return dict(sorted(out.items()))


def fx_last_dates(
    market: Market, cutoff: pd.Timestamp, store: MarketStore | None = None
) -> dict[str, pd.Timestamp]:
    """Date of the latest FX quote on or before ``cutoff`` per currency (``USD`` excluded).

    From the store's raw FX rows when given (``Market.fx`` is forward-filled onto the price
    dates, which would hide a failed FX download), else from the market's own FX frame.
    """
    if store is not None:
        raw = store.read_fx(end=cutoff)
        last = raw.groupby("currency")["date"].max()
        return {str(c): pd.Timestamp(d) for c, d in last.items()}
    fx = market.fx.loc[:cutoff].drop(columns="USD", errors="ignore")
    return {str(c): pd.Timestamp(s.dropna().index[-1]) for c, s in fx.items() if s.notna().any()}


def stale_fx(
    universe: pd.DataFrame,
    market: Market,
    fx_last: dict[str, pd.Timestamp],
    cutoff: pd.Timestamp,
    max_age_days: int,
) -> dict[str, str]:
    """FX series (as Yahoo tickers, ``AUDUSD=X``) needed by eligible companies whose latest quote
    is more than ``max_age_days`` business days before ``cutoff``: ticker -> last date."""
    from exchina.core.fx import fx_ticker

    eligible = [str(t) for t in universe.index[universe["eligible"].astype(bool)]]
    needed = sorted({str(c) for c in market.currency.reindex(eligible).dropna()} - {"USD"})
    oldest_ok = pd.Timestamp(cutoff) - pd.offsets.BDay(max_age_days)
    out = {}
    for c in needed:
        d = fx_last.get(c)
        if d is None or d < oldest_ok:
            out[fx_ticker(c)] = "none" if d is None else f"{d:%Y-%m-%d}"
    return out


# ------------------------------------------------------------------------------ output folder


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries (renames), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and an atomic rename."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync(path.parent)


def _revisions(date_dir: Path) -> list[tuple[int, Path]]:
    if not date_dir.is_dir():
        return []
    revs = [(int(m.group(1)), p) for p in date_dir.iterdir() if (m := _REV.match(p.name))]
    return sorted(revs)


def read_state(out_dir: str | Path) -> dict[str, str]:
    """The committed revisions: effective date -> revision name, from the ``latest`` file
    (one ``YYYY-MM-DD/rev-NNN`` line per date, newest date first; empty if none)."""
    pointer = Path(out_dir) / POINTER
    fix = (
        "edit it to one YYYY-MM-DD/rev-NNN line per committed revision (the rev folders with "
        "a manifest.json), or move it away to start the folder's history again"
    )
    try:
        text = pointer.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise DamagedDataError(f"{pointer}: damaged (not text); {fix}") from None
    state = {}
    for line in filter(None, (x.strip() for x in text.splitlines())):
        day, _, rev = line.partition("/")
        if not (_DAY.match(day) and _REV.match(rev)):
            raise DamagedDataError(f"{pointer}: not a revision line {line!r}; {fix}")
        state[day] = rev
    return state


def _commit(out: Path, state: dict[str, str]) -> None:
    """Replace the ``latest`` file in one atomic step: the single commit point of a run."""
    lines = [f"{day}/{state[day]}" for day in sorted(state, reverse=True)]
    _write_atomic(out / POINTER, ("\n".join(lines) + "\n").encode())


def verify_revision(folder: str | Path) -> list[str]:
    """Problems with a revision folder: manifest missing or unreadable, an output missing, extra
    or not matching its sha256. Empty when the revision is complete and intact."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        outputs = manifest["outputs"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{folder}: unreadable {MANIFEST} ({type(exc).__name__}: {exc})"]
    problems = []
    for name, info in sorted(outputs.items()):
        p = folder / name
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif sha256_file(p) != info.get("sha256"):
            problems.append(f"{p}: sha256 does not match the manifest")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in outputs and p.name != MANIFEST)
    problems += [f"{folder / name}: not listed in the manifest" for name in extra]
    return problems


def current_revision(out_dir: str | Path, date: str | pd.Timestamp | None = None) -> Path | None:
    """The committed revision folder of ``date`` (an effective date), or of the newest date when
    ``date`` is None; None when there is none."""
    state = read_state(out_dir)
    if not state:
        return None
    day = max(state) if date is None else f"{pd.Timestamp(date):%Y-%m-%d}"
    return Path(out_dir) / day / state[day] if day in state else None


def verify_output(out_dir: str | Path) -> list[str]:
    """Check a whole output folder: the ``latest`` file parses and names existing revisions, and
    every revision folder (committed or left uncommitted by an interrupted run) is intact."""
    out = Path(out_dir)
    try:
        state = read_state(out)
    except DamagedDataError as exc:
        return [str(exc)]
    problems = [
        f"{out / POINTER}: names missing revision {day}/{rev}"
        for day, rev in state.items()
        if not (out / day / rev).is_dir()
    ]
    for date_dir in sorted(p for p in out.iterdir() if p.is_dir() and _DAY.match(p.name)):
        for _, rev in _revisions(date_dir):
            problems += verify_revision(rev)
    return problems


def _clean_temporaries(out: Path, log: RunLog) -> None:
    """Delete what a killed run left behind: hidden temporary files and folders."""
    for parent in [out, *(p for p in out.iterdir() if p.is_dir() and _DAY.match(p.name))]:
        for p in parent.iterdir():
            if p.name.startswith(".") and ".tmp" in p.name:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                log.warning("recover.removed_temporary", path=p)


def _committed_problems(
    out: Path, current: Path | None, day: str, state: dict[str, str]
) -> list[str]:
    """Problems of the committed revision of ``day``: checksums (a hand-edited output), and a
    ``latest`` naming a revision folder that is missing or has no readable manifest (raised as
    ``DamagedDataError``: the history itself needs a repair)."""
    if day not in state:
        return []
    folder = out / day / state[day]
    pointer_fix = (
        f"edit {out / POINTER} to name an intact revision of {day}, or remove its {day} line"
    )
    if current is None or not folder.is_dir():
        raise DamagedDataError(
            f"{out / POINTER}: names missing revision {day}/{state[day]}; {pointer_fix}"
        )
    manifest = folder / MANIFEST
    try:
        json.loads(manifest.read_text(encoding="utf-8"))["outputs"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DamagedDataError(
            f"{manifest}: missing or unreadable manifest ({type(exc).__name__}); restore it "
            f"or {pointer_fix}"
        ) from None
    return verify_revision(folder)


def _uncommitted_match(date_dir: Path, committed: str | None, fingerprint: str) -> Path | None:
    """An intact revision newer than the committed one with the same input fingerprint: the
    output of a run killed after its revision was complete but before the commit."""
    rev = _REV.match(committed or "")  # a committed name was checked when the state was read
    current = int(rev.group(1)) if rev else 0
    for n, rev in reversed(_revisions(date_dir)):
        if n <= current:
            break
        if verify_revision(rev):
            continue
        manifest = json.loads((rev / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("fingerprint", {}).get("value") == fingerprint:
            return rev
    return None


def _previous_holdings(out: Path, effective: pd.Timestamp) -> tuple[pd.Series | None, dict | None]:
    """Weights of the current revision of the latest earlier effective date in ``out``."""
    state = read_state(out)
    earlier = [day for day in state if day < f"{effective:%Y-%m-%d}"]
    if not earlier:
        return None, None
    day = max(earlier)
    path = out / day / state[day] / "constituents.csv"
    frame = pd.read_csv(path, dtype={"ticker": "string"})
    weights = pd.Series(
        frame["weight"].to_numpy(float), index=frame["ticker"].astype(str), name="weight"
    )
    return weights, {"revision": f"{day}/{state[day]}", "sha256": sha256_file(path)}


# ------------------------------------------------------------------------------ the run


def refresh_tickers(companies: pd.DataFrame, methodology: Methodology) -> list[str]:
    """Tickers a refresh downloads: every listed company, plus the benchmark ticker if any."""
    live = companies[(companies["status"] != "delisted") & companies["delisted_on"].isna()]
    names = [str(t) for t in live["ticker"]]
    if methodology.benchmark.ticker:
        names.append(methodology.benchmark.ticker)
    return list(dict.fromkeys(names))


def _parse_date(date: str | dt.date | pd.Timestamp | None) -> pd.Timestamp:
    if date is None:
        return pd.Timestamp(dt.date.today())
    if isinstance(date, str):
        return parse_date(date, "--date")
    try:
        return pd.Timestamp(date).normalize()
    except (ValueError, TypeError):
        raise InputError(f"not a date (expected YYYY-MM-DD): {date!r}", field="date") from None


def _lock(out: Path, timeout: float, log: RunLog) -> FileLock:
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / LOCK_FILE), timeout=timeout)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("lock.wait", path=out / LOCK_FILE, timeout_s=timeout)
        try:
            lock.acquire()
        except Timeout:
            raise LockHeldError(
                f"the output folder {out} is locked by another exchina run (waited "
                f"{timeout:g} s, --lock-timeout); it is still in progress, try again later"
            ) from None
    return lock


def run_scheduled(
    methodology: str | Path,
    out_dir: str | Path,
    date: str | dt.date | pd.Timestamp | None = None,
    *,
    source: str = "auto",
    store: str | Path | None = None,
    refresh: bool = False,
    allow_stale: bool = False,
    lock_timeout: float = 600.0,
    companies: str | Path | None = None,
    facts: str | Path | None = None,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    log: RunLog | None = None,
    force: bool = False,
    as_stored: str | int | None = None,
) -> ScheduledRun:
    """One scheduled cycle for ``date`` (default today); see the module docstring.

    ``out_dir`` holding files a run does not write is refused (``OutputFolderError``) unless
    ``force`` (writes beside them, deletes nothing). ``as_stored`` reads the store as it was at
    that version or time (no ``refresh``); the manifest records the store version read.

    ``client`` is the Yahoo client for ``refresh`` (``exchina.core.yahoo.YahooClient``; the real
    yfinance one by default) and ``sleep`` its retry back-off. Raises ``InputError`` (bad
    methodology, reference file or option), ``LockHeldError``, ``SourceError`` (a refresh that got
    nothing), ``MissingDataError``, ``StaleDataError``, ``InfeasibleError``.
    """
    log = log or RunLog()
    t = _parse_date(date)
    if source not in SOURCES:
        raise InputError(
            f"unknown source {source!r}; use one of {', '.join(SOURCES)}", field="source"
        )
    if as_stored is not None and refresh:
        raise InputError(
            "--as-stored reads the store as it was; it cannot be combined with --refresh",
            field="--as-stored",
        )
    out = check_output_folder(
        out_dir, RUN_FILES, force=force, owns=lambda name: bool(_DAY.match(name))
    )
    meth_path = resolve_methodology(methodology)
    meth = load_methodology(meth_path)
    log.info("run.start", date=t.date(), methodology=meth_path, source=source, out=out_dir)
    role = scheduled_role(meth, t)
    if role is None:
        upcoming = rebalance_dates(meth, t, t + pd.Timedelta(days=200))
        upcoming = upcoming[upcoming["review"] > t]
        msg = f"{t.date()} is not a review or effective date of {meth.name}; nothing to do"
        if len(upcoming):
            nxt = upcoming.iloc[0]
            msg += f" (next: review {nxt['review'].date()}, effective {nxt['effective'].date()})"
        log.info("run.not_scheduled", date=t.date(), message=msg)
        return ScheduledRun("not_scheduled", t, msg)
    kind, review, effective = role
    ref = load_reference(companies, facts)  # validated before anything is written
    frames, ref_info = {"companies": ref.companies, "facts": ref.facts}, ref.files
    lock = _lock(out, lock_timeout, log)
    try:
        log.info("lock.acquired", path=out / LOCK_FILE)
        return _locked_run(
            meth, meth_path, t, kind, review, effective, frames, ref_info, out,
            source=source, store=store, refresh=refresh, allow_stale=allow_stale,
            lock_timeout=lock_timeout, client=client, sleep=sleep, log=log, as_stored=as_stored,
        )  # fmt: skip
    finally:
        lock.release()


def _refresh(
    st: MarketStore,
    companies: pd.DataFrame,
    meth: Methodology,
    client: Any,
    sleep: Callable[[float], None],
    log: RunLog,
) -> dict[str, Any]:
    from exchina.core.yahoo import fetch

    tickers = refresh_tickers(companies, meth)
    log.info("refresh.start", tickers=len(tickers), store=st.root)
    res = fetch(tickers, st, client=client, sleep=sleep, progress=False)
    for tk, why in sorted(res.failures.items()):
        log.warning("refresh.failed", ticker=tk, reason=why)
    log.info(
        "refresh.done",
        succeeded=len(res.succeeded),
        failed=len(res.failures),
        price_rows_added=res.prices.added,
        price_rows_revised=res.prices.revised,
    )
    return {
        "tickers": len(tickers),
        "succeeded": len(res.succeeded),
        "failures": dict(sorted(res.failures.items())),
        "price_rows": {"added": res.prices.added, "revised": res.prices.revised},
        "fx_rows": {"added": res.fx.added, "revised": res.fx.revised},
        "warnings": res.warnings,
    }


def _locked_run(
    meth: Methodology,
    meth_path: Path,
    t: pd.Timestamp,
    kind: str,
    review: pd.Timestamp,
    effective: pd.Timestamp,
    frames: dict[str, pd.DataFrame],
    ref_info: dict[str, dict[str, str]],
    out: Path,
    *,
    source: str,
    store: str | Path | None,
    refresh: bool,
    allow_stale: bool,
    lock_timeout: float,
    client: Any,
    sleep: Callable[[float], None],
    log: RunLog,
    as_stored: str | int | None,
) -> ScheduledRun:
    from exchina.universe import build_universe

    _clean_temporaries(out, log)

    warnings: list[str] = []
    st = MarketStore(store, lock_timeout=lock_timeout, as_stored=as_stored)
    if as_stored is not None and source == "demo":
        raise InputError("--as-stored reads the store; drop --source demo", field="--as-stored")
    # a refresh fills the store, so it is the source even when empty; a pinned version is read
    resolved = "store" if as_stored is not None else resolve_source(source, st, refresh=refresh)
    if source == "auto" and resolved == "demo":
        log.warning("data.demo_fallback", store=st.root, reason="the store holds no prices")
    refreshed: dict[str, Any] | None = None
    if refresh and resolved == "demo":
        log.info("refresh.skipped", reason="the demo market is synthetic; nothing to refresh")
    elif refresh:
        refreshed = _refresh(st, frames["companies"], meth, client, sleep, log)
        warnings += [f"refresh failed for {tk}: {why}" for tk, why in refreshed["failures"].items()]

    market = load_market(resolved, st).asof(t)
    cut = market.asof(review)
    if cut.close.dropna(how="all").empty:
        raise MissingDataError(
            f"no prices on or before the cut-off {review.date()} in the {resolved} market"
        )
    log.info("data.loaded", source=market.label, synthetic=market.synthetic, as_of=market.as_of)
    previous, prev_info = _previous_holdings(out, effective)
    universe = build_universe(
        review,
        meth.universe,
        cut,
        previous_members=[] if previous is None else list(previous[previous > 0].index),
        companies=frames["companies"],
        facts=frames["facts"],
    )
    max_age = meth.schedule.max_price_age_days
    fx_last = fx_last_dates(market, review, st if resolved == "store" else None)
    stale = stale_tickers(universe, market, review, max_age)
    stale |= stale_fx(universe, market, fx_last, review, max_age)
    if stale:
        detail = ", ".join(f"{tk} (last {d})" for tk, d in stale.items())
        msg = (
            f"{len(stale)} price or FX series of eligible companies ha{'s' if len(stale) == 1 else 've'} "
            f"no quote within {max_age} business days before the cut-off {review.date()}: {detail}"
        )
        if not allow_stale:
            log.error("data.stale", tickers=list(stale), cutoff=review.date(), max_age_days=max_age)
            failed = refreshed["failures"] if refreshed else {}
            hint = "; the refresh failed for " + ", ".join(sorted(failed)) if failed else ""
            raise StaleDataError(
                msg + hint + " (update the store, or pass --allow-stale to accept it)",
                tickers=list(stale),
            )
        warnings.append(f"stale data accepted (--allow-stale): {msg}")
        log.warning("data.stale_accepted", tickers=list(stale), cutoff=review.date())

    parts = {
        "methodology_hash": meth.digest(),
        "data": data_fingerprint(market),
        "reference_data": {k: v["sha256"] for k, v in ref_info.items()},
        "previous": prev_info["sha256"] if prev_info else None,
        "code_version": package_versions()["exchina"],
        "effective": f"{effective:%Y-%m-%d}",
        "stale_accepted": stale,
    }
    fingerprint = _fingerprint(parts)
    day = f"{effective:%Y-%m-%d}"
    date_dir = out / day
    state = read_state(out)
    failures = refreshed["failures"] if refreshed else {}
    current = current_revision(out, effective)
    damaged = _committed_problems(out, current, day, state)
    if damaged:
        warnings.append(
            f"the committed {day}/{current.name if current else '?'} failed its check "
            f"({damaged[0]}); written again as a new revision, the old one kept"
        )
        log.warning("output.damaged", folder=current, problems=damaged)
    if current is not None and not damaged:
        old = json.loads((current / MANIFEST).read_text(encoding="utf-8"))
        if old.get("fingerprint", {}).get("value") == fingerprint:
            msg = (
                f"{day}/{current.name} already holds this rebalance (same methodology, data, "
                "reference files and code); nothing written"
            )
            log.info("run.unchanged", folder=current, fingerprint=fingerprint)
            return ScheduledRun(
                "unchanged", t, msg, effective, review, current, old, old.get("warnings", []),
                failures,
            )  # fmt: skip
    orphan = _uncommitted_match(date_dir, state.get(day), fingerprint)
    if orphan is not None:
        _commit(out, {**state, day: orphan.name})
        manifest = json.loads((orphan / MANIFEST).read_text(encoding="utf-8"))
        msg = (
            f"committed {day}/{orphan.name}, completed by an interrupted run with the same "
            "inputs; nothing recomputed"
        )
        log.warning("recover.committed", folder=orphan, fingerprint=fingerprint)
        return ScheduledRun(
            "written", t, msg, effective, review, orphan, manifest, manifest["warnings"], failures
        )

    result = rebalance(
        effective,
        meth_path,
        market,
        previous=previous,
        companies=frames["companies"],
        facts=frames["facts"],
        check_stale=False,  # checked above, per eligible ticker, in business days
    )
    log.info(
        "optimize.done",
        held=len(result.constituents),
        solver=result.optimized.solver,
        status=result.optimized.status,
    )
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "run_date": f"{t:%Y-%m-%d}",
        "run_role": kind,
        "effective": f"{effective:%Y-%m-%d}",
        "review": f"{review:%Y-%m-%d}",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "inputs": {
            "methodology": {
                "file": str(meth_path),
                "sha256": sha256_file(meth_path),
                "name": meth.name,
                "version": meth.version,
                "hash": meth.digest(),
            },
            **ref_info,
            "source": source,
            "resolved_source": resolved,
            "store": str(st.root) if resolved == "store" else None,
            "refresh": refresh,
            "as_stored": None if as_stored is None else str(as_stored),
            "allow_stale": allow_stale,
            "previous_rebalance": prev_info,
        },
        "data": {
            "source_label": market.label,
            "synthetic": bool(market.synthetic),
            "store_version": market.meta.get("store_version"),
            "market_as_of": f"{market.as_of:%Y-%m-%d}",
            "cutoff_prices_as_of": f"{cut.as_of:%Y-%m-%d}",
            "fx_as_of_cutoff": {c: f"{d:%Y-%m-%d}" for c, d in sorted(fx_last.items())},
            "eligible_last_price": {
                tk: f"{d:%Y-%m-%d}"
                for tk, d in cut.last_price_date(
                    [str(x) for x in universe.index[universe["eligible"].astype(bool)]]
                ).items()
                if not pd.isna(d)
            },
            "stale": stale,
            "refresh": refreshed,
        },
        "versions": package_versions(),
        "fingerprint": {"value": fingerprint, **parts},
        "warnings": warnings,
    }
    folder = _write_revision(out, date_dir, result, manifest, log)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    msg = (
        f"wrote {folder.relative_to(out)}: {len(result.constituents)} constituents effective "
        f"{effective.date()} ({market.label})"
    )
    log.info("run.written", folder=folder, revision=folder.name, fingerprint=fingerprint)
    return ScheduledRun("written", t, msg, effective, review, folder, manifest, warnings, failures)


def _write_revision(
    out: Path, date_dir: Path, result: RebalanceResult, manifest: dict[str, Any], log: RunLog
) -> Path:
    """Build the revision in a hidden folder, rename it into place, then commit ``latest``."""
    date_dir.mkdir(parents=True, exist_ok=True)
    revs = _revisions(date_dir)
    n = revs[-1][0] + 1 if revs else 1
    name = f"rev-{n:03d}"
    state = read_state(out)
    tmp = date_dir / f".{name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    final = date_dir / name
    try:
        write_rebalance(result, tmp)
        outputs = {
            p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(tmp.iterdir())
            if p.is_file()
        }
        body = {
            **manifest,
            "revision": name,
            "previous_revision": state.get(date_dir.name),
            "outputs": outputs,
        }
        text = json.dumps(body, indent=2, sort_keys=False, allow_nan=False, default=str) + "\n"
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
        for p in tmp.iterdir():
            _fsync(p)
        _fsync(tmp)
        os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _fsync(date_dir)
    _commit(out, {**state, date_dir.name: name})
    log.info("output.committed", folder=final)
    return final
