"""Performance page: levels, drawdowns, rolling volatility, metrics, calendar-year returns,
attribution and export-control event windows; several methodologies side by side. Charts sit in
tabs that compute and send only the open one (``st.tabs(on_change="rerun")`` in fragments), so
a page switch draws two charts, not six."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from exchina.backtest import BacktestResult, drawdown_series, event_windows, rolling_volatility
from exchina.backtest.annualise import CONVENTION, NET_OF_COSTS, periods_per_year
from exchina.backtest.metrics import yearly_returns
from exchina.backtest.series import benchmark_series_label
from exchina.ui import charts, data, layout
from exchina.ui.tables import metrics_table, yearly_table


def _compare(ctx: layout.Context) -> dict[str, tuple[str, BacktestResult]]:
    """The methodologies picked for comparison: name -> (text, backtest); the selected one first."""
    opts = layout.choices()
    default = [ctx.name]
    bench = ctx.methodology.benchmark.methodology
    if bench and bench in opts and bench != ctx.name:
        default.append(bench)
    picked = st.multiselect(
        "Methodologies side by side",
        list(opts),
        default=default,
        key="performance_compare",
        format_func=layout.option_label,
        help="Each is backtested once on first use, then cached.",
    )
    if ctx.name not in picked:
        picked = [ctx.name, *picked]
    out = {}
    for name in picked:
        res = layout.guarded(lambda n=name: data.backtest(opts[n], ctx.key))
        if res is not None:
            out[name] = (opts[name], res)
    return out


def _event_section(res: BacktestResult) -> None:
    st.subheader("Around China's export-control announcements")
    if not res.levels["benchmark"].notna().any():
        st.info("This methodology has no benchmark, so there is no excess return to show.")
        return
    ev = data.events()
    c1, c2 = st.columns(2)
    pre = c1.slider("Days before", 1, 20, 5, key="events_pre")
    post = c2.slider("Days after", 5, 60, 20, key="events_post")
    win = event_windows(res.levels["level_tr"], res.levels["benchmark"], ev, pre, post)
    if win.empty:
        st.info("No event falls inside the backtest with room for the window.")
        return
    piv = win.pivot_table(index="offset", columns="event_id", values="excess")
    piv["average"] = piv.mean(axis=1)
    fig = charts.lines(
        piv,
        f"Cumulative excess return vs {benchmark_series_label(res)}, day 0 = announcement",
        res.label,
        pct=True,
        series=False,
    )
    fig.update_traces(opacity=0.35, line={"width": 1})
    fig.update_traces(selector={"name": "average"}, opacity=1.0, line={"width": 4, "color": "#111"})
    st.plotly_chart(fig, key="performance_events")
    last = win[win["offset"] == post].merge(ev[["event_id", "title", "source_url"]], on="event_id")
    st.dataframe(
        last[["event_date", "title", "index_return", "benchmark_return", "excess", "source_url"]],
        key="performance_events_table",
        width="stretch",
        hide_index=True,
        column_config={
            "event_date": st.column_config.DateColumn("Date"),
            "index_return": st.column_config.NumberColumn(f"Index to +{post}d", format="percent"),
            "benchmark_return": st.column_config.NumberColumn(
                f"Benchmark to +{post}d", format="percent"
            ),
            "excess": st.column_config.NumberColumn("Excess", format="percent"),
            "source_url": st.column_config.LinkColumn("Source", display_text="source"),
        },
    )


DAILY_TABS = ("Levels", "Drawdown", "Rolling volatility")


@st.fragment
def _daily_charts(levels: pd.DataFrame, src: str) -> None:
    """Levels, drawdowns and rolling volatility, one tab at a time: only the open tab's chart is
    built and sent (three charts of ~3,500 daily points each, drawn at every page switch, made
    it take over a second). A fragment: a tab or a control here reruns only this part."""
    lv, dd, vol = st.tabs(list(DAILY_TABS), key="performance_chart", on_change="rerun")
    if lv.open:
        with lv:
            log = st.toggle("Log scale", value=True, key="performance_log")
            st.plotly_chart(
                charts.lines(levels, "Index levels (USD, total return)", src, log=log),
                key="performance_levels",
            )
    if dd.open:
        frame = pd.DataFrame({n: drawdown_series(levels[n].dropna(), str(n)) for n in levels})
        dd.plotly_chart(
            charts.lines(frame, "Drawdown from the running peak", src, pct=True),
            key="performance_drawdown",
        )
    if vol.open:
        with vol:
            window = st.select_slider(
                "Rolling volatility window (trading days)",
                [21, 63, 126, 252],
                63,
                key="performance_vol",
            )
            frame = pd.DataFrame(
                {n: rolling_volatility(levels[n].dropna(), window, column=str(n)) for n in levels}
            )
            st.plotly_chart(
                charts.lines(
                    frame, f"Rolling volatility ({window} days, annualised)", src, pct=True
                ),
                key="performance_vol_chart",
            )


SECTION_TABS = ("Calendar-year returns", "Attribution", "Export-control events")


@st.fragment
def _sections(ctx: layout.Context, main: BacktestResult, levels: pd.DataFrame) -> None:
    """Calendar-year returns, attribution and the event windows, one tab at a time (only the
    open tab is computed and sent); a fragment, like the charts above."""
    src = main.label
    yearly, attribution, events = st.tabs(
        list(SECTION_TABS), key="performance_section", on_change="rerun"
    )
    if yearly.open:
        with yearly:
            yr = yearly_returns(levels)
            st.plotly_chart(
                charts.bars(yr, "Return by calendar year (last year to date)", src, series=True),
                key="performance_yearly",
            )
            st.dataframe(yearly_table(yr), key="performance_yearly_table", width="stretch")
    if attribution.open:
        with attribution:
            _attribution(ctx, src)
    if events.open:
        with events:
            _event_section(main)


def _attribution(ctx: layout.Context, src: str) -> None:
    """Contribution by stage or country to each holding period's return (selected methodology)."""
    st.subheader(f"Attribution: {ctx.methodology.name}")
    by = st.radio(
        "By",
        ["primary_stage", "country"],
        horizontal=True,
        key="performance_attr_by",
        format_func=lambda x: "stage" if x == "primary_stage" else x,
    )
    att = data.attribution(ctx.text, ctx.key, by)
    if att.empty:
        return
    piv = att.pivot_table(
        index="period_start", columns="group", values="contribution", aggfunc="sum"
    )
    piv.index = pd.DatetimeIndex(piv.index).strftime("%Y-%m-%d")
    st.plotly_chart(
        charts.bars(
            piv,
            "Contribution to each holding period's price return (before costs)",
            src,
            barmode="relative",
        ),
        key="performance_attribution",
    )


def render() -> None:
    ctx = layout.context()
    st.title("Performance")
    results = _compare(ctx)
    if ctx.name not in results:
        return
    main = results[ctx.name][1]
    names = {n: r.methodology for n, (_, r) in results.items()}
    levels = pd.DataFrame({names[n]: r.levels["level_tr"] for n, (_, r) in results.items()})
    bench = benchmark_series_label(main)
    if bench and main.levels["benchmark"].notna().any() and bench not in levels:
        levels[bench] = main.levels["benchmark"]

    _daily_charts(levels, main.label)
    for n, (_, r) in results.items():
        layout.caveats(r, f"performance_{n}")
    st.subheader("Metrics")
    main_ppy = periods_per_year(main.levels["level_tr"])
    st.caption(
        f"Total-return levels in USD ({NET_OF_COSTS}); {CONVENTION.format(ppy=main_ppy)}; zero "
        "risk-free rate; against each methodology's own benchmark."
    )
    table = metrics_table({names[n]: data.metrics(t, ctx.key) for n, (t, _) in results.items()})
    st.dataframe(
        table, key="performance_metrics", width="stretch", height=35 * (len(table) + 1) + 3
    )
    _sections(ctx, main, levels)


if __name__ == "__main__":
    render()
