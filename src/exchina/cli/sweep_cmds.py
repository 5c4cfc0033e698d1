"""CLI commands: sweep (registered on the root app by ``register``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from exchina.cli.common import AsStoredOpt, ForceOpt, SourceOpt, StoreOpt

if TYPE_CHECKING:
    from exchina.core.market import Market
    from exchina.ops.sweep import Variant


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("sweep")(sweep)


def sweep(
    grid: Annotated[Path, typer.Option("--grid", help="Grid TOML: base and [parameters].")],
    out: Annotated[Path, typer.Option("--out", help="Folder for variants.parquet, summary.json.")],
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address (else a local cluster)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Local worker processes (default: CPUs).")
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Metric that ranks the best and worst variants.")
    ] = "sharpe",
    start: Annotated[str | None, typer.Option("--start", help="Backtest start date.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Backtest end date.")] = None,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    as_stored: AsStoredOpt = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
    ] = True,
    force: ForceOpt = False,
) -> None:
    """Backtest every combination of a parameter grid on Dask; write one table and the best/worst."""
    from exchina.core.atomic import check_output_folder
    from exchina.core.errors import InputError
    from exchina.core.sources import load_market
    from exchina.ops.sweep import (
        SWEEP_FILES,
        backtest_metric_names,
        expand_grid,
        load_grid,
        run_sweep,
        write_sweep,
    )

    if scheduler is not None and workers is not None:
        raise InputError(
            "--workers applies to a local cluster; drop it with --scheduler", field="workers"
        )
    if metric not in (names := backtest_metric_names()):
        raise InputError(f"unknown metric {metric!r}; choose one of {names}", field="metric")
    check_output_folder(out, SWEEP_FILES, force=force)
    variants = expand_grid(load_grid(grid))
    market = load_market(source, store, as_stored=as_stored)
    _require_coverage(variants, market)
    result = run_sweep(
        variants,
        market,
        metric=metric,
        start=start,
        end=end,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
    )
    paths = write_sweep(result, out, force=force)
    s = result.summary()
    typer.echo(result.label)
    typer.echo(
        f"{s['variants']} variants: {s['ok']} ok, {s['error']} failed, {s['invalid']} invalid "
        f"in {s['elapsed_s']:.1f} s on {s['workers']} worker(s) ({s['variants_per_second']:.2f}/s)"
    )
    typer.echo(_ranked_text(result.table, list(variants[0].params), metric, s))
    for p in paths.values():
        typer.echo(f"wrote {p}")


def _require_coverage(variants: list[Variant], market: Market) -> None:
    """Exit 4 before any backtest when the market prices too few of the companies a variant's
    rules consider at its last date (every variant would fail for want of data)."""
    from exchina.index.coverage import require_coverage
    from exchina.universe import load_companies

    companies = load_companies()
    for v in variants:
        if v.methodology is not None:
            require_coverage(market, v.methodology, companies, market.as_of)


SHOWN_METRICS = ("cagr", "volatility", "max_drawdown", "sharpe", "turnover_annual")
TOP = 5


def _ranked_text(table, params: list[str], metric: str, summary: dict) -> str:
    """The best and worst variants by ``metric`` as a table (parameters, then the headline
    metrics as percentages or ratios), failures counted below it."""
    import pandas as pd

    from exchina.backtest.metrics import PERCENT_METRICS

    ok = table[table["status"] == "ok"]
    if ok.empty:
        return "no variant ran; see variants.parquet for the errors"
    ranked = ok.sort_values(metric, ascending=not summary["higher_is_better"])
    picked = pd.concat([ranked.head(TOP), ranked.tail(TOP)]).drop_duplicates("variant_id")
    cols = [c for c in (metric, *SHOWN_METRICS) if c in picked]
    cols = list(dict.fromkeys(cols))
    out = picked[["variant_id", *params, *cols]].copy()
    for c in cols:
        pct = c in PERCENT_METRICS
        out[c] = [f"{v:.1%}" if pct else f"{v:.2f}" for v in out[c].astype(float)]
    for c in params:
        out[c] = out[c].map(lambda v: "none" if v is None else str(v))
    out = out.rename(columns={"variant_id": "variant"})
    head = f"best and worst {min(TOP, len(ranked))} by {metric} (of {len(ok)} that ran):"
    return head + "\n" + out.to_string(index=False)
