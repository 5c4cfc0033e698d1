"""Crash safety: SIGKILL a scheduled run (with a store refresh) at every commit point and at
random moments; the store still reads, the output folder holds the complete old or the complete
new state (checked against the manifest checksums), and a re-run finishes the job.

The killed run refreshes the store from a fake Yahoo (one Delta commit rewriting the 2024 and
2025 price and FX partitions) and writes revision rev-002 of 2025-12-19 with a changed methodology, over an output
folder that already holds 2025-09-19/rev-001 and 2025-12-19/rev-001.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from ops_support import (
    EVENTS,
    RUN_DATE,
    FakeYahoo,
    forked,
    install_kill_hooks,
    reference_files,
    seeded_store,
    write_methodology,
)

from exchina.core.sources import load_market
from exchina.core.store import MarketStore
from exchina.ops.runlog import RunLog
from exchina.ops.scheduled_run import MANIFEST, current_revision, run_scheduled, verify_output

N_RANDOM = 5
MAX_POINTS = 26
PARALLEL = 2


def _run(base: Path, meth: str, date: str = RUN_DATE, refresh: bool = True, **kw) -> str:
    return run_scheduled(
        base / meth, base / "out", date, source="store", store=base / "store",
        refresh=refresh, client=FakeYahoo(), sleep=lambda s: None,
        companies=base / "ref/companies.csv", facts=base / "ref/exposure_facts.csv",
        log=RunLog(stream=io.StringIO()), **kw,
    ).status  # fmt: skip


def _partitions(store: Path) -> dict[str, pd.DataFrame]:
    """Each table of the store, read through the store, without write timestamps."""
    st = MarketStore(store)
    return {
        "prices": st.read_prices().drop(columns=["stored_at"]),
        "fx": st.read_fx().drop(columns=["stored_at"]),
        "shares": st.read_shares().drop(columns=["stored_at"]),
    }


def _count(done: Path, events_file: Path) -> int:
    """Run once with the event counter on; write the events and the duration."""
    install_kill_hooks(None)
    start = time.perf_counter()
    status = _run(done, "b.toml")
    took = time.perf_counter() - start
    events_file.write_text(json.dumps({"events": EVENTS, "seconds": took}))
    return 0 if status == "written" else 1


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """The state before the killed run, and the state an uninterrupted run leaves."""
    root = tmp_path_factory.mktemp("kill")
    base = root / "base"
    reference_files(base / "ref")
    seeded_store(base / "store", root / "cache")
    write_methodology(base / "a.toml", max_weight=0.10)
    write_methodology(base / "b.toml", max_weight=0.08)
    assert _run(base, "a.toml", "2025-09-19", refresh=False) == "written"
    assert _run(base, "a.toml", refresh=False, allow_stale=True) == "written"
    done = root / "done"
    shutil.copytree(base, done)
    # count the commit events of an uninterrupted run, in a child like the killed ones
    events_file = root / "events.json"

    proc = forked(_count, done, events_file, clean=True)
    proc.join(120)
    assert proc.exitcode == 0
    return {
        "root": root,
        "base": base,
        **json.loads(events_file.read_text()),
        "before": _partitions(base / "store"),
        "after": _partitions(done / "store"),
        "old_rev": current_revision(base / "out", RUN_DATE),
        "new_weights": pd.read_csv(current_revision(done / "out", RUN_DATE) / "constituents.csv"),
    }


def _check_after_kill(world: dict, case: Path) -> str:
    """The store wholly old or wholly new (one commit) and readable; output folder old or new
    and intact."""
    parts = _partitions(case / "store")
    assert all(f.equals(world["before"][n]) for n, f in parts.items()) or all(
        f.equals(world["after"][n]) for n, f in parts.items()
    )
    load_market("store", case / "store")  # the whole store still loads
    assert verify_output(case / "out") == []
    assert current_revision(case / "out", "2025-09-19").name == "rev-001"
    rev = current_revision(case / "out", RUN_DATE)
    assert rev.name in ("rev-001", "rev-002")
    if rev.name == "rev-001":
        old = world["old_rev"]
        assert (rev / MANIFEST).read_bytes() == (old / MANIFEST).read_bytes()
    return rev.name


def _rerun(case: Path) -> int:
    return 0 if _run(case, "b.toml") in ("written", "unchanged") else 1


def _check_rerun(world: dict, case: Path) -> None:
    assert verify_output(case / "out") == []
    rev = current_revision(case / "out", RUN_DATE)
    assert rev.name == "rev-002"  # committed or rewritten, never a third revision
    got = pd.read_csv(rev / "constituents.csv")
    want = world["new_weights"]
    assert list(got["ticker"]) == list(want["ticker"])
    assert got["weight"].to_numpy() == pytest.approx(want["weight"].to_numpy(), abs=1e-9)
    parts = _partitions(case / "store")
    assert parts.keys() == world["after"].keys()
    assert all(f.equals(world["after"][n]) for n, f in parts.items())
    assert [p for p in (case / "out").rglob(".*") if p.name != ".lock"] == []
    assert (case / "out/latest").read_text().splitlines() == [
        "2025-12-19/rev-002",
        "2025-09-19/rev-001",
    ]


@pytest.mark.slow
def test_sigkill_at_every_commit_point_and_at_random_moments(world):
    events = world["events"]
    assert any("rename" in e for e in events)
    n = len(events)
    points = list(range(1, n + 1))
    if n > MAX_POINTS:
        step = n / MAX_POINTS
        points = sorted({int(i * step) + 1 for i in range(MAX_POINTS)})
    rng = random.Random(20251219)
    # random moments within the run (its duration measured in the counting child)
    delays = [rng.uniform(0.05, 0.9 * world["seconds"]) for _ in range(N_RANDOM)]
    cases = [("at", k) for k in points] + [("after", d) for d in delays]
    seen: dict[str, int] = {"rev-001": 0, "rev-002": 0, "completed": 0}
    for i in range(0, len(cases), PARALLEL):
        batch = []
        for j, (kind, value) in enumerate(cases[i : i + PARALLEL]):
            case = world["root"] / f"case-{i + j:03d}"
            shutil.copytree(world["base"], case)
            kw = {"kill_at": value} if kind == "at" else {"kill_after": value}
            batch.append((kind, value, case, forked(_rerun, case, **kw, clean=True)))
        for kind, value, case, proc in batch:
            proc.join(180)
            assert proc.exitcode is not None, f"{kind} {value}: child hung"
            if kind == "at":
                assert proc.exitcode == -9, f"kill point {value} ({events[value - 1]}) not reached"
            seen["completed"] += proc.exitcode == 0
            seen[_check_after_kill(world, case)] += 1
        reruns = [(case, forked(_rerun, case, clean=True)) for _, _, case, _ in batch]
        for case, proc in reruns:
            proc.join(180)
            assert proc.exitcode == 0, f"re-run of {case.name} failed"
            _check_rerun(world, case)
            shutil.rmtree(case)
    # both outcomes occurred: some kills left the old state, some the new one
    assert seen["rev-001"] > 0 and seen["rev-002"] > 0, seen
    print(f"\n{len(points)} commit-point kills + {N_RANDOM} random kills ({n} events): {seen}")
    print("\n".join(events))
