"""The Performance page once computed, in headless Debian Chromium (playwright): one server on a
result cache (computed by the first visit), then Overview -> Performance ``rounds`` times, and
each of the page's tabs opened in turn; prints the times (s) and their medians.

    .venv/bin/python bench/bench_performance_page.py [rounds]

Target (issue 14): page switches and filters under 1 s once computed.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser_support import SCRIPT_DONE, app_command, free_port, launch, navigate, serve, settle

OVERVIEW_TITLE = "exchina Allied Mine-to-Magnet"
TIMEOUT_S = 900
TABS = ("Drawdown", "Rolling volatility", "Levels", "Attribution", "Export-control events",
        "Calendar-year returns")  # fmt: skip


def _tab(page, label: str) -> float:
    """Seconds from a click on the tab ``label`` until its rerun has finished."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    t0 = time.perf_counter()
    page.get_by_role("tab", name=label).first.click()
    with contextlib.suppress(PlaywrightTimeout):  # until the tab's rerun has started
        page.wait_for_function(f"() => !({SCRIPT_DONE})()", timeout=2000, polling=20)
    settle(page, TIMEOUT_S, "Performance")
    return time.perf_counter() - t0


def main() -> None:
    from playwright.sync_api import sync_playwright

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    switches: list[float] = []
    tabs: dict[str, list[float]] = {t: [] for t in TABS}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmpd = Path(tmp)
        env = {"EXCHINA_STORE": str(tmpd / "store"), "EXCHINA_CACHE": str(tmpd / "cache")}
        env = {**env, **{k: v for k, v in os.environ.items() if k.startswith("EXCHINA_")}}
        browser = launch(p)
        port = free_port()
        with serve(app_command(port), port, env, tmpd / "app.log") as s:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(s.url)
            settle(page, TIMEOUT_S, OVERVIEW_TITLE)
            navigate(page, "Performance", "Performance", TIMEOUT_S)  # computes
            has_tabs = page.get_by_role("tab", name="Drawdown").count() > 0
            for _ in range(rounds):
                navigate(page, "Overview", OVERVIEW_TITLE, TIMEOUT_S)
                t0 = time.perf_counter()
                navigate(page, "Performance", "Performance", TIMEOUT_S)
                switches.append(time.perf_counter() - t0)
                if has_tabs:
                    for label in TABS:
                        tabs[label].append(_tab(page, label))
        browser.close()
    load = os.getloadavg()[0]
    print(f"Performance page once computed (s; load average {load:.1f})")
    print("switch from Overview:", " ".join(f"{t:.2f}" for t in switches))
    print(f"  median {statistics.median(switches):.2f}, best {min(switches):.2f}")
    for label, times in tabs.items():
        if times:
            print(f"tab {label}: median {statistics.median(times):.2f}, max {max(times):.2f}")


if __name__ == "__main__":
    main()
