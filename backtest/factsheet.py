"""The index factsheet an index provider publishes, as numbers a quant can call and as HTML.

``factsheet(methodology, market, date)`` returns a ``Factsheet``: key facts, trailing returns
(1M, 3M, YTD, 1Y, 3Y and 5Y annualised, since base annualised) of the price, gross total return
and net total return levels, calendar-year returns beside the benchmark and the peer
methodology, risk (volatility, Sharpe, maximum drawdown with its dates, historical VaR and CVaR
at 95% and 99% of daily returns), the top 10 constituents, weights by stage, country and
China-score band, and the weighted China score and evidence confidence at each rebalance.
``render_factsheet_html`` lays it out (print-ready; the data label on every printed page) and
``write_factsheet`` writes ``factsheet.html`` and ``factsheet.pdf`` (headless Chromium prints the
HTML).

Annualisation is ``exchina.backtest.annualise``, the same as every other page: returns over more
than a year are annualised with the elapsed calendar time (``(end / start) ** (365.25 / days) -
1``), and volatility with the series' own number of returns per year (returns / elapsed years:
about 261 on a weekday calendar), not 252. Risk figures are ``performance_metrics`` of the level.

The factsheet's series are the daily calculation's index levels (what a calculation agent
publishes): no transaction costs are charged to an index level. The app's Overview and the
backtest report show the backtest's total-return level NET of transaction costs, so their CAGR is
lower by the cost drag; each page names its series (``SERIES_NOTE``).
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from exchina.backtest.annualise import DAYS_PER_YEAR, INDEX_LEVEL
from exchina.backtest.annualise import periods_per_year as periods_per_year
from exchina.backtest.daily import calculate_index
from exchina.backtest.exposures import china_exposure, exposures
from exchina.backtest.metrics import performance_metrics, yearly_returns
from exchina.backtest.series import benchmark_series_label
from exchina.core.atomic import check_output_folder, write_atomic
from exchina.core.errors import ExchinaError, MissingDataError
from exchina.core.market import Market

if TYPE_CHECKING:
    from exchina.index.methodology import Methodology

SERIES_NOTE = INDEX_LEVEL
"""The series the factsheet's figures are of (the Overview's are net of costs)."""
SERIES = {"level_pr": "Price return", "level_tr": "Total return (gross)",
          "level_ntr": "Net total return"}  # fmt: skip
ANNUALISATION = (
    "Returns over more than one year are annualised with the elapsed calendar time "
    "((end / start) ^ (365.25 / days) - 1); volatility with the series' own number of returns a "
    "year ({ppy:.1f}: returns divided by elapsed years). VaR and CVaR are historical, of daily "
    "total returns. All figures in USD."
)


@dataclass(frozen=True)
class Factsheet:
    """Everything on the factsheet (see the module doc); frames are ready to show."""

    name: str
    date: pd.Timestamp
    key_facts: dict[str, Any]
    trailing: pd.DataFrame
    calendar: pd.DataFrame
    risk: dict[str, Any]
    top10: pd.DataFrame
    weights_by: dict[str, pd.Series]
    china: pd.DataFrame
    levels: pd.DataFrame
    label: str
    synthetic: bool
    annualisation: str
    notes: list[str] = field(default_factory=list)


def _growth(s: pd.Series, start: pd.Timestamp, end: pd.Timestamp, annualise: bool) -> float:
    """Return from the last level on or before ``start`` to ``end``; NaN if the series starts
    after ``start``; annualised by elapsed calendar time when asked."""
    s = s.dropna()
    if s.empty or s.index[0] > start:
        return math.nan
    a = s.loc[:start].iloc[-1]
    b = s.loc[:end].iloc[-1]
    if not annualise:
        return float(b / a - 1.0)
    days = (end - s.loc[:start].index[-1]).days
    return float((b / a) ** (DAYS_PER_YEAR / days) - 1.0) if days > 0 else math.nan


def trailing_returns(levels: pd.DataFrame, date: pd.Timestamp) -> pd.DataFrame:
    """Rows: the level columns of ``levels``; columns 1M, 3M, YTD, 1Y (cumulative), 3Y, 5Y and
    since base (annualised by elapsed calendar time)."""
    t = pd.Timestamp(date)
    windows = {
        "1M": (t - pd.DateOffset(months=1), False),
        "3M": (t - pd.DateOffset(months=3), False),
        "YTD": (pd.Timestamp(year=t.year, month=1, day=1) - pd.Timedelta(days=1), False),
        "1Y": (t - pd.DateOffset(years=1), False),
        "3Y ann.": (t - pd.DateOffset(years=3), True),
        "5Y ann.": (t - pd.DateOffset(years=5), True),
    }
    rows = {}
    for col in levels.columns:
        s = levels[col].loc[:t]
        row = {k: _growth(s, start, t, ann) for k, (start, ann) in windows.items()}
        row["Since base ann."] = _growth(s, s.dropna().index[0], t, True)
        rows[col] = row
    return pd.DataFrame(rows).T


def risk_figures(levels: pd.Series) -> dict[str, Any]:
    """Volatility (own periods a year), Sharpe (zero rate), CAGR (calendar time), maximum
    drawdown with peak, trough and recovery dates - all ``performance_metrics`` of the level, as
    on the Overview - and historical VaR and CVaR of daily returns at 95% and 99% (losses > 0)."""
    s = levels.dropna().astype(float)
    r = s.pct_change().dropna().to_numpy()
    m = performance_metrics(s)
    keys = ("volatility", "cagr", "sharpe", "max_drawdown", "max_drawdown_peak",
            "max_drawdown_trough", "max_drawdown_recovery", "periods_per_year")  # fmt: skip
    out: dict[str, Any] = {k: m[k] for k in keys}
    out["max_drawdown_recovery"] = out["max_drawdown_recovery"] or "not recovered"
    for level in (95, 99):
        q = float(np.quantile(r, 1 - level / 100))
        out[f"var_{level}"] = -q
        out[f"cvar_{level}"] = -float(r[r <= q].mean())
    return out


def factsheet(
    methodology: Methodology,
    market: Market,
    date: str | pd.Timestamp | None = None,
    *,
    benchmark: Any = None,
    peer: Methodology | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
) -> Factsheet:
    """The factsheet of ``methodology`` at ``date`` (default: the last price), with the
    methodology's benchmark and peer unless given (``exchina.backtest.resolve_benchmark``);
    ``companies``/``facts``: a custom company master and exposure facts (default: shipped)."""
    from exchina.backtest.engine import resolve_benchmark, run_backtest

    t = pd.Timestamp(date).normalize() if date is not None else market.as_of
    if t > market.as_of:
        raise MissingDataError(f"no prices up to {t.date()} (last {market.as_of.date()})")
    known = market.asof(t)
    if benchmark is None and peer is None:
        benchmark, peer = resolve_benchmark(methodology, None, known)
    bt = run_backtest(methodology, known, None, t, benchmark=benchmark, peer=peer,
                      companies=companies, facts=facts)  # fmt: skip
    ic = calculate_index(methodology, known, t, result=bt, companies=companies, facts=facts)
    lv = ic.levels[list(SERIES)]
    last_w = bt.weights.iloc[-1]
    last_w = last_w[last_w > 0].sort_values(ascending=False)
    uni = bt.universe[bt.universe["date"] == bt.weights.index[-1]].set_index("ticker")
    top = pd.DataFrame({"weight": last_w.head(10)}).join(
        uni[["name", "country", "primary_stage", "china_score"]], how="left"
    )
    by = {}
    for key in ("primary_stage", "country", "china_band"):
        try:
            by[key] = exposures(bt.weights.iloc[[-1]], bt.universe, key).iloc[-1]
        except KeyError:
            continue
    china = china_exposure(bt.weights, bt.universe).rename("weighted_china_score").to_frame()
    if "confidence" in bt.universe:
        conf = bt.universe.pivot_table(index="date", columns="ticker", values="confidence")
        w = bt.weights.reindex(columns=conf.columns).fillna(0.0).reindex(conf.index)
        china["weighted_confidence"] = (w * conf.fillna(0.0)).sum(axis=1) / w.sum(axis=1)
    cal = yearly_returns(bt.levels[["level_tr", *[c for c in ("benchmark", "peer")
                                                  if c in bt.levels]]])  # fmt: skip
    bench_label = benchmark_series_label(bt)
    cal = cal.rename(columns={"level_tr": "index (TR)", "benchmark": f"benchmark: {bench_label}",
                              "peer": f"peer: {bt.peer_name}"})  # fmt: skip
    cal["index (NTR)"] = yearly_returns(lv[["level_ntr"]])["level_ntr"]
    # the app's calendar-year labels: the running year is marked "to date"
    cal.index = pd.Index(
        [f"{y} (to date)" if y == cal.index.max() else str(y) for y in cal.index], name="year"
    )
    risk = risk_figures(lv["level_tr"])
    s = methodology.schedule
    key_facts = {
        "Index": methodology.name,
        "Base date and value": f"{lv.index[0]:%Y-%m-%d} at {methodology.base_level:g} "
        f"(methodology base date {methodology.base_date})",
        "Currency": methodology.currency,
        "Rebalancing": f"{s.frequency}, months {s.resolved_months()}, after the close of the "
        f"third Friday; selection cut-off {s.cutoff_business_days} sessions before",
        "Constituents": len(last_w),
        "Weighting": f"{methodology.weighting.scheme}, max weight "
        f"{methodology.constraints.max_weight:.0%}",
        "Benchmark": str(bench_label),
        "Peer methodology": str(bt.peer_name),
        "Methodology digest": methodology.digest()[:16],
        "Levels": "price, gross total return and net total return (withholding tax by domicile)",
    }
    return Factsheet(
        name=methodology.name,
        date=lv.index[-1],
        key_facts=key_facts,
        trailing=trailing_returns(lv, lv.index[-1]).rename(index=SERIES),
        calendar=cal,
        risk=risk,
        top10=top,
        weights_by=by,
        china=china,
        levels=lv,
        label=ic.label,
        synthetic=ic.synthetic,
        annualisation=ANNUALISATION.format(ppy=risk["periods_per_year"]),
        notes=ic.notes,
    )


def _pct(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.2%}"


def _table(frame: pd.DataFrame, pct: bool = True) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for idx, row in frame.iterrows():
        cells = "".join(
            f"<td>{_pct(v) if pct and isinstance(v, float) else html.escape(str(v))}</td>"
            for v in row
        )
        body.append(f"<tr><th>{html.escape(str(idx))}</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def _svg(levels: pd.DataFrame, width: int = 700, height: int = 220) -> str:
    """A small line chart of the levels (inline SVG: prints without JavaScript)."""
    lo, hi = float(levels.min().min()), float(levels.max().max())
    n = len(levels) - 1 or 1
    colours = ["#1f5fa8", "#2a9d5b", "#c8553d"]
    lines = []
    for (col, s), colour in zip(levels.items(), colours, strict=False):
        pts = " ".join(
            f"{i * width / n:.1f},{height - (v - lo) / (hi - lo or 1) * height:.1f}"
            for i, v in enumerate(s.to_numpy())
        )
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{pts}"/>')
        lines.append(
            f'<text x="5" y="{14 + 14 * len(lines) // 2}" fill="{colour}" font-size="11">'
            f"{html.escape(SERIES.get(str(col), str(col)))}</text>"
        )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="index levels">{"".join(lines)}</svg>'
    )


def render_factsheet_html(fs: Factsheet) -> str:
    """The factsheet as one self-contained HTML page; the data label heads every printed page."""
    label = html.escape(fs.label)
    banner = f"SYNTHETIC DATA - not real prices. {label}" if fs.synthetic else f"Data: {label}"
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in fs.key_facts.items()
    )
    r = fs.risk
    risk = pd.DataFrame(
        {
            "value": [
                _pct(r["volatility"]), f"{r['sharpe']:.2f}", _pct(r["max_drawdown"]),
                f"{r['max_drawdown_peak']} to {r['max_drawdown_trough']} "
                f"(recovered: {r['max_drawdown_recovery']})",
                _pct(r["var_95"]), _pct(r["cvar_95"]), _pct(r["var_99"]), _pct(r["cvar_99"]),
            ]
        },
        index=["Volatility (annualised)", "Sharpe ratio (zero rate)", "Maximum drawdown",
               "Drawdown dates", "VaR 95% (1 day)", "CVaR 95% (1 day)", "VaR 99% (1 day)",
               "CVaR 99% (1 day)"],
    )  # fmt: skip
    top = fs.top10.assign(weight=fs.top10["weight"].map(_pct),
                          china_score=fs.top10["china_score"].map(lambda x: f"{x:.1f}"))  # fmt: skip
    groups = "".join(
        f"<h3>By {html.escape(k.replace('_', ' '))}</h3>"
        + _table(v[v > 0].sort_values(ascending=False).to_frame("weight"))
        for k, v in fs.weights_by.items()
    )
    china = fs.china.copy()
    china.index = [f"{d:%Y-%m-%d}" for d in china.index]
    china = china.map(lambda x: f"{x:.2f}" if isinstance(x, float) else x)
    cal = fs.calendar.copy()
    cal.index = [str(i) for i in cal.index]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Factsheet: {html.escape(fs.name)} ({fs.date:%Y-%m-%d})</title>
<style>
@page {{ size: A4; margin: 22mm 12mm 14mm 12mm; }}
body {{ font-family: system-ui, sans-serif; font-size: 10.5pt; color: #222; margin: 0 1em; }}
.label {{ position: fixed; top: 0; left: 0; right: 0; padding: 4px 8px; font-weight: bold;
  background: {"#b00020" if fs.synthetic else "#1f3b5a"}; color: #fff; font-size: 9pt; }}
@media print {{ .label {{ top: -16mm; }} }}
@media screen {{ body {{ margin-top: 3em; }} }}
h1 {{ font-size: 16pt; margin-bottom: 0; }} h2 {{ font-size: 12.5pt; margin-top: 1.2em; }}
h3 {{ font-size: 11pt; }}
table {{ border-collapse: collapse; margin: 0.4em 0; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: left; }}
section {{ break-inside: avoid; }}
.note {{ color: #555; font-size: 9pt; }}
</style></head><body>
<div class="label" id="data-label">{banner}</div>
<h1>{html.escape(fs.name)}</h1>
<p class="note">Factsheet as of {fs.date:%Y-%m-%d}. {banner}</p>
<section><h2>Key facts</h2><table>{facts}</table></section>
<section><h2>Index levels</h2>{_svg(fs.levels)}</section>
<section><h2>Trailing returns</h2>{_table(fs.trailing)}
<p class="note">{html.escape(fs.annualisation)} Figures are of the {html.escape(SERIES_NOTE)}
(the backtest on the Overview is net of transaction costs).</p></section>
<section><h2>Calendar-year returns</h2>{_table(cal)}
<p class="note">Total return of the index, its benchmark and the peer methodology.</p></section>
<section><h2>Risk (gross total return {html.escape(SERIES_NOTE)})</h2>{_table(risk, pct=False)}</section>
<section><h2>Top 10 constituents</h2>{_table(top, pct=False)}</section>
<section><h2>Weights</h2>{groups}</section>
<section><h2>Weighted China score and evidence confidence at each rebalance</h2>
{_table(china, pct=False)}</section>
<p class="note">{banner}</p>
</body></html>
"""


