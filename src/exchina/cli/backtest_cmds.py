"""CLI command ``backtest`` (registered on the root app by ``register``).

``exchina backtest --methodology FILE --out DIR [--start D] [--end D] [--source store|demo|auto]
[--store DIR] [--benchmark T|none] [--no-peer] [--companies CSV --facts CSV]`` runs the methodology point in time and writes
levels, weights, metrics and an HTML report into DIR atomically (nothing written on error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exchina.cli.common import (
    FLAGSHIP,
    AsStoredOpt,
    CompaniesOpt,
    FactsOpt,
    ForceOpt,
    MethodologyOpt,
    SourceOpt,
    StoreOpt,
    start_output_run,
)
from exchina.core.inputs import parse_date


def backtest(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Output folder; only its own files are replaced (each atomically)."
        ),
    ],
    methodology: MethodologyOpt = FLAGSHIP,
    start: Annotated[str | None, typer.Option("--start", help="First date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last date (YYYY-MM-DD).")] = None,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    as_stored: AsStoredOpt = None,
    benchmark: Annotated[
        str | None,
        typer.Option(
            "--benchmark",
            help="Benchmark ticker, methodology file or shipped name, or 'none' "
            "(default: the methodology's [benchmark]).",
        ),
    ] = None,
    peer: Annotated[
        bool,
        typer.Option(
            "--peer/--no-peer",
            help="Also run the [benchmark] methodology beside it (China-exposure comparison).",
        ),
    ] = True,
    companies: CompaniesOpt = None,
    facts: FactsOpt = None,
    force: ForceOpt = False,
) -> None:
    """Backtest a methodology and write levels.csv/.parquet, weights.parquet, metrics.json and
    report.html."""
    from exchina.backtest import load_events, resolve_benchmark, run_backtest, write_backtest
    from exchina.backtest.output import OUTPUT_FILES
    from exchina.core.sources import load_market
    from exchina.index.methodology import load_methodology
    from exchina.ops.reference import load_reference

    path = start_output_run(out, OUTPUT_FILES, force, methodology)
    meth = load_methodology(path)
    ref = load_reference(companies, facts)
    lo, hi = parse_date(start, "--start"), parse_date(end, "--end")
    market = load_market(source, store, as_stored=as_stored)
    bench, other = resolve_benchmark(meth, benchmark, market, relative_to=path)
    result = run_backtest(
        meth, market, lo, hi, benchmark=bench, peer=other if peer else None, progress=True,
        companies=ref.companies, facts=ref.facts,
    )  # fmt: skip
    metrics = result.metrics()
    folder = write_backtest(result, out, metrics=metrics, events=load_events(), force=force,
                            reference_data=ref.files)  # fmt: skip
    typer.echo(f"data source: {result.label}")
    typer.echo(
        f"{result.methodology}: {metrics['start']} to {metrics['end']}, "
        f"{metrics['rebalances']} rebalances; CAGR {metrics['cagr']:.2%}, "
        f"volatility {metrics['volatility']:.2%}, max drawdown {metrics['max_drawdown']:.2%}"
    )
    if result.benchmark_name:
        typer.echo(
            f"vs {result.benchmark_name}: excess CAGR {metrics.get('excess_cagr', float('nan')):.2%}, "
            f"tracking error {metrics.get('tracking_error', float('nan')):.2%}"
        )
    if metrics.get("rebalances_relaxed"):
        typer.echo(
            f"relaxed: rules gave way at {metrics['rebalances_relaxed']} of "
            f"{metrics['rebalances']} rebalances (worst: {metrics['worst_relaxation']}); "
            "each is listed under 'relaxed' in metrics.json"
        )
    for note in result.notes[:5]:
        typer.echo(f"note: {note}", err=True)
    if len(result.notes) > 5:
        typer.echo(f"note: ... {len(result.notes) - 5} more in metrics.json", err=True)
    typer.echo(f"wrote {folder}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("backtest")(backtest)
