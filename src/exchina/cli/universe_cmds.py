"""CLI commands: universe (registered on the root app by ``register``).

``exchina universe --date DATE`` prints every company with its stages, China score, confidence,
how many of the six graded factors are evidenced, eligibility and reasons under a methodology's universe rules (the flagship's by default);
``--explain TICKER`` prints one company's score fact by fact with sources.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from exchina.cli.common import (
    FLAGSHIP,
    AsStoredOpt,
    JsonOpt,
    MethodologyOpt,
    SourceOpt,
    StoreOpt,
    methodology_path,
)
from exchina.core.atomic import write_atomic
from exchina.core.csvsafe import csv_text
from exchina.core.inputs import parse_date
from exchina.core.market import Market
from exchina.universe import UniverseRules, build_universe, explain
from exchina.universe.review import evidence_summary

TABLE_COLUMNS = [
    "name",
    "country",
    "stages",
    "primary_stage",
    "china_score",
    "confidence",
    "evidenced",
    "eligible",
    "standing",
    "reasons",
]


def _rules(methodology: str) -> tuple[UniverseRules, str]:
    """The universe rules of the methodology (a file, or a shipped name such as the flagship)."""
    from exchina.index.methodology import load_methodology

    path = methodology_path(methodology)
    m = load_methodology(path)
    where = f"shipped {methodology}" if not Path(methodology).is_file() else str(path)
    return m.universe, f"{m.name} ({where})"


def _require_coverage(methodology: str, market: Market, t: pd.Timestamp) -> None:
    """Exit 4 when the market prices too few of the companies the rules consider at ``t``."""
    from exchina.index.coverage import require_coverage
    from exchina.index.methodology import load_methodology
    from exchina.universe import load_companies

    m = load_methodology(methodology_path(methodology))
    require_coverage(market.asof(t), m, load_companies(), t)


def _date(text: str | None) -> pd.Timestamp | None:
    return parse_date(text, "--date")


def universe(
    date: Annotated[
        str | None, typer.Option("--date", help="Date YYYY-MM-DD (default: latest price date).")
    ] = None,
    methodology: MethodologyOpt = FLAGSHIP,
    explain_company: Annotated[
        str | None,
        typer.Option("--explain", help="Break one company's China score down (ticker or id)."),
    ] = None,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    as_stored: AsStoredOpt = None,
    as_json: JsonOpt = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the full universe table as CSV.")
    ] = None,
    holdings: Annotated[
        Path | None,
        typer.Option(
            "--holdings",
            help="The index's current constituents.csv (ticker, weight): its members get the "
            "buffer and are marked held, as at a rebalance.",
        ),
    ] = None,
) -> None:
    """The universe at a date: stages, China score, confidence, eligibility and every reason."""
    rules, rules_label = _rules(methodology)
    t = _date(date)
    market = None
    if t is None:  # the table's and the explanation's default: the latest price date
        from exchina.core.sources import load_market

        market = load_market(source, str(store) if store else None, as_stored=as_stored)
        t = market.as_of
    if explain_company is not None:
        e = explain(explain_company, t, rules.china)
        if as_json:
            payload = {
                "company_id": e.company_id,
                "ticker": e.ticker,
                "date": str(t.date()),
                "china_score": e.score,
                "graded_score": e.graded_score,
                "confidence": e.confidence,
                "flags": e.flags,
                "unknown_policy": e.unknown_policy,
                "allied_backing_usd_m": e.allied_backing_usd_m,
                "rules": rules_label,
                "facts": json.loads(e.table.to_json(orient="records")),
            }
            typer.echo(json.dumps(payload, indent=2))
        else:
            typer.echo(e.to_markdown())
            typer.echo(f"rules: {rules_label}")
        return

    from exchina.core.sources import load_market

    market = (
        market
        if market is not None
        else load_market(source, str(store) if store else None, as_stored=as_stored)
    )
    from exchina.cli.index_cmds import read_holdings
    from exchina.universe.screens import buffer_text, standing

    held = list(read_holdings(holdings).index) if holdings is not None else []
    _require_coverage(methodology, market, t)
    u = build_universe(t, rules, market, previous_members=held)
    u = u.assign(standing=standing(u, held))
    if out is not None:
        write_atomic(out, csv_text(u.assign(market_source=market.label)))
    if as_json:
        payload = {
            "date": str(t.date()),
            "rules": rules_label,
            "market": market.label,
            "synthetic": market.synthetic,
            "evidence": evidence_summary(u),
            "companies": json.loads(u.reset_index().to_json(orient="records")),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    shown = u.assign(
        china_score=u["china_score"].round(1),
        confidence=u["confidence"].round(2),
        evidenced=u["evidenced_factors"].astype(str) + "/6",
    )[TABLE_COLUMNS]
    typer.echo(f"universe at {t.date()} - rules: {rules_label}")
    typer.echo(f"market: {market.label}")
    typer.echo(_table_text(shown.sort_values(["eligible", "china_score"], ascending=[False, True])))
    counts = u["standing"].value_counts()
    n_buf = int(counts.get("held, kept by buffer", 0))
    typer.echo(
        f"{int(u['eligible'].sum())} of {len(u)} eligible ({len(held)} held, {n_buf} of them "
        f"kept by the members' buffer)"
    )
    typer.echo(buffer_text(rules) + (" (--holdings names the members.)" if not held else ""))
    ev = evidence_summary(u)
    if ev["eligible"]:
        typer.echo(
            f"evidence: {ev['fully_evidenced']} of {ev['eligible']} eligible names have all six "
            f"graded factors evidenced; median confidence {ev['median_confidence']:.2f}"
        )
    if out is not None:
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("universe")(universe)


WIDTHS = {"name": 34, "stages": 44, "reasons": 70}


def _table_text(frame: pd.DataFrame) -> str:
    """The table for a terminal: text left-aligned, long text cut with an ellipsis."""

    def cut(value: Any, width: int) -> str:
        text = "" if pd.isna(value) else str(value)
        return text if len(text) <= width else text[: width - 1] + "…"

    formatters = {}
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            cap = WIDTHS.get(col, 24)
            width = max(len(col), *(len(cut(v, cap)) for v in frame[col])) if len(frame) else 0
            formatters[col] = lambda v, c=cap, w=width: f"{cut(v, c):<{w}}"
    return frame.to_string(formatters=formatters, justify="left")
