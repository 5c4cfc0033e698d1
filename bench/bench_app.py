"""How quickly the app opens, against a bare Streamlit page served the same way, in headless
Debian Chromium (playwright).

A launch starts the server (``exchina app --headless``, the README's command; the bare page with
``streamlit run`` and the same settings), waits until it answers, then times the first page from
``goto`` until its frame is drawn (title, banner, sidebar) and until it is complete (script
finished, no spinner). The first launch starts from an empty result cache; the relaunch is a new
server on the same cache. Then each page is opened from the sidebar twice (first computes, second
is the "once computed" figure) and a Universe filter is applied.

    .venv/bin/python bench/bench_app.py

Targets: first launch within 3x a bare page (frame), relaunch within 2x (complete page), page
switches and filters under 1 s once computed.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser_support import (
    BARE_PAGE,
    app_command,
    bare_command,
    free_port,
    launch,
    navigate,
    serve,
    settle,
)

# the pages' cached functions are defined outside a Streamlit run here (only their titles are
# read): Streamlit's "No runtime found" warning, once per function, is not about the app
from streamlit.runtime.caching import cache_data_api

logging.getLogger(cache_data_api.__name__).setLevel(logging.ERROR)

from exchina.ui.navigation import PAGES  # noqa: E402

OVERVIEW_TITLE = "exchina Allied Mine-to-Magnet"
TIMEOUT_S = 900


def _open(browser, url: str, title: str | None) -> tuple[float, float]:
    """(seconds to the frame, seconds to the complete page) of a first visit to ``url``."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("h1", timeout=TIMEOUT_S * 1000)
    frame = time.perf_counter() - t0
    settle(page, TIMEOUT_S, title)
    full = time.perf_counter() - t0
    page.close()
    return frame, full


def _switches(browser, url: str) -> tuple[list[tuple[str, float, float]], float]:
    """Each page from the sidebar, twice: (title, first s, again s); then a Universe filter (s)."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    settle(page, TIMEOUT_S, OVERVIEW_TITLE)
    first: dict[str, float] = {}
    again: dict[str, float] = {}
    order = [t for _, t, _ in PAGES[1:]] + [PAGES[0][1]]
    for times in (first, again):
        for title in order:
            heading = OVERVIEW_TITLE if title == "Overview" else title
            t0 = time.perf_counter()
            navigate(page, title, heading, TIMEOUT_S)
            times[title] = time.perf_counter() - t0
    navigate(page, "Universe", "Universe", TIMEOUT_S)
    box = page.get_by_label("Search name or ticker")
    t0 = time.perf_counter()
    box.fill("lynas")
    box.press("Enter")
    page.get_by_text("1 of ").first.wait_for(timeout=TIMEOUT_S * 1000)
    settle(page, TIMEOUT_S, "Universe")
    filt = time.perf_counter() - t0
    page.close()
    return [(t, first[t], again[t]) for t in order], filt


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmpd = Path(tmp)
        bare = tmpd / "bare.py"
        bare.write_text(BARE_PAGE)
        env = {"EXCHINA_STORE": str(tmpd / "store"), "EXCHINA_CACHE": str(tmpd / "cache")}
        browser = launch(p)
        rows = []
        for label in ("first launch", "relaunch"):
            port = free_port()
            with serve(bare_command(bare, port), port, env, tmpd / "bare.log") as s:
                bframe, bfull = _open(browser, s.url, "Bare page")
                rows.append((f"bare page, {label}", s.startup_s, bframe, bfull))
        port = free_port()
        with serve(app_command(port), port, env, tmpd / "app1.log") as s:
            frame, full = _open(browser, s.url, OVERVIEW_TITLE)
            rows.append(("app, first launch (empty cache)", s.startup_s, frame, full))
            switches, filt = _switches(browser, s.url)
        port = free_port()
        with serve(app_command(port), port, env, tmpd / "app2.log") as s:
            rframe, rfull = _open(browser, s.url, OVERVIEW_TITLE)
            rows.append(("app, relaunch (cache on disk)", s.startup_s, rframe, rfull))
        browser.close()

    print("Opening the app in headless Chromium (seconds; page = goto until drawn)")
    print(f"{'launch':36s} {'server':>7s} {'frame':>7s} {'complete':>9s}")
    for name, server, fr, fu in rows:
        print(f"{name:36s} {server:7.2f} {fr:7.2f} {fu:9.2f}")
    bare_first, bare_re = rows[0][3], rows[1][3]
    r_first, r_first_full = rows[2][2] / bare_first, rows[2][3] / bare_first
    r_re = rows[3][3] / bare_re
    r_cmd = (rows[3][1] + rows[3][3]) / (rows[1][1] + rows[1][3])
    print()
    print(f"{'ratio':52s} {'value':>7s} {'target':>7s} met")
    for name, value, target in (
        ("first launch: app frame / bare page", r_first, 3.0),
        ("relaunch: app complete page / bare page", r_re, 2.0),
        ("relaunch, command to page: app / bare", r_cmd, 2.0),
        ("first launch: app complete page / bare page (computes)", r_first_full, float("nan")),
    ):
        met = "yes" if value <= target else ("-" if target != target else "NO")
        print(f"{name:52s} {value:6.1f}x {target:6.1f}x {met}")
    print()
    print(f"{'page switch (sidebar)':24s} {'first s':>8s} {'again s':>8s} under 1 s")
    for title, a, b in switches:
        print(f"{title:24s} {a:8.2f} {b:8.2f} {'yes' if b < 1 else 'NO'}")
    print(f"{'Universe search filter':24s} {'':8s} {filt:8.2f} {'yes' if filt < 1 else 'NO'}")


if __name__ == "__main__":
    main()
