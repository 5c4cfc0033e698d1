"""CLI commands ``calc`` (daily PR, TR and net TR levels into a folder) and ``factsheet``.

``exchina calc --methodology M [--from D] [--to D] --out DIR [--source S] [--store DIR]
[--companies CSV --facts CSV]``
(see ``exchina.ops.calc_run``): re-running the same days writes nothing, later days are
appended, a changed history becomes a new revision with the old one kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exchina.cli.common import (
    AsStoredOpt,
    CompaniesOpt,
    FactsOpt,
    ForceOpt,
    SourceOpt,
    StoreOpt,
)


def calc_cmd(
    methodology: Annotated[
        str, typer.Option("--methodology", "-m", help="Methodology TOML file or a shipped name.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Calculation folder (levels only grow).")],
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (default: last price).")] = None,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    lock_timeout: Annotated[
        float, typer.Option("--lock-timeout", min=0, help="Seconds to wait for another run.")
    ] = 600.0,
    force: ForceOpt = False,
    as_stored: AsStoredOpt = None,
    companies: CompaniesOpt = None,
    facts: FactsOpt = None,
) -> None:
    """Calculate daily index levels (PR, gross TR, net TR) with corporate actions applied, and
    write levels.csv/.parquet, actions.csv, holdings.csv and manifest.json."""
    from exchina.ops.calc_output import read_manifest
    from exchina.ops.calc_run import run_calc
    from exchina.ops.reference import load_reference

    ref = load_reference(companies, facts)  # validated before anything is written
    res = run_calc(methodology, out, start, end, source=source, store=store,
                   lock_timeout=lock_timeout, force=force, as_stored=as_stored,
                   reference=ref)  # fmt: skip
    manifest = read_manifest(res.out) or {}
    typer.echo(f"data source: {manifest.get('data_source', '')}")
    span = f"{res.first.date()} to {res.last.date()}"
    messages = {
        "written": f"wrote {span} ({manifest.get('days')} days), revision {res.revision}",
        "extended": f"appended {res.added_days} day(s); {span}, revision {res.revision}",
        "revised": f"history changed from {(res.changes or {}).get('first_changed')}: revision "
        f"{res.revision} written, revision {res.revision - 1} kept in revisions/",
        "unchanged": f"{span} already calculated with the same result; nothing written",
    }
    typer.echo(f"{manifest.get('methodology', methodology)}: {messages[res.status]}")
    typer.echo(f"folder: {res.out}")


def factsheet_cmd(
    methodology: Annotated[
        str, typer.Option("--methodology", "-m", help="Methodology TOML file or a shipped name.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for factsheet.html and .pdf.")],
    date: Annotated[str | None, typer.Option("--date", help="As of (default: last price).")] = None,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="Also print a PDF (Chromium).")
    ] = True,
    companies: CompaniesOpt = None,
    facts: FactsOpt = None,
    force: ForceOpt = False,
) -> None:
    """Write the index factsheet: key facts, trailing and calendar-year returns (PR, TR, NTR,
    benchmark, peer), risk with VaR/CVaR, top 10, weights by stage, country and China-score
    band, weighted China score and confidence through time."""
    from exchina.backtest.factsheet import FACTSHEET_FILES, factsheet, write_factsheet
    from exchina.core.atomic import check_output_folder
    from exchina.core.sources import load_market
    from exchina.index.methodology import load_methodology, resolve_methodology
    from exchina.ops.reference import load_reference

    check_output_folder(out, FACTSHEET_FILES, force=force)  # before the work, not after
    meth = load_methodology(resolve_methodology(methodology))
    ref = load_reference(companies, facts)
    market = load_market(source, str(store) if store else None)
    fs = factsheet(meth, market, date, companies=ref.companies, facts=ref.facts)
    paths = write_factsheet(fs, out, pdf=pdf, force=force)
    typer.echo(f"data source: {fs.label}")
    typer.echo(f"{fs.name}: factsheet as of {fs.date.date()}")
    for p in paths.values():
        typer.echo(f"wrote {p}")


def register(app: typer.Typer) -> None:
    """Add ``calc`` and ``factsheet`` to the root app."""
    app.command("calc")(calc_cmd)
    app.command("factsheet")(factsheet_cmd)
