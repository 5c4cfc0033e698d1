"""The app in a real browser, as a person uses it: served by ``exchina app --headless`` (the
README's command) on a free port, driven by headless Debian Chromium through playwright.

It sees a progress bar count the rebalances of the first backtest, walks every page, changes a
stage bound and the cap in the methodology form, compares four methodologies, and fails on a
Streamlit exception, a broken image, a request that leaves this machine (fonts, icons,
telemetry), a chart legend over its axis labels, a metric label cut off, a Universe or Weights
table that scrolls sideways at 1440 px, or a page that takes more than twice as long as a bare
Streamlit page once its results are computed.
Screenshots of every step go to ``tests/_artifacts/`` (gitignored) for a human to look at."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from browser_support import (
    BARE_PAGE,
    CHROMIUM,
    app_command,
    bare_command,
    broken_images,
    free_port,
    launch,
    navigate,
    serve,
    settle,
    watch,
)

from exchina.ui.navigation import PAGES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "_artifacts"
WIDTH = 1440
FIRST_PAGE_S = 600  # the first page backtests the flagship and its comparison
PAGE_S = 300
FLAGSHIP = "exchina Allied Mine-to-Magnet"
EDITED = f"{FLAGSHIP} (edited)"
# the target: a page, once its results are computed, loads in a new session within twice
# a bare Streamlit page served the same way (times in tests/_artifacts/page_load_s.json)
SLOW_FACTOR = 2.0


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser there is a broken run
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An empty store (the demo market) and an empty result cache of the module's own."""
    root = tmp_path_factory.mktemp("browser")
    return {"EXCHINA_STORE": str(root / "store"), "EXCHINA_CACHE": str(root / "cache")}


def _load_s(browser, url: str, title: str) -> float:
    """Seconds from ``goto`` until the page is drawn and its script has finished (a new
    session each time; nothing may leave this machine)."""
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    seen = watch(page)
    try:
        t0 = time.perf_counter()
        page.goto(url)
        settle(page, PAGE_S, title)
        took = time.perf_counter() - t0
        assert seen.outside == [], seen.outside[:5]
        return took
    finally:
        page.close()


@pytest.fixture(scope="module")
def bare_s(chromium, env, tmp_path_factory):
    """A bare Streamlit page served the same way, kept running for the module: ``bare_s()``
    loads it now (best of two new sessions), so each page is compared with a bare page measured
    next to it, under the same machine load."""
    folder = tmp_path_factory.mktemp("bare")
    script = folder / "bare.py"
    script.write_text(BARE_PAGE)
    port = free_port()
    with serve(bare_command(script, port), port, env, folder / "bare.log") as s:
        _load_s(chromium, s.url, "Bare page")

        def measure() -> float:
            return min(_load_s(chromium, s.url, "Bare page") for _ in range(2))

        yield measure


@pytest.fixture(scope="module")
def app_url(chromium, env, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    with serve(app_command(port), port, env, log) as s:
        yield s.url


def _shot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to it."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": WIDTH, "height": min(int(height) + 40, 9000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.set_viewport_size({"width": WIDTH, "height": 1000})


def _legends_over_ticks(page) -> list[str]:
    """Titles of the charts whose legend covers their x-axis labels (a legend of two rows or
    more, anchored by its bottom, grew up over the years of the axis)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => {
            const ticks = [...p.querySelectorAll('.xtick text')]
                .map(t => t.getBoundingClientRect()).filter(r => r.height > 0);
            const names = [...p.querySelectorAll('.legend .legendtext')]
                .map(t => t.getBoundingClientRect()).filter(r => r.height > 0);
            if (!ticks.length || !names.length) return false;
            return Math.min(...names.map(r => r.top)) < Math.max(...ticks.map(r => r.bottom));
        }).map(p => p.querySelector('.gtitle')?.textContent ?? '?')"""
    )


def _cut_metric_labels(page) -> list[str]:
    """Metric labels cut off with an ellipsis (wider than their column)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stMetricLabel]')]
            .filter(e => [...e.querySelectorAll('*')].some(x => x.scrollWidth > x.clientWidth + 1))
            .map(e => e.textContent)"""
    )


