"""CLI commands: ``methodology show|rulebook`` and ``rebalance`` (registered by ``register``).

``exchina methodology show FILE`` prints a methodology resolved with defaults (TOML);
``exchina methodology rulebook FILE [--out F]`` writes its Markdown rulebook;
``exchina rebalance --date D --methodology FILE --out DIR`` runs one rebalance and writes
constituents, trades and a JSON report atomically (nothing written on error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from exchina.cli.common import (
    FLAGSHIP,
    AsStoredOpt,
    ForceOpt,
    MethodologyOpt,
    SourceOpt,
    StoreOpt,
    start_output_run,
)
from exchina.core.errors import InputError
from exchina.core.inputs import parse_date

methodology_app = typer.Typer(
    name="methodology", help="Show a methodology or generate its rulebook.", no_args_is_help=True
)

FileArg = Annotated[Path, typer.Argument(help="Methodology TOML file (or a shipped name).")]


def _load(path: Path):
    from exchina.index.methodology import load_methodology, resolve_methodology

    return load_methodology(resolve_methodology(path) if not path.is_file() else path)


@methodology_app.command("show")
def show(file: FileArg) -> None:
    """Print the methodology resolved with every default (TOML)."""
    from exchina.index.rulebook import to_toml

    typer.echo(to_toml(_load(file)), nl=False)


@methodology_app.command("rulebook")
def rulebook(
    file: FileArg,
    out: Annotated[Path | None, typer.Option("--out", help="Write Markdown here.")] = None,
) -> None:
    """Generate the Markdown rulebook of a methodology (stdout, or --out FILE)."""
    from exchina.core.atomic import write_atomic
    from exchina.index.rulebook import rulebook_markdown

    text = rulebook_markdown(_load(file))
    if out is None:
        typer.echo(text, nl=False)
        return
    write_atomic(out, text)
    typer.echo(f"wrote {out}")


def read_holdings(path: Path) -> pd.Series:
    """Previous holdings from a constituents file (CSV or Parquet with ``ticker`` and ``weight``)."""
    if not path.is_file():
        raise InputError("holdings file not found", file=path)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas raises several parser errors
        raise InputError(f"cannot read holdings: {exc}", file=path) from None
    for col in ("ticker", "weight"):
        if col not in frame.columns:
            raise InputError("missing column", file=path, field=col)
    w = pd.to_numeric(frame["weight"], errors="coerce")
    bad = w.isna() | (w < 0)
    if bad.any():
        row = int(bad.to_numpy().argmax()) + 2
        raise InputError("weight must be a non-negative number", file=path, row=row, field="weight")
    return pd.Series(w.to_numpy(float), index=frame["ticker"].astype(str), name="weight")


def rebalance_cmd(
    date: Annotated[str, typer.Option("--date", help="Effective date YYYY-MM-DD.")],
    out: Annotated[
        Path, typer.Option("--out", help="Output folder; only its own files are replaced.")
    ],
    methodology: MethodologyOpt = FLAGSHIP,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    as_stored: AsStoredOpt = None,
    holdings: Annotated[
        Path | None, typer.Option("--holdings", help="Previous constituents.csv (ticker, weight).")
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Run one rebalance and write constituents, trades and report.json (atomically)."""
    from exchina.core.sources import load_market
    from exchina.index.rebalance import REBALANCE_FILES, rebalance, write_rebalance

    t = parse_date(date, "--date")
    path = start_output_run(out, REBALANCE_FILES, force, methodology)
    previous = read_holdings(holdings) if holdings is not None else None
    market = load_market(source, store=store, as_stored=as_stored)
    result = rebalance(t, path, market, previous=previous)
    write_rebalance(result, out, force=force)
    r = result.report
    typer.echo(f"{r['index']}: rebalance effective {r['dates']['effective']}")
    typer.echo(f"data: {r['data_source']}")
    typer.echo(
        f"{r['universe']['held']} constituents of {r['universe']['eligible']} eligible; "
        f"solver {r['optimizer']['solver']} ({r['optimizer']['status']})"
        + (f"; turnover {r['turnover']:.1%}" if r["turnover"] is not None else "")
    )
    for relaxed in result.relaxations:
        typer.echo(relaxed.text())
    for note in r["optimizer"]["warnings"]:
        if not note.startswith("relaxed "):
            typer.echo(f"warning: {note}")
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(methodology_app)
    app.command("rebalance")(rebalance_cmd)
