"""Overview page: the selected index against its benchmark, headline metrics, China exposure."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from exchina.backtest import drawdown_series
from exchina.backtest.annualise import CONVENTION, INDEX_LEVEL, NET_OF_COSTS
from exchina.backtest.series import benchmark_series_label
from exchina.ui import charts, data, layout
from exchina.ui.tables import fmt_metric


def render() -> None:
    ctx = layout.context()
    m = ctx.methodology
    st.title(m.name)
    if m.description:
        st.caption(m.description)
    res = layout.guarded(lambda: data.backtest(ctx.text, ctx.key))
    if res is None:
        return
    met = data.metrics(ctx.text, ctx.key)
    layout.caveats(res, "overview")
    bench = benchmark_series_label(res) or "none"
    cols = st.columns(5)
    cols[0].metric("CAGR (total return, net of costs)", fmt_metric("cagr", met["cagr"]))
    cols[1].metric("Volatility", fmt_metric("volatility", met["volatility"]))
    cols[2].metric("Max drawdown", fmt_metric("max_drawdown", met["max_drawdown"]))
    cols[3].metric("Sharpe ratio", fmt_metric("sharpe", met["sharpe"]))
    # the benchmark is named in the help and the caption: in the label it was cut off at
    # 1440 px ("Excess CAGR vs REMX (bench...")
    cols[4].metric(
        "Excess CAGR vs benchmark",
        fmt_metric("excess_cagr", met.get("excess_cagr")),
        help=f"CAGR above the benchmark's: {bench}.",
    )
    drag = fmt_metric("cost_drag_annual", met.get("cost_drag_annual"))
    st.caption(
        f"Figures of the {NET_OF_COSTS} (cost drag {drag} a year); excess CAGR against "
        f"{bench}. The Factsheet shows the "
        f"{INDEX_LEVEL}, so its returns are higher by the costs. "
        f"{CONVENTION.format(ppy=met['periods_per_year'])}."
    )

    lv = res.levels.rename(columns={"level_tr": m.name, "benchmark": bench})
    lv = lv.drop(columns=["level_pr"]).dropna(axis=1, how="all")
    log = st.toggle("Log scale for the level", value=True, key="overview_log")
    left, right = st.columns(2)
    left.plotly_chart(
        charts.lines(lv, "Index level (USD, total return)", res.label, log=log),
        key="overview_levels",
    )
    dd = pd.DataFrame({m.name: drawdown_series(res.levels)})
    if res.levels["benchmark"].notna().any():
        dd[bench] = drawdown_series(res.levels["benchmark"].dropna())
    right.plotly_chart(
        charts.lines(dd, "Drawdown from the running peak", res.label, pct=True),
        key="overview_drawdown",
    )

    st.subheader("Chinese exposure")
    china = data.china_exposure(ctx.text, ctx.key).rename(m.name).to_frame()
    btext = data.benchmark_methodology_text(m)
    bname = None
    if btext is not None and btext != ctx.text:
        bres = layout.guarded(lambda: data.backtest(btext, ctx.key))
        if bres is not None:
            bname = bres.methodology
            china = china.join(data.china_exposure(btext, ctx.key).rename(bname), how="outer")
    c1, c2 = st.columns([1, 2])
    last = china.ffill().iloc[-1]
    c1.metric(
        "Weighted China score, latest rebalance (0-100)",
        f"{last[m.name]:.1f}",
        delta=f"{last[m.name] - last[bname]:+.1f} vs {bname}" if bname else None,
        delta_color="inverse",
    )
    if bname:
        c1.metric(
            "Benchmark methodology",
            f"{last[bname]:.1f}",
            help=f"{bname}: the methodology named in [benchmark], backtested on the same data.",
        )
    c1.caption(
        "Weight-averaged China score of the constituents at each rebalance: 0 = no measured "
        "Chinese exposure, 100 = Chinese-controlled. See the Universe page for each company's "
        "facts and sources."
    )
    c2.plotly_chart(
        charts.lines(china.ffill(), "Weighted China score at each rebalance", res.label),
        key="overview_china",
    )
    conf = data.confidence_exposure(ctx.text, ctx.key).rename(m.name).to_frame()
    c1.metric(
        "Weighted confidence, latest rebalance (0-1)",
        f"{conf[m.name].ffill().iloc[-1]:.2f}",
        help="How well the China scores are evidenced: coverage of the six graded factors "
        "times evidence quality (A 1.0, B 0.8, C 0.5), stale and ended facts discounted.",
    )
    c2.plotly_chart(
        charts.lines(conf.ffill(), "Weighted confidence of the China score", res.label),
        key="overview_confidence",
    )

    st.info(
        f"**Data source:** {res.label}. **Prices as of:** {ctx.market.as_of.date().isoformat()}. "
        f"**Backtest:** {met['start']} to {met['end']}, {met['rebalances']} rebalances. "
        f"**Methodology hash:** `{res.digest[:12]}`.",
        icon=":material/info:",
    )


if __name__ == "__main__":
    render()