def _check(page, where: str) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, where
    assert broken_images(page) == [], where
    assert page.get_by_text("SYNTHETIC DEMO DATA").count() >= 1, where
    assert _legends_over_ticks(page) == [], where
    assert _cut_metric_labels(page) == [], where


def _go(page, title: str, heading: str, timeout: float = PAGE_S) -> None:
    navigate(page, title, heading, timeout)


def _first_table_scrolls_sideways(page) -> bool:
    return page.evaluate(
        """() => { const e = document.querySelector('[data-testid=stDataFrame] .dvn-scroller');
                   return e.scrollWidth > e.clientWidth + 2; }"""
    )


def _edit_and_run(page) -> str:
    """Upper bound of the first stage row (mining) to 45%, the cap to 9%, Check and run; the
    TOML of the selected methodology afterwards."""
    form = page.locator("[data-testid=stForm]")
    grid = form.locator("[data-testid=stDataFrame]").first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # the page below the form is still drawing
    box = grid.bounding_box()
    assert box is not None
    # double-click the "upper %" cell of the first row (rows are 35 px under a 35 px header)
    page.mouse.dblclick(box["x"] + box["width"] - 40, box["y"] + 35 + 17)
    page.wait_for_timeout(500)
    page.keyboard.press("Control+A")
    page.keyboard.type("45", delay=100)
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    cap = form.get_by_role("spinbutton", name="Max weight per name %")
    cap.click()
    cap.fill("9")
    cap.press("Tab")
    page.wait_for_timeout(500)
    assert cap.input_value() in ("9", "9.00")
    page.screenshot(path=str(ARTIFACTS / "6b_methodology_form_filled.png"))
    form.get_by_role("button", name="Check and run").click()
    page.get_by_text("is now the selected methodology").first.wait_for(timeout=PAGE_S * 1000)
    settle(page, PAGE_S, "Methodology")
    _check(page, "Methodology after the form")
    page.get_by_role("tab", name="TOML").click()  # sent only once open: wait for it
    page.locator("[data-testid=stCode]").last.wait_for(timeout=PAGE_S * 1000)
    settle(page, PAGE_S, "Methodology")
    return page.locator("[data-testid=stCode]").last.inner_text()


