"""Crash safety of ``exchina calc``: SIGKILL at commit events of a first write, an extension and
a revision (at least 50 kill points in all; the scheduled rebalance has its own in
``test_ops_kill.py``). After every kill each file is whole (its old or its new bytes), the
folder verifies or holds a commit the next run finishes, and a re-run leaves exactly the bytes
of an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ops_support import forked

from exchina.core.paths import methodology_file
from exchina.core.sources import load_market
from exchina.ops.calc_output import verify_calc
from exchina.ops.calc_run import run_calc

PER_SCENARIO = 17
PARALLEL = 2
EVENTS: list[str] = []


def _hooks(kill_at: int | None, log: Path | None = None) -> None:
    """Count (and at ``kill_at`` die at) file-system events: before and after each os.replace,
    os.rename, os.fsync, shutil.copyfile and shutil.rmtree."""

    def wrap(owner, name):
        real = getattr(owner, name)

        def hooked(*a, **kw):
            for phase in ("before", "after"):
                if phase == "after":
                    result = real(*a, **kw)
                EVENTS.append(f"{phase} {name}")
                if kill_at is not None and len(EVENTS) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                if log is not None:
                    log.write_text(json.dumps(EVENTS))
            return result

        setattr(owner, name, hooked)

    for owner, name in ((os, "replace"), (os, "rename"), (os, "fsync"),
                        (shutil, "copyfile"), (shutil, "rmtree")):  # fmt: skip
        wrap(owner, name)


def _bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def world(tmp_path_factory, monkeypatch_module) -> dict:
    root = tmp_path_factory.mktemp("calckill")
    text = methodology_file("flagship").read_text(encoding="utf-8")
    meth = root / "short.toml"
    meth.write_text(text.replace("base_date = 2012-12-31", "base_date = 2025-01-01"))
    demo = load_market("demo")
    close = demo.close.copy()
    close.loc["2026-01-20", "LYC.AX"] *= 1.10
    revised = replace(demo, close=close)
    # the calculation is computed once here and inherited by every forked child: the children
    # spend their time where the kill points are, in the commit
    import exchina.ops.calc_run as calc_run

    real, memo = calc_run.calculate_index, {}

    def cached(methodology, market, end, **data):
        key = (float(np.nansum(market.close.to_numpy())), str(end), repr(sorted(data.items())))
        if key not in memo:
            memo[key] = real(methodology, market, end, **data)
        return memo[key]

    monkeypatch_module.setattr(calc_run, "calculate_index", cached)
    base = root / "base"
    run_calc(meth, base, "2025-12-01", "2026-02-27", market=demo)
    run_calc(meth, root / "warm1", "2025-12-01", "2026-03-31", market=demo)
    run_calc(meth, root / "warm2", "2025-12-01", "2026-02-27", market=revised)
    scenarios = {
        "write": (None, lambda out: run_calc(meth, out, "2025-12-01", "2026-02-27", market=demo)),
        "extend": (base, lambda out: run_calc(meth, out, "2025-12-01", "2026-03-31", market=demo)),
        "revise": (base, lambda out: run_calc(meth, out, "2025-12-01", "2026-02-27",
                                               market=revised)),
    }  # fmt: skip
    truth = {}
    for name, (start, job) in scenarios.items():
        case = root / f"truth-{name}"
        if start is not None:
            shutil.copytree(start, case)
        log = root / f"events-{name}.json"

        def count(job=job, case=case, log=log) -> int:
            _hooks(None, log)
            job(case)
            return 0

        proc = forked(count)
        proc.join(120)
        assert proc.exitcode == 0
        truth[name] = {"bytes": _bytes(case), "events": json.loads(log.read_text())}
    return {"root": root, "scenarios": scenarios, "truth": truth}


@pytest.mark.slow
def test_sigkill_during_calc_commits(world) -> None:
    root = world["root"]
    points_total = 0
    for name, (start, job) in world["scenarios"].items():
        events = world["truth"][name]["events"]
        want = world["truth"][name]["bytes"]
        old = _bytes(start) if start is not None else {}
        n = len(events)
        step = max(1.0, n / PER_SCENARIO)
        points = sorted({int(i * step) + 1 for i in range(min(n, PER_SCENARIO))})
        points_total += len(points)
        for i in range(0, len(points), PARALLEL):
            batch = []
            for k in points[i : i + PARALLEL]:
                case = root / f"{name}-{k:03d}"
                if start is not None:
                    shutil.copytree(start, case)

                def killed(job=job, case=case, k=k) -> int:
                    _hooks(k)
                    job(case)
                    return 0

                batch.append((k, case, forked(killed)))
            for k, case, proc in batch:
                proc.join(120)
                assert proc.exitcode == -9, f"{name}: kill point {k} ({events[k - 1]}) not reached"
                got = _bytes(case) if case.exists() else {}
                for f, data in got.items():
                    if f.startswith(".commit/") or f.startswith(".staging-"):
                        continue
                    assert data in (old.get(f), want.get(f)), f"{name} @{k}: {f} is torn"
            reruns = [(k, case, forked(lambda job=job, case=case: (job(case), 0)[1]))
                      for k, case, _ in batch]  # fmt: skip
            for k, case, rerun in reruns:
                rerun.join(120)
                assert rerun.exitcode == 0, f"{name} @{k}: re-run failed"
                assert _bytes(case) == want, (
                    f"{name} @{k}: re-run differs from an uninterrupted run"
                )
                assert verify_calc(case) == []
                assert not [
                    p for p in case.iterdir() if p.name.startswith(".") and p.name != ".lock"
                ]
                shutil.rmtree(case)
    assert points_total >= 50, points_total
    print(f"\n{points_total} calc kill points: " + ", ".join(
        f"{n} {len(world['truth'][n]['events'])} events" for n in world["truth"]))  # fmt: skip
