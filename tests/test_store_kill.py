"""SIGKILL during a multi-year import: at each of 24 moments spread over the import, from
before the commit to after it, the store still loads, verifies, and holds the new rows of
both files entirely or not at all; a rerun of the import then completes it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ops_support import forked

from exchina.core.store import MarketStore

KILLS = 24
YEARS = 23


def _files(folder: Path) -> list[Path]:
    """Two price files: 23 years of NEW.AX (AUD) and 23 years of NEW2 (USD)."""
    folder.mkdir(parents=True, exist_ok=True)
    dates = pd.bdate_range(f"{2025 - YEARS + 1}-01-01", "2025-12-31")
    rng = np.random.default_rng(3)
    out = []
    for name in ("NEW.AX", "NEW2"):
        close = 10 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
        frame = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": close.round(6),
                              "Volume": 1000})  # fmt: skip
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        out.append(path)
    return out


def _import(store: Path, files: list[Path], timing: Path | None) -> int:
    from exchina.core.importer import import_files

    start = time.perf_counter()
    import_files(files, MarketStore(store))
    if timing is not None:
        timing.write_text(json.dumps({"seconds": time.perf_counter() - start}))
    return 0


def _state(store: Path) -> dict[str, int]:
    px = MarketStore(store).read_prices()
    return px.groupby("ticker").size().to_dict()


@pytest.mark.slow
def test_sigkill_during_a_multi_year_import_leaves_all_or_nothing(tmp_path: Path) -> None:
    base = tmp_path / "base"
    st = MarketStore(base)
    old = pd.DataFrame({"date": pd.bdate_range("2015-01-01", "2025-12-31"), "ticker": "OLD",
                        "close": 5.0, "currency": "USD"})  # fmt: skip
    st.write_prices(old, "seed")
    files = _files(tmp_path / "in")
    before = _state(base)
    # the full import, timed in a child like the killed ones
    done = tmp_path / "done"
    shutil.copytree(base, done)
    timing = tmp_path / "timing.json"
    proc = forked(_import, done, files, timing, clean=True)
    proc.join(300)
    assert proc.exitcode == 0
    after = _state(done)
    assert after["NEW.AX"] == after["NEW2"] > 250 * YEARS and after["OLD"] == before["OLD"]
    seconds = json.loads(timing.read_text())["seconds"]
    # moments from the start of the child to well past the end of the import (a shared machine
    # makes one run slower than another: the last moments let some kills land after the commit)
    delays = [0.02 + seconds * 3.0 * k / (KILLS - 1) for k in range(KILLS)]
    seen = {"none": 0, "all": 0}
    for i, delay in enumerate(delays):
        case = tmp_path / f"case-{i:02d}"
        shutil.copytree(base, case)
        proc = forked(_import, case, files, None, kill_after=delay, clean=True)
        proc.join(300)
        assert proc.exitcode in (0, -9), f"kill at {delay:.3f} s: exit {proc.exitcode}"
        state = _state(case)  # the store still loads
        assert state in (before, after), f"kill at {delay:.3f} s left {state}"
        seen["all" if state == after else "none"] += 1
        assert MarketStore(case).verify() == []
        if i % 4 == 0:  # a rerun completes the import (every fourth case, for time)
            rerun = forked(_import, case, files, None, clean=True)
            rerun.join(300)
            assert rerun.exitcode == 0 and _state(case) == after
        shutil.rmtree(case)
    assert seen["none"] > 0 and seen["all"] > 0, seen
    print(f"\n{KILLS} kills over {seconds:.2f} s of import: {seen}")
