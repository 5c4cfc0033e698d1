"""The app's frame: page config, data key, banner, sidebar and the six pages (``st.navigation``).

Pages are scripts in this package (``page_*.py``) so ``AppTest.switch_page`` can open each one.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from exchina.core.quiet import silence_solver_banner
from exchina.ui import data, layout

PAGE_DIR = Path(__file__).resolve().parent
PAGES = (
    ("page_overview.py", "Overview", ":material/dashboard:"),
    ("page_universe.py", "Universe", ":material/public:"),
    ("page_methodology.py", "Methodology", ":material/tune:"),
    ("page_weights.py", "Weights", ":material/pie_chart:"),
    ("page_performance.py", "Performance", ":material/show_chart:"),
    ("page_downloads.py", "Downloads", ":material/download:"),
)


def page_path(title: str) -> Path:
    """The script of the page titled ``title``."""
    return next(PAGE_DIR / f for f, t, _ in PAGES if t == title)


def main() -> None:
    """Render the frame and run the selected page."""
    silence_solver_banner()  # keep HiGHS's banner out of the server's terminal
    st.set_page_config(page_title="exchina", page_icon=":material/hub:", layout="wide")
    pages = [
        st.Page(PAGE_DIR / f, title=t, icon=icon, default=(i == 0))
        for i, (f, t, icon) in enumerate(PAGES)
    ]
    nav = st.navigation(pages)
    market = layout.guarded(lambda: data.market(data.data_key()))
    if market is None:
        st.stop()
    layout.banner(market)
    layout.sidebar(market)
    nav.run()
