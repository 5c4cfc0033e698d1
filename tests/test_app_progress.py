"""The app's per-rebalance progress bar: ``run_backtest`` reports each scheduled rebalance (its
benchmark methodology's too), the app records the reports by job from any thread, and a page
that waits for a backtest draws them, gets the result or the error, and leaves no bar behind.
(The bar seen in a real browser on a first launch: tests/test_app_browser.py.)"""

from __future__ import annotations

import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from exchina.backtest import run_backtest
from exchina.core.errors import InputError
from exchina.index.methodology import load_methodology, resolve_methodology
from exchina.index.schedule import rebalance_dates
from exchina.ui import progress

START, END = "2019-01-01", "2019-12-31"


def test_backtest_reports_every_rebalance_of_it_and_its_benchmark():
    from exchina.core.sources import load_market

    market = load_market("demo")
    flagship = load_methodology(resolve_methodology("flagship"))
    remx_like = load_methodology(resolve_methodology("remx_like"))
    calls: list[tuple[str, int, int]] = []
    run_backtest(
        flagship,
        market,
        START,
        END,
        benchmark=remx_like,
        on_rebalance=lambda *a: calls.append(a),
    )
    expected = []
    for m in (flagship, remx_like):  # the methodology, then its benchmark methodology
        n = len(rebalance_dates(m, START, END))
        expected += [(m.name, i, n) for i in range(n)]
    assert calls == expected and len(calls) >= 4


def test_reports_are_kept_by_job_from_any_thread():
    report = progress.reporter("job-a")
    worker = threading.Thread(target=report, args=("Index", 2, 8), name="exchina-test")
    worker.start()
    worker.join()
    assert progress.step("job-a") == progress.Step("Index", 2, 8)
    assert progress.step("job-b") is None
    assert progress.text("Running the backtest", progress.step("job-a"), 3.2) == (
        "Running the backtest: Index, rebalance 3 of 8 (3 s)"
    )
    assert progress.text("Loading", None, 0.6) == "Loading (1 s)"
    progress.forget("job-a")
    assert progress.step("job-a") is None


def test_outside_a_page_it_just_runs():
    assert progress.with_progress("job", lambda: 42, "Work") == 42
    with pytest.raises(InputError, match="bad"):
        progress.with_progress("job", lambda: (_ for _ in ()).throw(InputError("bad")), "Work")


def _slow_page() -> None:
    """A page waiting 1.5 s for work that reports three of six rebalances and returns 7; then
    for work that fails."""
    import time

    import streamlit as st

    from exchina.core.errors import InputError
    from exchina.ui import progress

    def work(fail: bool) -> int:
        report = progress.reporter("slow-job")
        for i in range(3):
            report("Slow index", i, 6)
            time.sleep(0.5)
        if fail:
            raise InputError("no prices")
        return 7

    st.write(f"result {progress.with_progress('slow-job', lambda: work(False), 'Running')}")
    try:
        progress.with_progress("slow-job", lambda: work(True), "Running")
    except InputError as exc:
        st.write(f"error {exc}")


def test_a_page_waits_for_the_work_and_no_bar_is_left():
    t0 = time.perf_counter()
    at = AppTest.from_function(_slow_page, default_timeout=60).run()
    assert time.perf_counter() - t0 >= 3.0  # both waits happened in the page's run
    assert not at.exception, [e.value for e in at.exception]
    texts = [m.value for m in at.markdown]
    assert texts == ["result 7", "error no prices"]
    assert at.get("progress") == []  # the bar is gone once the work is done
