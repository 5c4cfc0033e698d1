"""Universe page: every company with its stage, China score and eligibility at any date, and one
company's score explained fact by fact with links to the sources."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from exchina.core.errors import ExchinaError
from exchina.ui import data, layout

SHOWN = [
    "name",
    "company_id",
    "primary_stage",
    "stages",
    "country",
    "commodities",
    "status",
    "china_score",
    "confidence",
    "evidenced_factors",
    "china_flags",
    "eligible",
    "reasons",
]


def _uploaded_master() -> bytes | None:
    """An uploaded company master, validated; None (shipped master) when absent or invalid."""
    with st.expander("Use your own company master (companies.csv)"):
        up = st.file_uploader(
            "Company master CSV (same columns as data/companies.csv)",
            type=["csv"],
            key="universe_upload",
            max_upload_size=2,
        )
        if up is None:
            return None
        raw = up.getvalue()
        try:
            companies = data.read_uploaded_companies(raw, up.name)
        except ExchinaError as exc:
            layout.show_error(exc)
            st.caption("Showing the shipped company master instead.")
            return None
        st.success(f"{up.name}: {len(companies)} companies, valid.")
        return raw


def render() -> None:
    ctx = layout.context()
    st.title("Universe")
    first, last = ctx.market.dates[0].date(), ctx.market.as_of.date()
    c1, c2 = st.columns([1, 3])
    date = c1.date_input(
        "Universe as of", value=last, min_value=first, max_value=last, key="universe_date"
    )
    c2.caption(
        f"Screens of **{ctx.methodology.name}** applied to the facts public at the date and the "
        f"market up to it (point in time). Data: {ctx.market.label}."
    )
    master = _uploaded_master()
    uni = layout.guarded(
        lambda: data.universe(pd.Timestamp(date).date().isoformat(), ctx.text, ctx.key, master)
    )
    if uni is None:
        return
    f1, f2, f3, f4 = st.columns([2, 2, 1, 2])
    stages = f1.multiselect(
        "Primary stage", sorted(uni["primary_stage"].dropna().unique()), key="universe_stages"
    )
    countries = f2.multiselect(
        "Country", sorted(uni["country"].dropna().unique()), key="universe_countries"
    )
    only = f3.selectbox("Eligibility", ["all", "eligible", "excluded"], key="universe_eligible")
    text = f4.text_input("Search name or ticker", key="universe_search")
    view = uni
    if stages:
        view = view[view["primary_stage"].isin(stages)]
    if countries:
        view = view[view["country"].isin(countries)]
    if only != "all":
        view = view[view["eligible"].astype(bool) == (only == "eligible")]
    if text:
        hit = view["name"].str.contains(text, case=False, regex=False) | view.index.str.contains(
            text, case=False, regex=False
        )
        view = view[hit]
    n_elig = int(uni["eligible"].astype(bool).sum())
    st.caption(f"{len(view)} of {len(uni)} companies shown; {n_elig} eligible at {date}.")
    st.dataframe(
        view[SHOWN].sort_values("china_score"),
        key="universe_table",
        width="stretch",
        height=420,
        column_config={
            "china_score": st.column_config.ProgressColumn(
                "China score", min_value=0, max_value=100, format="%.1f"
            ),
            "confidence": st.column_config.NumberColumn("Confidence", format="%.2f"),
            "evidenced_factors": st.column_config.NumberColumn(
                "Factors evidenced (of 6)", format="%d"
            ),
            "eligible": st.column_config.CheckboxColumn("Eligible"),
            "primary_stage": "Primary stage",
            "china_flags": "Hard flags",
        },
    )

    st.subheader("Why this score? One company, fact by fact")
    labels = {f"{n} ({t})": t for t, n in uni.sort_values("name")["name"].items()}
    pick = st.selectbox("Company", list(labels), key="universe_company")
    if pick is None:
        return
    ex = layout.guarded(
        lambda: data.explanation(labels[pick], pd.Timestamp(date).date().isoformat(), ctx.text)
    )
    if ex is None:
        return
    k = st.columns(4)
    k[0].metric("China score", f"{ex.score:.1f}")
    k[1].metric("Confidence", f"{ex.confidence:.2f}")
    k[2].metric("Hard flags", ", ".join(ex.flags) if ex.flags else "none")
    k[3].metric("Allied backing", f"USD {ex.allied_backing_usd_m:,.0f}m")
    row = uni.loc[labels[pick]]
    st.caption(
        f"Eligible at {date}: **{'yes' if row['eligible'] else 'no'}**"
        + (f" ({row['reasons']})" if row["reasons"] else "")
        + f". Graded score {ex.graded_score:.1f}; unknown factors count as policy "
        f"`{ex.unknown_policy}`. Allied backing is reported but never offsets the score."
    )
    st.dataframe(
        ex.table.drop(columns=["fact_id"]),
        key="universe_explain",
        width="stretch",
        hide_index=True,
        column_config={
            "source_url": st.column_config.LinkColumn("Source", display_text="open source"),
            "source_title": "Source title",
            "contribution": st.column_config.NumberColumn("Contribution (points)", format="%.2f"),
            "value": st.column_config.NumberColumn("Value", format="%.3g"),
            "multiplier": st.column_config.NumberColumn("Multiplier", format="%.2f"),
            "weight": st.column_config.NumberColumn("Weight", format="%.2f"),
            "age_years": st.column_config.NumberColumn("Age (years)", format="%.1f"),
        },
    )


if __name__ == "__main__":
    render()
