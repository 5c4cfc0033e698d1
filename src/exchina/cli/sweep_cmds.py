"""CLI commands: sweep (registered on the root app by ``register``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exchina.cli.common import AsStoredOpt, ForceOpt, SourceOpt, StoreOpt


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
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
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
    for side in ("best", "worst"):
        row = s[side]
        if row:
            params = {k: row[k] for k in variants[0].params}
            typer.echo(f"{side}: {row['variant_id']} {metric}={row.get(metric)} {params}")
    for p in paths.values():
        typer.echo(f"wrote {p}")