def test_a_person_walks_the_app(chromium, app_url, bare_s):
    page = chromium.new_page(viewport={"width": WIDTH, "height": 1000})
    seen = watch(page)
    page.goto(app_url)
    # a first launch backtests the flagship: a bar counts its rebalances meanwhile
    bar = page.locator("[data-testid=stProgress]", has_text=re.compile(r"rebalance \d+ of \d+"))
    bar.first.wait_for(timeout=FIRST_PAGE_S * 1000)
    assert FLAGSHIP in bar.first.inner_text()
    settle(page, FIRST_PAGE_S, FLAGSHIP)
    assert page.locator("[data-testid=stProgress]").count() == 0
    _check(page, "Overview")
    _shot(page, "1_overview")

    # every page once (each computes what it needs the first time: wait for it)
    for i, (_, title, _) in enumerate(PAGES[1:], start=2):
        _go(page, title, title, FIRST_PAGE_S)
        _check(page, title)
        if title in ("Universe", "Weights"):  # the companies; the constituents
            page.wait_for_selector("[data-testid=stDataFrame] .dvn-scroller")
            assert not _first_table_scrolls_sideways(page), f"{title} table scrolls sideways"
        if title == "Factsheet":  # the factsheet itself, drawn in its frame
            sheet = page.frame_locator("iframe").first
            sheet.get_by_text("Top 10 constituents").wait_for(timeout=PAGE_S * 1000)
            assert sheet.get_by_text(FLAGSHIP).count() >= 1
            assert page.get_by_role("button", name="Factsheet (HTML)").count() == 1
        _shot(page, f"{i}_{title.lower()}")

    # the methodology form: a stage bound and the cap, then check and run (the bounds grid is
    # a canvas: an edit made while it is still drawing can be lost, so the round is retried)
    for _attempt in range(3):
        _go(page, "Methodology", "Methodology")
        toml = _edit_and_run(page)
        if re.search(r"mining = \[\s*0\.0,\s*0\.45\s*\]", toml):
            break
    else:
        pytest.fail(f"the stage bound edit never took: {toml[:1500]}")
    assert "max_weight = 0.09" in toml
    _shot(page, "7_methodology_edited")
    assert EDITED in page.locator("h3").first.inner_text()

    # four methodologies side by side: the edited one, its comparison, and two more
    _go(page, "Performance", "Performance")
    picker = page.locator("[data-testid=stMultiSelect]").first
    for name in ("Equal Weight", "Minimum Variance"):
        for _attempt in range(3):  # a pick made while the page reruns can be lost: retry
            box = picker.locator("input").first
            box.click()
            box.type(name, delay=50)  # filters the options; Enter picks the first match
            box.press("Enter")
            page.keyboard.press("Escape")
            settle(page, FIRST_PAGE_S, "Performance")
            if name in picker.inner_text():
                break
    assert picker.inner_text().count(".toml") + picker.inner_text().count("edited") >= 4
    _check(page, "Performance with four methodologies")
    names = (EDITED, "REMX-like Rare Earth & Strategic Metals", "Equal Weight", "Minimum")
    deadline = time.monotonic() + FIRST_PAGE_S  # a picked methodology's backtest may still run
    while True:
        legend = page.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")
        missing = [n for n in names if not any(n in t for t in legend)]
        if not missing or time.monotonic() > deadline:
            break
        page.wait_for_timeout(1000)
    assert not missing, (missing, legend)
    _shot(page, "8_performance_four")

    # once computed, every page loads within twice a bare Streamlit page (a new session: the
    # flagship is selected again), each against a bare page loaded right before it (best of two
    # each). A page over the bound is measured again, up to three pairs, and once more, up to
    # three pairs, after every other page (minutes later): a load spike or a neighbouring test
    # on a shared machine is not taken for a slow page; the bound itself stays 2x.
    took: dict[str, dict[str, float]] = {}

    def measure(file: str, title: str) -> None:
        slug = file.removesuffix(".py")
        heading = FLAGSHIP if title == "Overview" else title
        url = f"{app_url}/{slug}" if title != "Overview" else app_url
        for _ in range(3):
            bare = bare_s()
            page_s = min(_load_s(chromium, url, heading) for _ in range(2))
            pair = {"page": round(page_s, 2), "bare": round(bare, 2), "ratio": page_s / bare}
            pairs = took.get(title, {}).get("pairs", 0) + 1
            if title not in took or pair["ratio"] < took[title]["ratio"]:
                took[title] = pair
            took[title]["pairs"] = pairs
            if took[title]["ratio"] <= SLOW_FACTOR:
                return

    for file, title, _ in PAGES:
        measure(file, title)
    for file, title, _ in PAGES:
        if took[title]["ratio"] > SLOW_FACTOR:
            measure(file, title)
    (ARTIFACTS / "page_load_s.json").write_text(json.dumps(took, indent=1))
    slow = {t: v for t, v in took.items() if v["ratio"] > SLOW_FACTOR}
    assert slow == {}, f"slower than {SLOW_FACTOR} x a bare page loaded beside it: {slow}"

    assert seen.outside == [], f"requests left this machine: {seen.outside[:5]}"
    assert seen.failed == [], f"images failed: {seen.failed[:5]}"
    page.close()
