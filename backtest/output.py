"""Write a backtest to a folder atomically: build everything in a temp folder, then swap it in.

Files: ``levels.csv`` and ``levels.parquet`` (date, level_pr, level_tr, benchmark, data_source),
``weights.parquet`` (one row per rebalance and ticker: date, ticker, weight, drifted_weight,
trade, data_source), ``metrics.json`` (metrics, rebalances, evidence: the weighted China score
and weighted confidence per rebalance, gaps, notes, data_source) and ``report.html``. A failure leaves any earlier output folder untouched.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from exchina.backtest.metrics import performance_metrics
from exchina.backtest.report import render_report
from exchina.backtest.result import BacktestResult


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
    return long


def _evidence_records(result: BacktestResult) -> list[dict]:
    """Weighted China score and weighted confidence per rebalance (effective date)."""
    if result.weights.empty:
        return []
    ev = result.evidence().rename_axis("date").reset_index()
    ev["date"] = pd.DatetimeIndex(ev["date"]).strftime("%Y-%m-%d")
    return ev.to_dict(orient="records")


def _files(
    result: BacktestResult, folder: Path, metrics: dict, events: pd.DataFrame | None
) -> None:
    src = result.label
    levels = result.levels.reset_index()
    levels["data_source"] = src
    levels.to_csv(folder / "levels.csv", index=False, float_format="%.10g", date_format="%Y-%m-%d")
    levels.to_parquet(folder / "levels.parquet", index=False)
    weights = _weights_long(result)
    weights["data_source"] = src
    weights.to_parquet(folder / "weights.parquet", index=False)
    costs = result.costs.assign(
        review=result.costs["review"].dt.strftime("%Y-%m-%d"),
        effective=result.costs["effective"].dt.strftime("%Y-%m-%d"),
    )
    gaps = result.gaps.astype({c: "string" for c in result.gaps.columns if c != "rows"})
    doc = {
        "data_source": src,
        "synthetic": result.synthetic,
        "metrics": metrics,
        "peer": _peer_metrics(result),
        "rebalances": costs.to_dict(orient="records"),
        "evidence": _evidence_records(result),
        "price_gaps": gaps.to_dict(orient="records"),
        "notes": result.notes,
    }
    text = json.dumps(_json_safe(doc), indent=2, default=str)
    (folder / "metrics.json").write_text(text + "\n", encoding="utf-8")
    page = render_report(result, metrics, events)
    (folder / "report.html").write_text(page, encoding="utf-8")


def write_backtest(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    metrics: dict | None = None,
    events: pd.DataFrame | None = None,
) -> Path:
    """Write every output file into ``out_dir`` (replaced as a whole, atomically); returns it."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    m = metrics if metrics is not None else result.metrics()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the output folder is not
    try:
        _files(result, tmp, m, events)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
