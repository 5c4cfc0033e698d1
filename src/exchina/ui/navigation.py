"""The app's frame: page config, data key, banner, sidebar and the seven pages (``st.navigation``).

Pages are scripts in this package (``page_*.py``) so ``AppTest.switch_page`` can open each one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from exchina.core.quiet import silence_solver_banner
from exchina.ui import data, layout

PAGE_DIR = Path(__file__).resolve().parent
PAGES = (
    ("page_overview.py", "Overview", ":material/dashboard:"),
    ("page_universe.py", "Universe", ":material/public:"),
    ("page_methodology.py", "Methodology", ":material/tune:"),
    ("page_weights.py", "Weights", ":material/pie_chart:"),
    ("page_performance.py", "Performance", ":material/show_chart:"),
    ("page_factsheet.py", "Factsheet", ":material/description:"),
    ("page_downloads.py", "Downloads", ":material/download:"),
)


def page_path(title: str) -> Path:
    """The script of the page titled ``title``."""
    return next(PAGE_DIR / f for f, t, _ in PAGES if t == title)


def _icon() -> Image.Image:
    """The browser-tab icon, drawn here: a Material icon would be fetched from Google's font
    servers, and the app must work offline. A blue disc with a white ring (the chain's link)."""
    yy, xx = np.mgrid[0:32, 0:32]
    r = np.hypot(yy - 15.5, xx - 15.5)
    img = np.zeros((32, 32, 4), dtype=np.uint8)
    img[r <= 15.5] = (31, 95, 153, 255)  # the app's primary colour
    img[(r >= 7) & (r <= 10)] = (255, 255, 255, 255)
    return Image.fromarray(img, "RGBA")


def main() -> None:
    """Render the frame and run the selected page."""
    silence_solver_banner()  # keep HiGHS's banner out of the server's terminal
    st.set_page_config(page_title="exchina", page_icon=_icon(), layout="wide")
    pages = [
        st.Page(PAGE_DIR / f, title=t, icon=icon, default=(i == 0))
        for i, (f, t, icon) in enumerate(PAGES)
    ]
    nav = st.navigation(pages)
    market = layout.guarded(lambda: data.market(layout.market_key()))
    if market is None:
        st.stop()
    layout.banner(market)
    layout.sidebar(market)
    nav.run()
