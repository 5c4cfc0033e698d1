"""CLI commands on the store's versions: ``data verify``, ``data versions``, ``data restore``,
and ``data remove`` (added to the ``data`` group of ``data_cmds``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from exchina.cli.common import JsonOpt, StoreOpt
from exchina.core.errors import DamagedDataError


def verify_cmd(store: StoreOpt = None) -> None:
    """Check the whole store (commit log, every data file, unique keys); name each damaged file
    and its repair. Exit 10 when something is damaged."""
    from exchina.core.store import MarketStore

    st = MarketStore(store)
    problems = st.verify()
    if problems:
        for p in problems[1:]:
            typer.echo(f"damaged: {p}", err=True)
        more = f" ({len(problems)} problems; all listed above)" if len(problems) > 1 else ""
        raise DamagedDataError(problems[0] + more)
    typer.echo(f"store {st.root} is sound (version {st.version()})")


def versions_cmd(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the store's versions (for --as-stored and `data restore`)."""
    from exchina.core.store import MarketStore

    st = MarketStore(store)
    hist = st.versions()
    if as_json:
        rows = [
            {**r, "time": r["time"].isoformat() if r["time"] is not None else None}
            for r in hist.to_dict(orient="records")
        ]
        typer.echo(json.dumps({"store": str(st.root), "versions": rows}, indent=2, default=str))
        return
    if not len(hist):
        typer.echo(f"the store at {st.root} has no versions yet")
        return
    typer.echo(hist.to_string(index=False))


def restore_cmd(
    version: Annotated[int, typer.Argument(help="Version to make current (see `data versions`).")],
    store: StoreOpt = None,
) -> None:
    """Make an earlier version's data current again, as a new version (history is kept)."""
    from exchina.core.store import MarketStore

    st = MarketStore(store)
    new = st.restore(version)
    typer.echo(f"store {st.root}: version {version} restored as version {new}")


def remove_cmd(
    tickers: Annotated[
        list[str], typer.Argument(help="Tickers (prices and shares) or FX tickers like AUDUSD=X.")
    ],
    store: StoreOpt = None,
) -> None:
    """Take tickers out of the store, all in one new version (`data restore` brings them back).
    A ticker the store does not hold is an error (exit 2) and nothing is removed."""
    from exchina.core.store import MarketStore

    st = MarketStore(store)
    removed = st.remove_series(tickers)
    left = "" if st.has_prices() else "; the store holds no prices now: `auto` uses the demo market"
    typer.echo(
        f"store {st.root}: removed {', '.join(dict.fromkeys(tickers))} (price rows "
        f"{removed['prices']}, shares rows {removed['shares']}, FX rows {removed['fx']}) as "
        f"version {st.version()}{left}"
    )


def register(app: typer.Typer) -> None:
    """Add ``verify``, ``versions``, ``restore`` and ``remove`` to the ``data`` group."""
    from exchina.cli.data_cmds import data_app

    data_app.command("verify")(verify_cmd)
    data_app.command("versions")(versions_cmd)
    data_app.command("restore")(restore_cmd)
    data_app.command("remove")(remove_cmd)
