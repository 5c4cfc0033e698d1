"""Plotly figures for the app. Each carries the data source under its title, so a screenshot of a
chart still says whether its numbers are real or synthetic. Figures only lay out frames that
package functions computed."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from exchina.backtest.series import PALETTE, series_color

SYNTHETIC_COLOR = "#b00020"
# the app's figures use plotly_white as plotly's default template: a template set on each figure
# is validated and deep-copied every time (about 25 ms a chart, six charts a page); the default
# lands in the figure's JSON all the same (the HTML report sets its own)
pio.templates.default = "plotly_white"


def source_tag(source: str) -> str:
    """The provenance line under a chart title: short for synthetic data so it fits narrow
    charts (the full label is in the sidebar), the full source otherwise."""
    return "SYNTHETIC DEMO DATA - not real prices" if "SYNTHETIC" in source else source


def log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 tick values spanning ``[lo, hi]`` for a log axis (plotly's own label every minor
    tick as a bare digit)."""
    if not (lo > 0 and hi > lo):
        return []
    ticks = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        ticks += [m * 10.0**k for m in (1, 2, 5)]
    inside = [t for t in ticks if lo <= t <= hi]
    return inside if len(inside) >= 2 else [t for t in ticks if lo / 10 <= t <= hi * 10]


def _finish(fig: go.Figure, title: str, source: str, height: int = 380) -> go.Figure:
    color = SYNTHETIC_COLOR if "SYNTHETIC" in source else "#666"
    source = source_tag(source)
    fig.update_layout(
        title={
            "text": f"{html.escape(title)}<br><sup style='color:{color}'>{html.escape(source)}</sup>",
            "x": 0.0,
            "xanchor": "left",
        },
        height=height,
        margin={"t": 70, "l": 50, "r": 20, "b": 40},
        # anchored by its top below the axis: a legend of two rows or more grows downwards
        # (plotly makes room), never up over the x-axis labels
        legend={"orientation": "h", "yanchor": "top", "y": -0.1, "x": 0},
        colorway=PALETTE,
        hovermode="x unified",
    )
    return fig


def lines(
    frame: pd.DataFrame,
    title: str,
    source: str,
    *,
    pct: bool = False,
    log: bool = False,
    yaxis: str = "",
    series: bool = True,
) -> go.Figure:
    """One line per column; ``series``: the columns are index or benchmark series, each drawn
    in its one colour (``exchina.backtest.series``)."""
    fig = go.Figure()
    for col in frame.columns:
        s = frame[col].dropna()
        line = {"color": series_color(str(col))} if series else None
        fig.add_trace(go.Scatter(x=s.index, y=s.to_numpy(), mode="lines", name=str(col), line=line))
    fig.update_yaxes(title=yaxis, tickformat=".0%" if pct else None)
    values = frame.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    if log and finite.size:
        ticks = log_ticks(float(finite.min()), float(finite.max()))
        fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:,.0f}" for t in ticks])
    elif pct and finite.size and finite.max() <= 0:  # drawdowns: keep the 0% line in view
        fig.update_yaxes(range=[float(finite.min()) * 1.05, 0.03])
    return _finish(fig, title, source)


def stacked_area(frame: pd.DataFrame, title: str, source: str) -> go.Figure:
    """Weights through time, one band per column (rows sum to one)."""
    fig = go.Figure()
    for col in frame.columns:
        fig.add_trace(
            go.Scatter(
                x=frame.index,
                y=frame[col].to_numpy(),
                mode="lines",
                stackgroup="one",
                name=str(col),
                line={"shape": "hv", "width": 0.5},
            )
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _finish(fig, title, source)


def bars(
    frame: pd.DataFrame | pd.Series,
    title: str,
    source: str,
    *,
    pct: bool = True,
    horizontal: bool = False,
    barmode: str = "group",
    height: int = 380,
    series: bool = False,
) -> go.Figure:
    """Grouped (or stacked) bars: one trace per column, categories on the index (``series``:
    the columns are index or benchmark series, in their own colours)."""
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    fig = go.Figure()
    for col in data.columns:
        x, y = [str(i) for i in data.index], data[col].to_numpy()
        fig.add_trace(
            go.Bar(
                x=y if horizontal else x,
                y=x if horizontal else y,
                name=str(col),
                orientation="h" if horizontal else "v",
                marker={"color": series_color(str(col))} if series else None,
            )
        )
    axis = fig.update_xaxes if horizontal else fig.update_yaxes
    axis(tickformat=".0%" if pct else None)
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    fig.update_layout(barmode=barmode, hovermode="closest")
    fig = _finish(fig, title, source, height=height)
    fig.update_layout(hovermode="closest", showlegend=len(data.columns) > 1)
    return fig
