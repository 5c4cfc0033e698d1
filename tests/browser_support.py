"""Serving the app and driving it in headless Debian Chromium (playwright), for the browser test
and ``bench/bench_app.py``: a free port, a served Streamlit script, a page that records every
request leaving this machine, and "settled" (the script finished and the page is drawn)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[1]
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
# the flags of `exchina app` (and .streamlit/config.toml) for a bare `streamlit run`
STREAMLIT_FLAGS = [
    "--server.headless", "true", "--browser.gatherUsageStats", "false",
    "--server.showEmailPrompt", "false", "--server.fileWatcherType", "none",
]  # fmt: skip
BARE_PAGE = 'import streamlit as st\n\nst.title("Bare page")\nst.write("Nothing else.")\n'
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"no server answered on {url} within {timeout} s")


def app_command(port: int) -> list[str]:
    """The README's way to open the app: ``exchina app`` (headless here)."""
    exe = Path(sys.executable).with_name("exchina")
    return [str(exe), "app", "--headless", "--port", str(port)]


def bare_command(script: Path, port: int) -> list[str]:
    """A bare Streamlit page served with the same settings."""
    return [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
            *STREAMLIT_FLAGS]  # fmt: skip


@dataclass
class Served:
    url: str
    startup_s: float  # process start until the server answers
    log: Path


@contextlib.contextmanager
def serve(command: list[str], port: int, env: dict[str, str], log: Path,
          timeout: float = 120) -> Iterator[Served]:  # fmt: skip
    """Run ``command`` (a Streamlit server on ``port``) until the block ends; killed after."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://localhost:{port}"
            wait_for_server(url, proc, timeout)
            yield Served(url, time.perf_counter() - t0, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Watch:
    """Requests to hosts other than this machine, and images that failed to load."""

    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def watch(page) -> Watch:
    """Record every request that leaves this machine (a font, an icon, telemetry) and block it."""
    w = Watch()

    def route(r):
        host = urlparse(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            w.outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on(
        "requestfailed",
        lambda req: w.failed.append(req.url) if req.resource_type == "image" else None,
    )
    return w


SCRIPT_DONE = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid=stSpinner]')
        && !document.querySelector('[data-testid=stStatusWidget]');
}"""


def settle(page, timeout_s: float, title: str | None = None) -> None:
    """Wait until the page shows its title (``title`` when given) and Streamlit has finished the
    script run: the app root's script state is ``notRunning`` and no spinner shows. (A page draws
    its title before computing, and Streamlit's running indicator appears only after half a
    second, so neither alone says the page is complete.)"""
    try:
        if title is None:
            page.wait_for_selector("h1", timeout=timeout_s * 1000)
        else:
            page.locator("h1", has_text=title).first.wait_for(timeout=timeout_s * 1000)
        page.wait_for_function(SCRIPT_DONE, timeout=timeout_s * 1000, polling=50)
    except PlaywrightTimeout:
        raise AssertionError(f"not settled on {title!r} in {timeout_s} s: {state(page)}") from None


def state(page) -> dict:
    """What the page shows: headings, spinners, the script state (for a failure message)."""
    return page.evaluate(
        """() => ({url: location.href,
                   h1: [...document.querySelectorAll('h1')].map(e => e.textContent),
                   spinners: [...document.querySelectorAll('[data-testid=stSpinner]')]
                       .map(e => e.textContent),
                   running: !!document.querySelector('[data-testid=stStatusWidget]'),
                   script: document.querySelector('[data-testid=stApp]')
                       ?.getAttribute('data-test-script-state')})"""
    )


def navigate(page, title: str, heading: str, timeout_s: float) -> None:
    """Open the page ``title`` from the sidebar and wait until its run has finished and it shows
    ``heading``. Another page: wait for its path and its heading first (drawn only by the new
    run, so the previous run's finished state is not taken for the new one, however fast the
    run). The page already open: wait (up to 5 s) until the click's rerun has started."""
    link = page.locator("[data-testid=stSidebarNav] a", has_text=title).first
    path = urlparse(link.get_attribute("href") or "").path.rstrip("/")
    if path == urlparse(page.url).path.rstrip("/"):
        link.click()
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(f"() => !({SCRIPT_DONE})()", timeout=5000, polling=20)
    else:
        link.click()
        page.wait_for_function(
            """([path, heading]) => location.pathname.replace(/\\/$/, '') === path
                && [...document.querySelectorAll('h1')].some(h => h.textContent.includes(heading))""",
            arg=[path, heading],
            timeout=timeout_s * 1000,
            polling=20,
        )
    settle(page, timeout_s, heading)


def broken_images(page) -> list[str]:
    """Images on the page that did not load (complete but zero width)."""
    return page.evaluate(
        "() => [...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)"
    )


def launch(p):
    """Debian Chromium through playwright (never a downloaded browser)."""
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
