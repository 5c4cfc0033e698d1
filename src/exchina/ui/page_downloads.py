"""Downloads page: constituents (CSV, Parquet), the methodology (TOML), levels, the HTML report.
Files built from synthetic data say so in their names and carry a ``data_source`` column."""

from __future__ import annotations

import re

import streamlit as st

from exchina.ui import data, layout


def render() -> None:
    ctx = layout.context()
    st.title("Downloads")
    slug = re.sub(r"[^a-z0-9]+", "_", ctx.methodology.name.lower()).strip("_")
    tag = "_SYNTHETIC-DEMO" if ctx.market.synthetic else ""
    st.caption(f"**{ctx.methodology.name}** on {ctx.market.label}.")
    st.download_button(
        "Methodology (TOML)",
        ctx.text,
        file_name=f"{slug}.toml",
        mime="application/toml",
        key="download_toml",
    )
    # the backtest first: its progress bar counts rebalances (the latest one is redone from it)
    res = layout.guarded(lambda: data.backtest(ctx.text, ctx.key))
    if res is None:
        return
    # the files are written when their button is clicked (deferred), not at every visit
    reb = layout.guarded(lambda: data.current_rebalance(ctx.text, ctx.key))
    if reb is not None:
        eff = reb.report["dates"]["effective"]
        c1, c2 = st.columns(2)
        c1.download_button(
            f"Constituents {eff} (CSV)",
            lambda: data.constituents_csv(reb),
            file_name=f"{slug}_constituents_{eff}{tag}.csv",
            mime="text/csv",
            key="download_constituents_csv",
        )
        c2.download_button(
            f"Constituents {eff} (Parquet)",
            lambda: data.constituents_parquet(reb),
            file_name=f"{slug}_constituents_{eff}{tag}.parquet",
            mime="application/vnd.apache.parquet",
            key="download_constituents_parquet",
        )
    c1, c2 = st.columns(2)
    c1.download_button(
        "Index levels (CSV)",
        lambda: data.levels_csv(res),
        file_name=f"{slug}_levels{tag}.csv",
        mime="text/csv",
        key="download_levels",
    )
    if c2.toggle("Prepare the HTML report", key="download_report_on"):
        c2.download_button(
            "Backtest report (HTML)",
            data.report_html(ctx.text, ctx.key),
            file_name=f"{slug}_report{tag}.html",
            mime="text/html",
            key="download_report",
        )


if __name__ == "__main__":
    render()
