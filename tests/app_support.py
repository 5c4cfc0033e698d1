"""What the AppTest suites share: the app file, each page's script by title, and opening a page.
Each suite also asks for the ``cold_streamlit_caches`` fixture (conftest)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from exchina.ui.navigation import PAGES

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
PAGE = {title: f"src/exchina/ui/{file}" for file, title, _ in PAGES}
FLAGSHIP = "exchina Allied Mine-to-Magnet"


def open_page(page: str | None = None, timeout: float = 900) -> AppTest:
    """The app run once, on ``page`` (a title of ``PAGES``) or the first page."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if page is not None:
        at.switch_page(PAGE[page])
    return at.run()
