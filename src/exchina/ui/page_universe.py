"""Universe page: every company with its stage, China score and eligibility at any date, and one
company's score explained fact by fact with links to the sources."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from exchina.core.errors import ExchinaError
from exchina.ui import data, layout
from exchina.universe.screens import STANDINGS, buffer_text

# fits 1440 px without scrolling sideways: stages, commodities and status are in the reasons
# when they exclude a company, and in its explanation below
SHOWN = ["name", "standing", "eligible", "china_score", "confidence", "evidenced_factors",
         "primary_stage", "country", "reasons"]  # fmt: skip
STANDING_FILTER = {
    "all": None,
    "held": ("held", "held, kept by buffer", "held, leaving"),
    "eligible (held or not)": ("held", "held, kept by buffer", "eligible"),
    "excluded": ("held, leaving", "excluded"),
}


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
    day = pd.Timestamp(date).date().isoformat()
    held = layout.guarded(lambda: data.held_at(ctx.text, ctx.key, day)) or ()
    uni = layout.guarded(lambda: data.universe(day, ctx.text, ctx.key, master, held))
    if uni is None:
        return
    f1, f2, f3, f4 = st.columns([2, 2, 1, 2])
    stages = f1.multiselect(
        "Primary stage", sorted(uni["primary_stage"].dropna().unique()), key="universe_stages"
    )
    countries = f2.multiselect(
        "Country", sorted(uni["country"].dropna().unique()), key="universe_countries"
    )
    only = f3.selectbox("Standing", list(STANDING_FILTER), key="universe_eligible")
    text = f4.text_input("Search name or ticker", key="universe_search")
    view = uni
    if stages:
        view = view[view["primary_stage"].isin(stages)]
    if countries:
        view = view[view["country"].isin(countries)]
    if STANDING_FILTER[only] is not None:
        view = view[view["standing"].isin(STANDING_FILTER[only])]
    if text:
        hit = view["name"].str.contains(text, case=False, regex=False) | view.index.str.contains(
            text, case=False, regex=False
        )
        view = view[hit]
    counts = uni["standing"].value_counts()
    n = {k: int(counts.get(k, 0)) for k in STANDINGS}
    leaving = n["held, leaving"]
    st.caption(
        f"{len(view)} of {len(uni)} companies shown. At {date}: "
        f"**{int(uni['eligible'].sum())} eligible** ({n['held']} held, "
        f"{n['held, kept by buffer']} held and kept by the members' buffer, {n['eligible']} not "
        f"held); the index holds {len(held)}"
        + (
            f", {leaving} of them failing even the buffer (they leave at the next rebalance)."
            if leaving
            else "."
        )
    )
    with st.expander("What eligible, held and the buffer mean"):
        st.markdown(
            "\n".join(f"- **{k}**: {v}" for k, v in STANDINGS.items())
            + f"\n\n{buffer_text(ctx.methodology.universe)}"
        )
    st.dataframe(
        view[SHOWN].sort_values("china_score"),
        key="universe_table",
        width="stretch",
        height=420,
        column_config={
            # widths in pixels add up to the table's width at 1440 px (hover a cell for the
            # whole text); "eligible" is in the data but its standing already says it
            "name": st.column_config.TextColumn("Name", width=200),
            "standing": st.column_config.TextColumn("Standing", width=135),
            "eligible": None,
            "china_score": st.column_config.ProgressColumn(
                "China score", min_value=0, max_value=100, format="%.1f", width=95
            ),
            "confidence": st.column_config.NumberColumn(
                "Conf.", format="%.2f", width=50, help="Confidence of the China score (0-1)"
            ),
            "evidenced_factors": st.column_config.NumberColumn(
                "Evid.", format="%d", width=45, help="Graded factors evidenced (of 6)"
            ),
            "primary_stage": st.column_config.TextColumn("Primary stage", width=125),
            "country": st.column_config.TextColumn("Ctry", width=45),
            "reasons": st.column_config.TextColumn("Reasons (why not eligible)", width=190),
        },
    )

    st.subheader("Why this score? One company, fact by fact")
    labels = {f"{n} ({t})": str(t) for t, n in uni.sort_values("name")["name"].items()}
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
    row = uni.loc[labels[pick]].to_dict()
    st.caption(
        f"{row['name']}: {row['country']}, {row['status']}; stages {row['stages']}; "
        f"commodities {row['commodities']}. At {date}: **{row['standing']}**"
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
