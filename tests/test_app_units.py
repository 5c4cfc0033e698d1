"""The app's helpers without Streamlit: methodology edits and uploads, tables, chart ticks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from exchina.backtest.metrics import yearly_returns
from exchina.core.errors import InputError
from exchina.index.methodology import Methodology, load_methodology, shipped_methodologies
from exchina.index.rulebook import to_toml
from exchina.ui.charts import log_ticks, source_tag
from exchina.ui.data import parse_text, read_uploaded_companies
from exchina.ui.edit import apply_changes, parse_upload
from exchina.ui.tables import fmt_metric, metrics_table


@pytest.fixture(scope="module")
def flagship() -> Methodology:
    return load_methodology(shipped_methodologies()["flagship"])


def test_apply_changes_overlays_and_validates(flagship):
    m = apply_changes(
        flagship,
        {"constraints": {"max_weight": 0.08, "stage_bounds": {"mining": (0.0, 0.5)}}},
    )
    assert m.constraints.max_weight == 0.08
    assert m.constraints.stage_bounds == {"mining": (0.0, 0.5)}  # bounds replaced whole
    assert m.constraints.ucits == flagship.constraints.ucits  # the rest kept
    assert m.universe == flagship.universe and m.digest() != flagship.digest()


def test_apply_changes_names_the_bad_key(flagship):
    with pytest.raises(InputError) as exc:
        apply_changes(flagship, {"constraints": {"stage_bounds": {"mining": (0.6, 0.2)}}})
    assert exc.value.field == "constraints.stage_bounds.mining"
    with pytest.raises(InputError, match=r"schedule\.frequency"):
        apply_changes(flagship, {"schedule": {"frequency": "monthly"}})


def test_parse_upload_round_trips_and_rejects(flagship):
    text = to_toml(flagship)
    assert parse_upload(text.encode(), "f.toml").digest() == flagship.digest()
    assert parse_text(text, "f.toml").digest() == flagship.digest()
    with pytest.raises(InputError, match="limited to 1 KB"):
        parse_upload(text.encode(), "f.toml", max_bytes=1024)
    with pytest.raises(InputError, match="not UTF-8"):
        parse_upload(b"name = '\xff'", "f.toml")
    with pytest.raises(InputError, match="not valid TOML"):
        parse_upload(b"import os; os.system('x')", "f.toml")


HEADER = (
    b"company_id,name,ticker,exchange,country,currency,stages,commodities,status,size,"
    b"listed_from,delisted_on,notes\n"
)


def test_uploaded_company_master_errors_name_the_upload_and_row():
    good = read_uploaded_companies(
        HEADER + b"acme,Acme Corp,ACME,NYSE,US,USD,mining,rare_earths,producer,small,,,\n"
    )
    assert list(good["company_id"]) == ["acme"]
    with pytest.raises(InputError) as exc:
        read_uploaded_companies(
            HEADER + b"acme,Acme Corp,ACME,NYSE,US,USD,mining,rare_earths,bankrupt,small,,,\n",
            "mine.csv",
        )
    assert exc.value.file == "mine.csv" and exc.value.row == 2 and exc.value.field == "status"


def test_yearly_returns_known_answer():
    idx = pd.to_datetime(["2020-06-30", "2020-12-31", "2021-06-30", "2021-12-31", "2022-03-31"])
    lv = pd.DataFrame({"a": [100.0, 110.0, 121.0, 99.0, 108.9], "b": [np.nan, 50, 55, 60, 30]}, idx)
    yr = yearly_returns(lv)
    assert yr.loc[2020, "a"] == pytest.approx(0.10)  # from the first level
    assert yr.loc[2021, "a"] == pytest.approx(99 / 110 - 1)
    assert yr.loc[2022, "a"] == pytest.approx(0.10)  # year to date
    assert yr.loc[2020, "b"] == pytest.approx(0.0) and yr.loc[2022, "b"] == pytest.approx(-0.5)
    # compounding the years gives the total return
    assert np.prod(1 + yr["a"]) == pytest.approx(108.9 / 100)


def test_metrics_table_formats():
    t = metrics_table(
        {"x": {"cagr": 0.1234, "sharpe": 0.5, "beta": math.nan, "rebalances": 4}, "y": {}}
    )
    assert t.loc["CAGR (total return)", "x"] == "12.3%"
    assert t.loc["Sharpe ratio", "x"] == "0.50" and t.loc["Beta", "x"] == "n/a"
    assert t.loc["Rebalances", "x"] == "4" and t.loc["Sharpe ratio", "y"] == "n/a"
    assert fmt_metric("max_drawdown", -0.5) == "-50.0%"


def test_log_ticks_and_source_tag():
    assert log_ticks(300, 4000) == [500, 1000, 2000]
    assert log_ticks(900, 1100) == [100, 200, 500, 1000, 2000, 5000, 10000]
    assert log_ticks(0, 10) == []
    assert source_tag("SYNTHETIC DEMO MARKET - not real prices (seed 7)").startswith("SYNTHETIC")
    assert source_tag("store: Yahoo Finance") == "store: Yahoo Finance"
