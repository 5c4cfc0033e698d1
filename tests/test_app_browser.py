"""The app in a real browser: served by ``streamlit run`` on a free port, driven by headless
Chromium through playwright. Each page loads without a Streamlit exception; screenshots go to
``tests/_artifacts/`` (gitignored) for a human to look at."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from exchina.ui.navigation import PAGES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "_artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SERVER_START_S = 60
FIRST_PAGE_S = 400  # the first page backtests the flagship and its peer (cached afterwards)
PAGE_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """``streamlit run app.py`` on a free port with an empty store (demo data); killed after."""
    port = _free_port()
    env = dict(os.environ, EXCHINA_STORE=str(tmp_path_factory.mktemp("store")))
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://localhost:{port}"
            _wait_for_server(url, proc, SERVER_START_S)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _settle(page, timeout_s: float) -> None:
    """Wait until the page title is drawn and Streamlit has stopped running the script."""
    page.wait_for_selector("h1", timeout=timeout_s * 1000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')",
        timeout=timeout_s * 1000,
    )
    page.wait_for_timeout(1500)  # let plotly finish drawing


def _screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to it."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 9000)})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_every_page_in_chromium(server):
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser there is a broken run
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for i, (file, title, _) in enumerate(PAGES):
                slug = file.removesuffix(".py")
                page.goto(f"{server}/{slug}" if i else server)
                _settle(page, FIRST_PAGE_S if i == 0 else PAGE_S)
                assert page.locator("[data-testid=stException]").count() == 0, title
                assert page.get_by_text("SYNTHETIC DEMO DATA").count() >= 1, title
                _screenshot(page, ARTIFACTS / f"{i + 1}_{title.lower()}.png")
        finally:
            browser.close()
