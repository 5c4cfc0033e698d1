"""Write a backtest to a folder: only the files it owns, each replaced atomically.

Files: ``levels.csv`` and ``levels.parquet`` (date, level_pr, level_tr, benchmark, data_source),
``weights.parquet`` (one row per rebalance and ticker: date, ticker, weight, drifted_weight,
trade, data_source), ``metrics.json`` (metrics, rebalances, evidence: the weighted China score
and weighted confidence per rebalance, gaps, notes, data_source) and ``report.html``. A failure
leaves any earlier output untouched; other files in the folder are never removed, and a folder
holding them is refused unless ``force``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from exchina.backtest.metrics import performance_metrics
from exchina.backtest.report import render_report
from exchina.backtest.result import BacktestResult
from exchina.core.atomic import Writer, check_output_folder, write_outputs
from exchina.core.csvsafe import to_csv_safe


def _json_safe(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _weights_long(result: BacktestResult) -> pd.DataFrame:
    frames = {
        "weight": result.weights,
        "drifted_weight": result.drifted,
        "trade": result.trades,
    }
    long = pd.concat(
        {k: v.rename_axis(index="date", columns="ticker").stack() for k, v in frames.items()},
        axis=1,
    )
    long = long.loc[(long.fillna(0.0) != 0.0).any(axis=1)].reset_index()
    long["ticker"] = long["ticker"].astype("string")
    relaxed = set(pd.to_datetime(result.relaxations["date"]))
    long["relaxed"] = long["date"].isin(relaxed)  # a rule gave way at this rebalance
    return long


OUTPUT_FILES = ("levels.csv", "levels.parquet", "weights.parquet", "metrics.json", "report.html")
"""The files ``write_backtest`` owns in its folder (and the only ones it ever replaces)."""


def _evidence_records(result: BacktestResult) -> list[dict]:
    """Weighted China score and weighted confidence per rebalance (effective date)."""
    if result.weights.empty:
        return []
    ev = result.evidence().rename_axis("date").reset_index()
    ev["date"] = pd.DatetimeIndex(ev["date"]).strftime("%Y-%m-%d")
    return ev.to_dict(orient="records")


def _files(
    result: BacktestResult, metrics: dict, events: pd.DataFrame | None, reference_data: dict | None
) -> dict[str, Writer | str]:
    src = result.label
    levels = result.levels.reset_index()
    levels["data_source"] = src
    weights = _weights_long(result)
    weights["data_source"] = src
    costs = result.costs.assign(
        review=result.costs["review"].dt.strftime("%Y-%m-%d"),
        effective=result.costs["effective"].dt.strftime("%Y-%m-%d"),
    )
    gaps = result.gaps.astype({c: "string" for c in result.gaps.columns if c != "rows"})
    doc = {
        "data_source": src,
        "store_version": result.store_version,
        "synthetic": result.synthetic,
        "metrics": metrics,
        "peer": _peer_metrics(result),
        "rebalances": costs.to_dict(orient="records"),
        "evidence": _evidence_records(result),
        "price_gaps": gaps.to_dict(orient="records"),
        "relaxed": result.relaxations.assign(
            date=pd.to_datetime(result.relaxations["date"]).dt.strftime("%Y-%m-%d")
        ).to_dict(orient="records"),
        "notes": result.notes,
    }
    if reference_data is not None:
        doc["reference_data"] = reference_data
    text = json.dumps(_json_safe(doc), indent=2, default=str)
    return {
        "levels.csv": lambda p: to_csv_safe(
            levels, p, index=False, float_format="%.10g", date_format="%Y-%m-%d"
        ),
        "levels.parquet": lambda p: levels.to_parquet(p, index=False),
        "weights.parquet": lambda p: weights.to_parquet(p, index=False),
        "metrics.json": text + "\n",
        "report.html": render_report(result, metrics, events),
    }


def write_backtest(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    metrics: dict | None = None,
    events: pd.DataFrame | None = None,
    force: bool = False,
    reference_data: dict | None = None,
) -> Path:
    """Write the output files into ``out_dir``; returns it. ``reference_data`` (per reference
    input, its file and SHA-256: ``ReferenceData.files``) is recorded in ``metrics.json``.

    Only the files in ``OUTPUT_FILES`` are written, each replaced atomically; nothing else in
    the folder is touched. A folder holding other files is refused (``OutputFolderError``)
    unless ``force``. Every file is built before any is replaced.
    """
    out = check_output_folder(out_dir, OUTPUT_FILES, force=force)
    m = metrics if metrics is not None else result.metrics()
    write_outputs(out, _files(result, m, events, reference_data), force=force)
    return out


def _peer_metrics(result: BacktestResult) -> dict | None:
    """Metrics of the methodology run beside the index (total return, rebased to the index's
    first date), against the same benchmark; None without a peer."""
    peer = result.levels.get("peer")
    if peer is None or peer.isna().all():
        return None
    bench = result.levels.get("benchmark")
    if bench is not None and bench.isna().all():
        bench = None
    frame = pd.DataFrame({"level_tr": peer}).dropna()
    out = performance_metrics(frame, None if bench is None else bench.reindex(frame.index))
    return {"methodology": result.peer_name, **out}
