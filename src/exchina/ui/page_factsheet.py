"""Factsheet page: the index factsheet an index provider publishes (``exchina.backtest.factsheet``),
shown in the page and offered as HTML and PDF downloads named after the selected methodology."""

from __future__ import annotations

import re

import streamlit as st
import streamlit.components.v1 as components

from exchina.ui import data, layout


def render() -> None:
    ctx = layout.context()
    st.title("Factsheet")
    st.caption(
        f"**{ctx.methodology.name}** at the last price date, on {ctx.market.label}: key facts, "
        "trailing and calendar-year returns (price, total and net total return beside the "
        "benchmark), risk, top 10, weights and the weighted China score. The same as "
        "`exchina factsheet`."
    )
    page = layout.guarded(lambda: data.factsheet_html(ctx.text, ctx.key))
    if page is None:
        return
    slug = re.sub(r"[^a-z0-9]+", "_", ctx.methodology.name.lower()).strip("_")
    tag = "_SYNTHETIC-DEMO" if ctx.market.synthetic else ""
    c1, c2 = st.columns(2)
    c1.download_button(
        "Factsheet (HTML)",
        page,
        file_name=f"{slug}_factsheet{tag}.html",
        mime="text/html",
        key="factsheet_html",
    )
    if c2.toggle("Prepare the PDF (prints the page with Chromium)", key="factsheet_pdf_on"):
        pdf = layout.guarded(lambda: data.factsheet_pdf(ctx.text, ctx.key))
        if pdf is not None:
            c2.download_button(
                "Factsheet (PDF)",
                pdf,
                file_name=f"{slug}_factsheet{tag}.pdf",
                mime="application/pdf",
                key="factsheet_pdf",
            )
    components.html(page, height=1600, scrolling=True)


if __name__ == "__main__":
    render()
