"""A self-contained HTML report an investor can open offline: plotly charts, plotly.js inlined once.

Every chart and the page carry the data source (``BacktestResult.label``); synthetic demo data
also gets a red banner at the top. Nothing here computes a number the package does not expose:
the report only lays out ``metrics``, ``exposures``, ``attribution`` and ``event_windows``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import TYPE_CHECKING

import pandas as pd

from exchina.backtest.annualise import CONVENTION, NET_OF_COSTS
from exchina.backtest.events import event_windows
from exchina.backtest.metrics import PERCENT_METRICS, drawdown_series, rolling_volatility
from exchina.backtest.result import BacktestResult
from exchina.backtest.series import benchmark_series_label, series_color

if TYPE_CHECKING:
    import plotly.graph_objects as go

_PCT = PERCENT_METRICS


def _fmt(key: str, value: object) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.2%}" if key in _PCT else f"{value:.3f}"
    return html.escape(str(value))


class _Charts:
    """Collects figures; plotly.js goes inline with the first one only."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: list[str] = []

    def add(self, fig: go.Figure, title: str) -> None:
        import plotly.io as pio

        fig.update_layout(
            title={"text": f"{title}<br><sup>{html.escape(self.source)}</sup>"},
            template="plotly_white",
            height=420,
            margin={"t": 80, "l": 60, "r": 20, "b": 40},
        )
        self.parts.append(
            pio.to_html(fig, full_html=False, include_plotlyjs=not self.parts, auto_play=False)
        )


def _lines(frame: pd.DataFrame, pct: bool = False, series: bool = False) -> go.Figure:
    """One line per column; ``series``: columns are series labels, drawn in their own colours."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for col in frame.columns:
        line = {"color": series_color(str(col))} if series else None
        if series and str(col).endswith("(price return)"):
            line = {**(line or {}), "dash": "dot"}
        fig.add_trace(
            go.Scatter(x=frame.index, y=frame[col], mode="lines", name=str(col), line=line)
        )
    if pct:
        fig.update_yaxes(tickformat=".0%")
    return fig


def _stacked(frame: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    for col in frame.columns:
        fig.add_trace(go.Bar(x=frame.index, y=frame[col], name=str(col)))
    fig.update_layout(barmode="relative")
    fig.update_yaxes(tickformat=".0%")
    return fig


def _table(rows: list[tuple[str, str]], head: tuple[str, str] = ("metric", "value")) -> str:
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{body}</table>"


def render_report(
    result: BacktestResult,
    metrics: dict | None = None,
    events: pd.DataFrame | None = None,
    *,
    pre: int = 5,
    post: int = 20,
) -> str:
    """The report as one HTML string (metrics default to ``result.metrics()``; event windows are
    drawn when ``events`` is given and the backtest has a benchmark)."""
    m = metrics if metrics is not None else result.metrics()
    convention = CONVENTION.format(ppy=m.get("periods_per_year", math.nan))
    source = result.label
    charts = _Charts(source)
    lv = result.levels
    cols = [
        c for c in ("level_pr", "level_tr", "benchmark", "peer") if c in lv and lv[c].notna().any()
    ]
    bench = benchmark_series_label(result) or "benchmark"
    names = {
        "level_pr": f"{result.methodology} (price return)",
        "level_tr": result.methodology,
        "benchmark": bench,
        "peer": str(result.peer_name),
    }
    if result.peer_name == result.benchmark_name:
        cols = [c for c in cols if c != "peer"]  # the same series twice
    charts.add(
        _lines(lv[cols].rename(columns=names), series=True),
        f"{result.methodology}: index level (USD, total return unless marked)",
    )
    dd = pd.DataFrame({result.methodology: drawdown_series(lv)})
    if "benchmark" in cols:
        dd[bench] = drawdown_series(lv["benchmark"].dropna())
    charts.add(_lines(dd, pct=True, series=True), "Drawdown from the running peak")
    charts.add(
        _lines(rolling_volatility(lv).to_frame("63-day volatility"), pct=True),
        "Rolling volatility (63 trading days, annualised)",
    )
    for by, title in (
        ("primary_stage", "Weight by supply-chain stage"),
        ("country", "Weight by country"),
        ("china_band", "Weight by Chinese-exposure band (China score)"),
    ):
        try:
            charts.add(_stacked(result.exposures(by)), f"{title}, at each rebalance")
        except KeyError:
            continue
    if "china_score" in result.universe:
        china = result.china_exposure().rename(columns={"index": result.methodology})
        charts.add(_lines(china, series=True), "Weighted China score (0-100)")
    if "confidence" in result.universe:
        conf = result.confidence_exposure().rename(columns={"index": result.methodology})
        charts.add(
            _lines(conf, series=True),
            "Weighted confidence of the China score (0-1: evidence coverage x quality)",
        )
    att = result.attribution("primary_stage")
    if not att.empty:
        piv = att.pivot_table(
            index="period_start", columns="group", values="contribution", aggfunc="sum"
        )
        charts.add(_stacked(piv), "Contribution to each period's price return, by stage")
    event_html = ""
    if events is not None and "benchmark" in cols:
        win = event_windows(lv["level_tr"], lv["benchmark"], events, pre, post)
        if not win.empty:
            piv = win.pivot_table(index="offset", columns="event_id", values="excess")
            piv["average"] = piv.mean(axis=1)
            charts.add(
                _lines(piv, pct=True),
                f"Cumulative excess return around China's export-control announcements "
                f"(days {-pre}..+{post}, vs {result.benchmark_name})",
            )
            last = win[win["offset"] == post].merge(
                events[["event_id", "title"]], on="event_id", how="left"
            )
            event_html = _table(
                [
                    (f"{day.date()} {title}", f"{excess:+.2%}")
                    for day, title, excess in zip(
                        last["event_date"], last["title"], last["excess"], strict=True
                    )
                ],
                ("event", f"excess return to day +{post}"),
            )
    keys = [k for k in m if not isinstance(m[k], dict | list) and m[k] is not None]
    metric_html = _table([(k, _fmt(k, m[k])) for k in keys])
    banner = (
        '<div class="banner">SYNTHETIC DATA - these are not real prices. '
        f"{html.escape(source)}</div>"
        if result.synthetic
        else ""
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>exchina backtest: {html.escape(result.methodology)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
.banner {{ background: #b00020; color: #fff; padding: 0.8em 1em; font-weight: bold;
  font-size: 1.1em; position: sticky; top: 0; z-index: 10; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
.source {{ color: #555; font-size: 0.9em; }}
</style></head><body>
{banner}
<h1>{html.escape(result.methodology)}</h1>
<p class="source">Data source: {html.escape(source)}. Methodology digest
{html.escape(result.digest[:12])}. Benchmark: {html.escape(str(result.benchmark_name))}.
Generated {stamp}.</p>
<h2>Performance</h2>
<p class="source">Returns in USD; {html.escape(convention)};
risk-free {m.get("risk_free_per_period")} per period; metrics on the {NET_OF_COSTS}.</p>
{metric_html}
{"".join(charts.parts)}
{"<h2>Export-control events</h2>" + event_html if event_html else ""}
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
<p class="source">{html.escape(source)}</p>
</body></html>
"""
