"""The factsheet: hand-checked statistics (calendar-time CAGR, the series' own periods a year,
historical VaR/CVaR, drawdown dates) and the written HTML and PDF with every section, the
synthetic label on every printed page."""

from __future__ import annotations

import math

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
