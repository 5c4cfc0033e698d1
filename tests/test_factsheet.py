"""The factsheet: hand-checked statistics (calendar-time CAGR, the series' own periods a year,
historical VaR/CVaR, drawdown dates) and the written HTML and PDF with every section, the
synthetic label on every printed page."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.backtest.factsheet import periods_per_year, risk_figures, trailing_returns
from exchina.cli import main
from exchina.core.paths import methodology_file

SECTIONS = ["Key facts", "Trailing returns", "Calendar-year returns", "Risk", "Top 10",
            "By primary stage", "By country", "By china band", "Weighted China score",
            "Maximum drawdown", "VaR 99%", "CVaR 95%", "Net total return"]  # fmt: skip


def test_weekday_series_has_its_own_periods_per_year_and_calendar_cagr() -> None:
    days = pd.bdate_range("2019-12-31", "2025-12-31")
    years = (days - days[0]).days / 365.25
    levels = pd.DataFrame({"level_tr": 100 * 1.10**years}, index=days)
    assert periods_per_year(levels["level_tr"]) == pytest.approx((len(days) - 1) / 6.0, rel=1e-3)
    assert 260 < periods_per_year(levels["level_tr"]) < 262  # not 252
    t = trailing_returns(levels, days[-1]).loc["level_tr"]
    assert t["3Y ann."] == pytest.approx(0.10, abs=2e-4)  # 10% a calendar year, whatever the rows
    assert t["5Y ann."] == pytest.approx(0.10, abs=2e-4)
    assert t["Since base ann."] == pytest.approx(0.10, abs=1e-9)
    assert t["1Y"] == pytest.approx(0.10, abs=2e-3)
    assert risk_figures(levels["level_tr"])["cagr"] == pytest.approx(0.10, abs=1e-9)


def test_var_cvar_and_drawdown_dates_by_hand() -> None:
    # 100 daily returns: 98 of +1%, one -5%, one -10%. Historical 99% VaR is the 1% quantile
    # of returns (numpy's linear interpolation between -10% and -5%: -5.05%); CVaR 99% the mean
    # of returns at or below it (-10%).
    r = np.full(100, 0.01)
    r[40], r[70] = -0.05, -0.10
    days = pd.bdate_range("2024-01-01", periods=101)
    s = pd.Series(100 * np.concatenate(([1.0], np.cumprod(1 + r))), index=days)
    f = risk_figures(s)
    assert f["var_99"] == pytest.approx(-np.quantile(r, 0.01))
    assert f["cvar_99"] == pytest.approx(0.10)
    assert f["var_95"] == pytest.approx(-np.quantile(r, 0.05))
    assert f["max_drawdown"] == pytest.approx(-0.10)
    assert (f["max_drawdown_peak"], f["max_drawdown_trough"]) == (
        f"{days[70]:%Y-%m-%d}", f"{days[71]:%Y-%m-%d}",
    )  # fmt: skip
    # recovered once 1.01^k >= 1/0.9: 11 rising days later
    k = math.ceil(math.log(1 / 0.9) / math.log(1.01))
    assert f["max_drawdown_recovery"] == f"{days[71 + k]:%Y-%m-%d}"


@pytest.mark.slow
def test_cli_factsheet_writes_html_and_pdf_with_every_section(tmp_path, capsys) -> None:
    import pypdf

    text = methodology_file("flagship").read_text(encoding="utf-8")
    meth = tmp_path / "short.toml"
    meth.write_text(text.replace("base_date = 2012-12-31", "base_date = 2021-01-01"))
    out = tmp_path / "fs"
    assert main(["factsheet", "-m", str(meth), "--source", "demo", "--out", str(out),
                 "--date", "2026-03-31"]) == 0  # fmt: skip
    assert "factsheet as of 2026-03-31" in capsys.readouterr().out
    page = (out / "factsheet.html").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in page, section
    assert "365.25" in page and "SYNTHETIC DATA" in page
    reader = pypdf.PdfReader(out / "factsheet.pdf")
    assert len(reader.pages) >= 2
    for i, p in enumerate(reader.pages):
        assert "SYNTHETIC DATA" in p.extract_text(), f"page {i + 1} lacks the synthetic label"


def test_overview_and_factsheet_agree_on_the_same_result(tmp_path) -> None:
    """The Overview's headline figures (``BacktestResult.metrics()``, what ``data.metrics``
    shows) and the factsheet's risk and since-base return, for the same methodology and date: on
    the same series they are equal to float precision; the two pages show different series (the
    backtest net of transaction costs, the index level without costs), and each says which."""
    from exchina.backtest.annualise import INDEX_LEVEL, NET_OF_COSTS
    from exchina.backtest.engine import resolve_benchmark, run_backtest
    from exchina.backtest.factsheet import factsheet, render_factsheet_html
    from exchina.backtest.metrics import performance_metrics
    from exchina.core.sources import load_market
    from exchina.index.methodology import load_methodology

    text = methodology_file("flagship").read_text(encoding="utf-8")
    path = tmp_path / "short.toml"
    path.write_text(text.replace("base_date = 2012-12-31", "base_date = 2021-01-01"))
    m = load_methodology(path)
    market = load_market(source="demo").asof(pd.Timestamp("2026-03-31"))
    bench, peer = resolve_benchmark(m, None, market)
    res = run_backtest(m, market, None, "2026-03-31", benchmark=bench, peer=peer)
    overview = res.metrics()
    fs = factsheet(m, market, "2026-03-31", benchmark=bench, peer=peer)
    keys = ("cagr", "volatility", "max_drawdown", "sharpe", "periods_per_year")
    # the factsheet's way on the Overview's series gives the Overview's numbers ...
    same = risk_figures(res.levels["level_tr"])
    for k in keys:
        assert same[k] == pytest.approx(overview[k], rel=1e-12), k
    # ... and the Overview's way on the factsheet's series gives the factsheet's numbers
    theirs = performance_metrics(fs.levels["level_tr"])
    for k in keys:
        assert fs.risk[k] == pytest.approx(theirs[k], rel=1e-12), k
    assert fs.trailing.loc["Total return (gross)", "Since base ann."] == pytest.approx(
        fs.risk["cagr"], rel=1e-12
    )
    # by hand: calendar-time CAGR and the series' own returns a year, not 252
    s = res.levels["level_tr"].dropna()
    years = (s.index[-1] - s.index[0]).days / 365.25
    assert overview["cagr"] == pytest.approx((s.iloc[-1] / s.iloc[0]) ** (1 / years) - 1)
    r = s.pct_change().dropna()
    assert overview["volatility"] == pytest.approx(r.std() * math.sqrt(len(r) / years))
    # different series where costs were charged; each page names its own
    if overview["cost_total"] > 0:
        assert overview["cagr"] < fs.risk["cagr"]
    assert INDEX_LEVEL in render_factsheet_html(fs)
    page = Path(__file__).parents[1] / "src/exchina/ui/page_overview.py"
    assert "NET_OF_COSTS" in page.read_text(encoding="utf-8")  # the Overview names its series
    assert "net of" in NET_OF_COSTS and "no transaction costs" in INDEX_LEVEL
    # the factsheet names the benchmark series as the app does and marks the running year
    from exchina.backtest.series import benchmark_series_label

    label = benchmark_series_label(res)
    assert label is not None and label.endswith("(benchmark ticker)")
    assert f"benchmark: {label}" in fs.calendar.columns
    assert fs.key_facts["Benchmark"] == label
    assert fs.calendar.index[-1] == "2026 (to date)" and fs.calendar.index[0] == "2021"
