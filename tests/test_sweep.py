"""Sweeps: grid parsing and expansion, the Dask plumbing, failures recorded, outputs written."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from distributed import Client

from exchina.backtest import run_backtest
from exchina.cli import main
from exchina.core.errors import InputError
from exchina.core.sources import load_market
from exchina.index.optimizer import clear_cache
from exchina.ops.sweep import (
    expand_grid,
    load_grid,
    parse_grid,
    run_sweep,
    write_sweep,
)

BASE = """
name = "sweep test"
[weighting]
scheme = "equal"
[constraints]
max_weight = 0.5
"""


@pytest.fixture(scope="module")
def client():
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def market():
    return load_market("demo")


def _grid(tmp_path: Path, parameters: str, base: str = BASE) -> Path:
    (tmp_path / "base.toml").write_text(base, encoding="utf-8")
    path = tmp_path / "grid.toml"
    path.write_text(f'base = "base.toml"\n[parameters]\n{parameters}\n', encoding="utf-8")
    return path


def _fake_task(methodology, market, start, end) -> dict:
    """Sharpe = 10 x max_weight; raises for max_weight 0.3 (a variant that fails), warns at 0.4."""
    if methodology.constraints.max_weight == 0.3:
        raise RuntimeError("solver exploded")
    if methodology.constraints.max_weight == 0.4:
        warnings.warn("rules dropped", RuntimeWarning, stacklevel=1)
    return {"sharpe": 10 * methodology.constraints.max_weight, "tickers": len(market.tickers)}


def test_grid_expands_to_every_combination_in_order(tmp_path):
    path = _grid(
        tmp_path,
        '"constraints.max_weight" = [0.2, 0.3]\n'
        '"weighting.scheme" = ["equal", "capped_mcap"]\n'
        '"constraints.stage_bounds.mining" = [[0.0, 0.4]]',
    )
    variants = expand_grid(load_grid(path))
    assert [v.variant_id for v in variants] == ["v0000", "v0001", "v0002", "v0003"]
    assert [
        (v.params["constraints.max_weight"], v.params["weighting.scheme"]) for v in variants
    ] == [
        (0.2, "equal"),
        (0.2, "capped_mcap"),
        (0.3, "equal"),
        (0.3, "capped_mcap"),
    ]
    m = variants[3].methodology
    assert m.constraints.max_weight == 0.3 and m.weighting.scheme == "capped_mcap"
    assert m.constraints.stage_bounds == {"mining": (0.0, 0.4)}
    assert m.name == "sweep test"  # untouched keys come from the base
    assert len({v.methodology.digest() for v in variants}) == 4


def test_invalid_combination_is_recorded_not_fatal(tmp_path):
    path = _grid(
        tmp_path, '"constraints.max_weight" = [0.05, 0.2]\n"constraints.min_weight" = [0.0, 0.1]'
    )
    variants = expand_grid(load_grid(path))
    bad = [v for v in variants if v.methodology is None]
    assert [b.params for b in bad] == [
        {"constraints.max_weight": 0.05, "constraints.min_weight": 0.1}
    ]
    assert "constraints.min_weight" in bad[0].error and "grid.toml" in bad[0].error


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ('"constraints.max_weigth" = [0.1]', "constraints.max_weigth"),
        ('"constraints.max_weight" = []', "parameters.constraints.max_weight"),
        ("constraints.max_weight = [0.1]", "parameters.constraints"),
        ('"constraints.max_weight" = 0.1', "parameters.constraints.max_weight"),
    ],
)
def test_bad_grid_names_the_key(tmp_path, parameters, field):
    with pytest.raises(InputError) as err:
        expand_grid(load_grid(_grid(tmp_path, parameters)))
    assert field in str(err.value) and "grid.toml" in str(err.value)


def test_grid_needs_a_known_base(tmp_path):
    with pytest.raises(InputError, match="not found"):
        parse_grid({"base": "no_such_methodology", "parameters": {"a.b": [1]}})
    with pytest.raises(InputError, match="base"):
        parse_grid({"parameters": {"a.b": [1]}})


def test_sweep_records_failures_ranks_and_scatters_once(tmp_path, client, market, monkeypatch):
    scattered = []
    real_scatter = client.scatter

    def spy(data, **kw):
        scattered.append((type(data).__name__, kw.get("broadcast")))
        return real_scatter(data, **kw)

    monkeypatch.setattr(client, "scatter", spy)
    path = _grid(
        tmp_path,
        '"constraints.max_weight" = [0.1, 0.2, 0.3, 0.4]\n"constraints.min_weight" = [0.0]',
    )
    result = run_sweep(
        expand_grid(load_grid(path)), market, task=_fake_task, client=client, progress=False
    )
    assert scattered == [("Market", True)]  # once, to every worker
    t = result.table
    assert list(t["variant_id"]) == ["v0000", "v0001", "v0002", "v0003"]
    assert list(t["status"]) == ["ok", "ok", "error", "ok"]
    assert "solver exploded" in t.loc[2, "error"] and pd.isna(t.loc[0, "error"])
    assert t.loc[[0, 1, 3], "sharpe"].tolist() == pytest.approx([1.0, 2.0, 4.0])
    assert math.isnan(t.loc[2, "sharpe"])
    assert t.loc[3, "warnings"] == "rules dropped" and pd.isna(t.loc[0, "warnings"])
    assert (t["tickers"].dropna() == len(market.tickers)).all()  # the worker saw the market
    assert result.best["variant_id"] == "v0003" and result.worst["variant_id"] == "v0000"
    assert t["synthetic"].all() and t["data_source"].str.contains("SYNTHETIC").all()

    # volatility ranks the other way: lowest is best
    vol = run_sweep(
        expand_grid(load_grid(path)),
        market,
        task=lambda m, *_: {"volatility": m.constraints.max_weight},
        metric="volatility",
        client=client,
        progress=False,
    )
    assert vol.best is not None, vol.table["error"].tolist()
    assert vol.best["variant_id"] == "v0000" and vol.worst["variant_id"] == "v0003"

    paths = write_sweep(result, tmp_path / "out")
    back = pq.read_table(paths["table"])
    assert back.schema.metadata[b"exchina.synthetic"] == b"true"
    assert back.to_pandas()["status"].tolist() == t["status"].tolist()
    summary = json.loads(paths["summary"].read_text())
    assert (summary["ok"], summary["error"], summary["invalid"]) == (3, 1, 0)
    assert summary["best"]["variant_id"] == "v0003" and summary["synthetic"] is True
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_sweep_variant_equals_direct_backtest(tmp_path, client, market):
    path = _grid(tmp_path, '"weighting.scheme" = ["equal", "capped_mcap"]')
    variants = expand_grid(load_grid(path))
    start, end = "2023-01-01", "2023-12-31"
    result = run_sweep(variants, market, start=start, end=end, client=client, progress=False)
    assert (result.table["status"] == "ok").all(), result.table["error"].tolist()
    clear_cache()  # a sweep row is the backtest run in a fresh process
    direct = run_backtest(variants[0].methodology, market, start, end).metrics()
    row = result.table.iloc[0]
    for key in ("sharpe", "cagr", "volatility", "max_drawdown", "turnover_annual", "rebalances"):
        assert row[key] == pytest.approx(direct[key], rel=1e-12, abs=1e-15), key
    assert row["methodology_digest"] == variants[0].methodology.digest()
    assert direct["rebalances"] >= 3
    assert result.table.loc[1, "sharpe"] != row["sharpe"]  # the override reached the backtest


def test_cli_bad_grid_exits_2_and_writes_nothing(tmp_path):
    path = _grid(tmp_path, '"constraints.max_weight" = []')
    out = tmp_path / "out"
    code = main(["sweep", "--grid", str(path), "--out", str(out), "--source", "demo"])
    assert code == 2 and not out.exists()


def test_unknown_metric_is_refused_before_running(tmp_path, market):
    path = _grid(tmp_path, '"constraints.max_weight" = [0.2]')
    with pytest.raises(InputError, match="sharpe"):
        run_sweep(expand_grid(load_grid(path)), market, metric="sharp", progress=False)
    out = tmp_path / "out"
    code = main(["sweep", "--grid", str(path), "--out", str(out), "--metric", "sharp"])
    assert code == 2 and not out.exists()
