"""CLI commands for market data: ``fetch``, ``import``, ``data info``, ``data demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from exchina.cli.common import JsonOpt, StoreOpt
from exchina.core.errors import InputError

data_app = typer.Typer(help="Inspect and seed the market-data store.", no_args_is_help=True)


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def fetch_cmd(
    tickers: Annotated[
        list[str] | None, typer.Argument(help="Yahoo tickers, e.g. LYC.AX MP")
    ] = None,
    universe: Annotated[
        bool, typer.Option("--universe", help="Fetch every company in data/companies.csv + REMX.")
    ] = False,
    start: Annotated[
        str | None, typer.Option("--start", help="First date (default 2010-01-01).")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last date, exclusive.")] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Tickers per Yahoo download request.")
    ] = 50,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download daily prices, dividends, splits, share counts and FX from Yahoo Finance into the
    store."""
    from exchina.core.demo import load_demo_instruments
    from exchina.core.store import MarketStore
    from exchina.core.yahoo import fetch, universe_tickers

    names = list(tickers or [])
    if universe:
        names += universe_tickers(load_demo_instruments())
    if not names:
        raise InputError("name tickers or pass --universe", field="tickers")
    st = MarketStore(store)
    result = fetch(names, st, start=start, end=end, batch_size=batch_size, progress=not as_json)
    for w in result.warnings:
        _err(f"warning: {w}")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "store": str(st.root),
                    "succeeded": result.succeeded,
                    "failures": result.failures,
                    "currencies": result.currencies,
                    "prices": {"added": result.prices.added, "revised": result.prices.revised},
                    "fx": {"added": result.fx.added, "revised": result.fx.revised},
                    "shares": {"added": result.shares.added, "revised": result.shares.revised},
                },
                indent=2,
            )
        )
    else:
        typer.echo(
            f"fetched {len(result.succeeded)} ticker(s) into {st.root}: price rows "
            f"+{result.prices.added} added, {result.prices.revised} revised; "
            f"FX rows +{result.fx.added} added, {result.fx.revised} revised; shares rows "
            f"+{result.shares.added} added, {result.shares.revised} revised"
        )
    if result.failures:
        _err(f"failed ({len(result.failures)}), stored data kept:")
        for t, why in sorted(result.failures.items()):
            _err(f"  {t}: {why}")


def import_cmd(
    paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet price files.")],
    ticker: Annotated[
        str | None, typer.Option("--ticker", help="Ticker (default: from the file name).")
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="ISO currency (default: from the suffix).")
    ] = None,
    replace_series: Annotated[
        bool,
        typer.Option(
            "--replace-series",
            help="Replace each imported ticker's whole stored series (e.g. a currency change).",
        ),
    ] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import price files you already have (Yahoo export, yfinance to_csv/to_parquet)."""
    from exchina.core.importer import import_files
    from exchina.core.store import MarketStore

    st = MarketStore(store)
    report = import_files(
        list(paths), st, ticker=ticker, currency=currency, replace_series=replace_series
    )
    for w in report.warnings:
        _err(f"warning: {w}")
    rows = [
        {
            "file": str(s.file),
            "ticker": s.ticker,
            "kind": s.kind,
            "currency": s.currency,
            "currency_inferred": s.currency_inferred,
            "first": f"{s.first:%Y-%m-%d}",
            "last": f"{s.last:%Y-%m-%d}",
            "rows": s.rows,
        }
        for s in report.series
    ]
    summary = {
        "store": str(st.root),
        "series": rows,
        "prices": {"added": report.prices.added, "revised": report.prices.revised,
                   "unchanged": report.prices.unchanged},
        "fx": {"added": report.fx.added, "revised": report.fx.revised,
               "unchanged": report.fx.unchanged},
    }  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for r in rows:
        note = " (inferred)" if r["currency_inferred"] else ""
        typer.echo(
            f"{r['ticker']:<12} {r['kind']:<6} {r['currency']}{note:<11} {r['first']} .. "
            f"{r['last']} {r['rows']:>6} rows  {r['file']}"
        )
    p, f = report.prices, report.fx
    typer.echo(
        f"store {st.root}: price rows +{p.added} added, {p.revised} revised, {p.unchanged} "
        f"unchanged; FX rows +{f.added} added, {f.revised} revised, {f.unchanged} unchanged"
    )


@data_app.command("info")
def info_cmd(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List what the store holds: tickers, first and last date, rows, currency, source."""
    from exchina.core.demo import DEMO_SOURCE
    from exchina.core.store import MarketStore

    st = MarketStore(store)
    info = st.info()
    synthetic = bool(info["source"].str.contains(DEMO_SOURCE).any()) if len(info) else False
    if as_json:
        out: dict = {"store": str(st.root), "synthetic": synthetic}
        for table in ("prices", "fx", "shares"):
            part = info[info["table"] == table]
            out[table] = [
                {
                    "key": r["key"],
                    "first": f"{pd.Timestamp(r['first']):%Y-%m-%d}",
                    "last": f"{pd.Timestamp(r['last']):%Y-%m-%d}",
                    "rows": int(r["rows"]),
                    "currency": r["currency"],
                    "currency_inferred": bool(r["currency_inferred"]),
                    "source": r["source"],
                    "last_stored": pd.Timestamp(r["last_stored"]).isoformat(),
                }
                for r in part.to_dict("records")
            ]
        typer.echo(json.dumps(out, indent=2))
        return
    if not len(info):
        typer.echo(
            f"the store at {st.root} is empty: commands will use the SYNTHETIC demo market. "
            "Get real prices with `exchina fetch --universe` or `exchina import FILE...`."
        )
        return
    typer.echo(f"store {st.root}")
    if synthetic:
        typer.echo("WARNING: the store holds SYNTHETIC demo data (source synthetic-demo)")
    shown = info.assign(
        first=pd.to_datetime(info["first"]).dt.strftime("%Y-%m-%d"),
        last=pd.to_datetime(info["last"]).dt.strftime("%Y-%m-%d"),
        currency=info["currency"].fillna("")
        + info["currency_inferred"].map({True: " (inferred)", False: ""}),
    )[["table", "key", "first", "last", "rows", "currency", "source"]]
    typer.echo(shown.to_string(index=False))


@data_app.command("demo")
def demo_cmd(
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the demo market.")] = 7,
    store: StoreOpt = None,
) -> None:
    """Write the SYNTHETIC demo market into the store (labelled synthetic-demo everywhere)."""
    from exchina.core.demo import DEMO_SOURCE, demo_long_frames, demo_market
    from exchina.core.store import MarketStore

    st = MarketStore(store)
    prices, fx, shares = demo_long_frames(demo_market(seed))
    with st.lock():
        p = st.write_prices(prices, DEMO_SOURCE, "demo")
        f = st.write_fx(fx, DEMO_SOURCE, "demo")
        s = st.write_shares(shares, DEMO_SOURCE, "demo")
    typer.echo(
        f"wrote the SYNTHETIC demo market (seed {seed}) to {st.root}: price rows +{p.added}, "
        f"FX rows +{f.added}, shares rows +{s.added} (source {DEMO_SOURCE})"
    )


def register(app: typer.Typer) -> None:
    """Add ``fetch``, ``import`` and the ``data`` group to the root app."""
    app.command("fetch")(fetch_cmd)
    app.command("import")(import_cmd)
    app.add_typer(data_app, name="data")
