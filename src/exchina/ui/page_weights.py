"""Weights page: the latest rebalance - weights against their basis, binding constraints, trades
against the drifted previous holdings, and where the weight sits (stage, country, China band)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from exchina.ui import charts, data, layout
from exchina.universe.screens import buffer_text

STAGE_BASIS = {
    "revenue_share": "revenue shares: a company's weight split over its stages",
    "primary": "primary stage: a company's whole weight in its main stage",
}
GROUPS = (
    ("weights_by_stage", "By supply-chain stage"),
    ("weights_by_country", "By country of domicile"),
    ("weights_by_china_band", "By China-score band"),
)


def render() -> None:
    ctx = layout.context()
    st.title("Weights")
    # the backtest first: its progress bar counts rebalances (the latest one is redone from it)
    res = layout.guarded(lambda: data.backtest(ctx.text, ctx.key))
    if res is None:
        return
    reb = layout.guarded(lambda: data.current_rebalance(ctx.text, ctx.key))
    if reb is None:
        return
    rep = reb.report
    src = rep["data_source"]
    n_elig = rep["universe"]["eligible"]
    n_buf = int(reb.universe["buffered"].astype(bool).sum()) if "buffered" in reb.universe else 0
    st.caption(
        f"**{ctx.methodology.name}**: rebalance effective after the close of "
        f"{rep['dates']['effective']} (selection cut-off {rep['dates']['cutoff']}). "
        f"**{rep['universe']['held']} names held** of **{n_elig} eligible** at the cut-off "
        f"({n_elig - n_buf} pass the entry screens, {n_buf} are members kept by the buffer; "
        f"{rep['universe']['candidates']} companies screened).",
        help=buffer_text(ctx.methodology.universe),
    )
    k = st.columns(5)
    k[0].metric("Constituents", rep["universe"]["held"])
    k[1].metric("Weighted China score", f"{rep['weighted_china_score']:.1f}")
    k[2].metric(
        "Weighted confidence",
        f"{rep['weighted_confidence']:.2f}",
        help="Weight-averaged confidence of the China scores (0-1: evidence coverage x quality).",
    )
    k[3].metric(
        "One-way turnover",
        f"{rep['turnover']:.1%}" if rep["turnover"] is not None else "n/a (first build)",
    )
    k[4].metric(
        "Optimizer status",
        rep["optimizer"]["status"],
        help=f"Solver: {rep['optimizer']['solver']}; stages: {rep['optimizer']['stages']}",
    )

    binding = rep["optimizer"]["binding"]
    if binding:
        st.markdown(
            "**Binding constraints** (at their limit in the solution):\n"
            + "\n".join(f"- {b}" for b in binding)
        )
    else:
        st.markdown("**Binding constraints:** none - the weights equal their basis.")
    layout.rebalance_relaxations(reb.relaxations, rep["optimizer"]["warnings"])

    basis = ctx.methodology.constraints.stage_weighting
    st.caption(f"Stage weights here and in the stage bounds use {STAGE_BASIS[basis]}.")
    cols = st.columns(3)
    for col, (field, title) in zip(cols, GROUPS, strict=True):
        if field == "weights_by_stage":
            title = f"{title} ({basis.replace('_', ' ')})"
        series = pd.Series(rep[field], dtype=float)
        if field == "weights_by_country":  # stages and bands keep their natural order
            series = series.sort_values(ascending=False)
        series = series[series > 0]
        col.plotly_chart(
            charts.bars(series.rename("weight"), title, src, height=340), key=f"weights_{field}"
        )

    cons = reb.constituents.set_index("ticker")
    # the table gets two thirds: at 1440 px it shows every column without scrolling sideways
    left, right = st.columns([1, 2])
    left.plotly_chart(
        charts.bars(
            cons[["weight", "basis_weight"]].rename(columns={"basis_weight": "basis weight"}),
            "Weight and basis weight (before constraints)",
            src,
            horizontal=True,
            height=max(380, 22 * len(cons) + 120),
        ),
        key="weights_names",
    )
    right.markdown("**Constituents**")
    right.dataframe(
        cons[["name", "stage", "country", "china_score", "basis_weight", "weight"]],
        key="weights_table",
        width="stretch",
        column_config={
            "weight": st.column_config.NumberColumn("Weight", format="percent"),
            "basis_weight": st.column_config.NumberColumn("Basis", format="percent"),
            "china_score": st.column_config.NumberColumn("China score", format="%.1f"),
        },
    )
    st.subheader("Trades against the previous holdings")
    st.caption(
        "Previous weights are the last holdings drifted with prices up to this rebalance "
        "(from the backtest); a trade is the new weight minus the drifted one."
    )
    trades = reb.trades.drop(columns=["data_source"]).sort_values("trade_weight")
    st.dataframe(
        trades,
        key="weights_trades",
        width="stretch",
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
            for c in ("previous_weight", "weight", "trade_weight")
        },
    )
    st.subheader("Through time")
    layout.caveats(res, "weights")
    by = st.radio(
        "Group by",
        ["primary_stage", "country", "china_band"],
        horizontal=True,
        key="weights_by",
        format_func=lambda x: {
            "primary_stage": "primary stage",
            "china_band": "China band",
        }.get(x, x),
    )
    if by == "primary_stage":
        st.caption(f"Through time by {STAGE_BASIS['primary']}.")
    st.plotly_chart(
        charts.stacked_area(
            data.exposures(ctx.text, ctx.key, by), "Weight at each rebalance", res.label
        ),
        key="weights_history",
    )


if __name__ == "__main__":
    render()