def chromium() -> str | None:
    """The headless Chromium executable (Debian's ``chromium``), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(html_text: str, pdf: Path, timeout: float = 120.0) -> None:
    """Print ``html_text`` to ``pdf`` with headless Chromium (written atomically)."""
    exe = chromium()
    if exe is None:
        raise ExchinaError(
            "the PDF factsheet needs Chromium (apt-get install chromium); the HTML was written"
        )
    with tempfile.TemporaryDirectory() as tmp:
        page, target = Path(tmp) / "factsheet.html", Path(tmp) / "factsheet.pdf"
        page.write_text(html_text, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={tmp}/profile", f"--print-to-pdf={target}", page.as_uri()]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        if not target.is_file():
            raise ExchinaError(
                f"Chromium did not print the factsheet (exit {done.returncode}): "
                f"{done.stderr.decode(errors='replace').strip()[-300:]}"
            )
        write_atomic(pdf, target.read_bytes())


FACTSHEET_FILES = ("factsheet.html", "factsheet.pdf")


def write_factsheet(
    fs: Factsheet, out: str | Path, pdf: bool = True, *, force: bool = False
) -> dict[str, Path]:
    """Write ``factsheet.html`` (and ``factsheet.pdf``) into ``out``, each atomically; a folder
    holding other files is refused (``OutputFolderError``) unless ``force`` (writes beside
    them, deletes nothing)."""
    folder = check_output_folder(out, FACTSHEET_FILES, force=force)
    text = render_factsheet_html(fs)
    paths = {"html": write_atomic(folder / "factsheet.html", text)}
    if pdf:
        html_to_pdf(text, folder / "factsheet.pdf")
        paths["pdf"] = folder / "factsheet.pdf"
    return paths
