"""CLI commands for operators: ``run`` (one scheduled cycle) and ``schedule`` (the calendar)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exchina.cli.common import (
    AsStoredOpt,
    CompaniesOpt,
    FactsOpt,
    ForceOpt,
    JsonOpt,
    MethodologyOpt,
    SourceOpt,
    StoreOpt,
)
from exchina.core.errors import ExchinaError
from exchina.core.inputs import check_year


def run_cmd(
    methodology: MethodologyOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Output folder; each rebalance goes in OUT/<effective date>/rev-NNN/."
        ),
    ],
    date: Annotated[
        str | None, typer.Option("--date", help="Run date YYYY-MM-DD (default today).")
    ] = None,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh", help="Fetch fresh prices from Yahoo Finance into the store first."
        ),
    ] = False,
    allow_stale: Annotated[
        bool,
        typer.Option(
            "--allow-stale",
            help="Accept prices older than schedule.max_price_age_days (recorded as a warning).",
        ),
    ] = False,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            min=0,
            help="Seconds to wait for another run on the same folder (then exit 6).",
        ),
    ] = 600.0,
    companies: CompaniesOpt = None,
    facts: FactsOpt = None,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object per line on stderr.")
    ] = False,
    calc: Annotated[
        bool,
        typer.Option(
            "--calc/--no-calc",
            help="Also publish announcements and run the daily calculation into OUT/calc.",
        ),
    ] = True,
    force: ForceOpt = False,
    as_stored: AsStoredOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Do one day's operations: on a review or effective date, refresh, select, optimise and
    write a new revision with a manifest (unchanged inputs: nothing written); publish pro-forma
    constituents on the announcement date and the final file with a diff on the effective date;
    on every business day calculate the levels into OUT/calc (--no-calc to skip)."""
    from exchina.ops.runlog import RunLog
    from exchina.ops.scheduled_run import run_scheduled

    log = RunLog(json_lines=log_json)
    try:
        res = run_scheduled(
            methodology, out, date, source=source, store=store, refresh=refresh,
            allow_stale=allow_stale, lock_timeout=lock_timeout, companies=companies,
            facts=facts, log=log, force=force, as_stored=as_stored,
        )  # fmt: skip
    except ExchinaError as exc:
        log.error(
            "run.failed",
            error=type(exc).__name__,
            exit_code=exc.exit_code,
            message=str(exc),
            tickers=getattr(exc, "tickers", None),
            conflicts=getattr(exc, "conflicts", None),
            failures=getattr(exc, "failures", None),
        )
        raise
    from exchina.ops.daily_run import after_scheduled

    day = after_scheduled(methodology, out, res, source=source, store=store, calc=calc,
                          force=force, as_stored=as_stored, companies=companies,
                          facts=facts)  # fmt: skip
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "published": [str(p) for p in day.published],
                    "calculation": day.messages[-1] if day.calc is not None else None,
                    "status": res.status,
                    "message": res.message,
                    "date": f"{res.date:%Y-%m-%d}",
                    "effective": f"{res.effective:%Y-%m-%d}" if res.effective is not None else None,
                    "review": f"{res.review:%Y-%m-%d}" if res.review is not None else None,
                    "folder": str(res.folder) if res.folder else None,
                    "warnings": res.warnings,
                    "refresh_failures": res.refresh_failures,
                },
                indent=2,
            )
        )
        return
    typer.echo(res.message)
    for line in day.messages:
        typer.echo(line)
    for w in res.warnings:
        typer.echo(f"warning: {w}", err=True)


def schedule_cmd(
    methodology: MethodologyOpt,
    year: Annotated[
        int | None, typer.Option("--year", help="Calendar year (default this year).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the review (selection cut-off) and effective dates of a year."""
    import datetime as dt

    from exchina.index.methodology import load_methodology, resolve_methodology
    from exchina.ops.scheduled_run import schedule_table

    meth = load_methodology(resolve_methodology(methodology))
    y = check_year(year) if year is not None else dt.date.today().year
    table = schedule_table(meth, y)
    rows = [
        {"review": f"{r.review:%Y-%m-%d}", "effective": f"{r.effective:%Y-%m-%d}"}
        for r in table.itertuples(index=False)
    ]
    if as_json:
        typer.echo(json.dumps({"methodology": meth.name, "year": y, "dates": rows}, indent=2))
        return
    typer.echo(f"{meth.name} {y}: review (cut-off) -> effective (after the close)")
    for r in rows:
        typer.echo(f"  {r['review']} -> {r['effective']}")


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``schedule`` to the root app."""
    app.command("run")(run_cmd)
    app.command("schedule")(schedule_cmd)
