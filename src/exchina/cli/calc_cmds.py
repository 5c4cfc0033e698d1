"""CLI command ``calc``: daily PR, TR and net TR levels of a methodology into a folder.

``exchina calc --methodology M [--from D] [--to D] --out DIR [--source S] [--store DIR]``
(see ``exchina.ops.calc_run``): re-running the same days writes nothing, later days are
appended, a changed history becomes a new revision with the old one kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exchina.cli.common import SourceOpt, StoreOpt


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
) -> None:
    """Calculate daily index levels (PR, gross TR, net TR) with corporate actions applied, and
    write levels.csv/.parquet, actions.csv, holdings.csv and manifest.json."""
    from exchina.ops.calc_output import read_manifest
    from exchina.ops.calc_run import run_calc

    res = run_calc(methodology, out, start, end, source=source, store=store,
                   lock_timeout=lock_timeout)  # fmt: skip
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


def register(app: typer.Typer) -> None:
    """Add ``calc`` to the root app."""
    app.command("calc")(calc_cmd)
