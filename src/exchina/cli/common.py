"""Options shared by every command (store location, market-data source, JSON output)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store", help="Market-data store folder (else $EXCHINA_STORE, else a per-user dir)."
    ),
]
SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        help="Market data: 'store', 'demo' (synthetic), or 'auto' (store if it holds data, else demo).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
MethodologyOpt = Annotated[
    str,
    typer.Option(
        "--methodology",
        "-m",
        help="Methodology TOML file, or the name of a shipped one (default: flagship).",
    ),
]
FLAGSHIP = "flagship"


def methodology_path(value: str | Path) -> Path:
    """A methodology option's file: the path when it is a file, else the shipped one so named."""
    from exchina.index.methodology import resolve_methodology

    path = Path(value)
    return path if path.is_file() else resolve_methodology(str(value))


def start_output_run(out: Path, owned: Iterable[str], force: bool, methodology: str) -> Path:
    """The start of every command that writes a methodology's results into ``--out``: refuse a
    folder holding foreign files before any work (exit 8), then find the methodology file."""
    from exchina.core.atomic import check_output_folder

    check_output_folder(out, owned, force=force)
    return methodology_path(methodology)


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Write into an --out folder that holds other files (they are kept, never deleted).",
    ),
]
AsStoredOpt = Annotated[
    str | None,
    typer.Option(
        "--as-stored",
        help="Read the store as it was at this version (0, 1, ...) or time (YYYY-MM-DD[THH:MM]); "
        "`exchina data versions` lists them.",
    ),
]
CompaniesOpt = Annotated[
    Path | None, typer.Option("--companies", help="Company master CSV (default: shipped).")
]
FactsOpt = Annotated[
    Path | None,
    typer.Option(
        "--facts",
        help="Exposure facts CSV (default: shipped); with --companies, facts of that master's "
        "companies only.",
    ),
]
