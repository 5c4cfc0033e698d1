"""Per-rebalance progress of the backtests the app computes, drawn while a page waits for one.

``run_backtest`` reports each scheduled rebalance to its ``on_rebalance`` callback; ``reporter``
makes one that records the latest report under a job name (the cached call's key) in a table
shared by every thread, so the bar shows the same progress whether the page's own worker or
``exchina app``'s warm-up thread does the work (a page then waits on that thread's computation).
``with_progress`` runs the work in a worker thread and, when it takes longer than a moment,
draws a progress bar from that table until it is done.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

T = TypeVar("T")
THREAD_PREFIX = "exchina-"  # the app's own threads (workers, warm-up) are named so
DELAY_S = 1.0  # work done within a second draws no bar (the issue: "where work takes longer than a second")
POLL_S = 0.25


@dataclass(frozen=True)
class Step:
    """The latest report of a job: the methodology being backtested, rebalances done, total."""

    methodology: str
    done: int
    total: int


_lock = threading.Lock()
_steps: dict[str, Step] = {}
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix=THREAD_PREFIX)


def reporter(job: str) -> Callable[[str, int, int], None]:
    """An ``on_rebalance`` callback for ``run_backtest`` that records its reports under ``job``."""

    def report(methodology: str, done: int, total: int) -> None:
        with _lock:
            _steps[job] = Step(methodology, done, total)

    return report


def step(job: str) -> Step | None:
    """The latest report of ``job`` (None before the first)."""
    with _lock:
        return _steps.get(job)


def forget(job: str) -> None:
    """Drop ``job``'s reports (its work is done)."""
    with _lock:
        _steps.pop(job, None)


def text(label: str, now: Step | None, seconds: float) -> str:
    """What the bar says: the work, the rebalance under way and the seconds so far."""
    if now is None or now.total == 0:
        return f"{label} ({seconds:.0f} s)"
    return (
        f"{label}: {now.methodology}, rebalance {min(now.done + 1, now.total)} of {now.total} "
        f"({seconds:.0f} s)"
    )


def with_progress(job: str, fn: Callable[[], T], label: str) -> T:
    """``fn()`` (the cached call whose computation reports under ``job``), with a progress bar
    on the page while it runs longer than ``DELAY_S``. Outside a page's script run (a worker,
    the warm-up thread, a bare import) it simply calls ``fn``. Errors are raised here."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return fn()
    future = _pool.submit(fn)
    try:
        return future.result(timeout=DELAY_S)
    except concurrent.futures.TimeoutError:
        pass
    t0 = time.monotonic() - DELAY_S
    bar = st.empty()
    try:
        while True:
            now = step(job)
            fraction = now.done / now.total if now is not None and now.total else 0.0
            bar.progress(fraction, text=text(label, now, time.monotonic() - t0))
            try:
                return future.result(timeout=POLL_S)
            except concurrent.futures.TimeoutError:
                continue
    finally:
        bar.empty()


class _NotFromAppThreads(logging.Filter):
    """Streamlit warns when a thread without a page's session calls a cached function: the
    app's workers and warm-up thread do so on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.threadName or not record.threadName.startswith(THREAD_PREFIX)


def quiet_app_threads() -> None:
    """Keep Streamlit's "missing ScriptRunContext" warning about the app's threads out of the
    server's terminal (once per process)."""
    log = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    if not any(isinstance(f, _NotFromAppThreads) for f in log.filters):
        log.addFilter(_NotFromAppThreads())


quiet_app_threads()
