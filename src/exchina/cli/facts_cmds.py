"""CLI commands: ``exchina facts review`` (registered on the root app by ``register``).

``exchina facts review [--as-of DATE] [--json]`` lists what the fact base needs at a date:
eligible companies with unknown factors, facts due for re-verification, open-ended ownership and
offtake facts with old sources, descriptions naming events after their source, and primary stages
left to the most-downstream default. It is a to-do list: it exits 0 whatever it finds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from exchina.cli.common import JsonOpt, SourceOpt, StoreOpt
from exchina.cli.universe_cmds import _date, _rules
from exchina.universe.review import FactsReview, review_facts

facts_app = typer.Typer(help="Research to-do lists for the exposure and stage facts.")

_TITLES = {
    "eligible_unknown": "eligible companies with unknown graded factors",
    "due": "facts due for re-verification",
    "old_open_ended": "open-ended ownership/offtake facts with old sources",
    "later_events": "descriptions naming events after their source date",
    "stage_defaults": "eligible companies on the most-downstream stage default",
}


@facts_app.command("review")
def review(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date YYYY-MM-DD (default: today)."),
    ] = None,
    methodology: Annotated[
        Path | None,
        typer.Option("--methodology", help="Methodology TOML (default: the shipped flagship)."),
    ] = None,
    source: SourceOpt = "auto",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What needs research at a date (exit 0 whatever is found)."""
    from exchina.core.sources import load_market

    rules, rules_label = _rules(methodology)
    t = _date(as_of)
    t = t if t is not None else pd.Timestamp.today().normalize()
    market = load_market(source, str(store) if store else None)
    result = review_facts(t, rules, market)
    if as_json:
        payload = {"rules": rules_label, "market": market.label, **result.to_dict()}
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(_text(result, rules_label, market.label))


def _text(result: FactsReview, rules_label: str, market_label: str) -> str:
    lines = [
        f"facts review at {result.as_of.date()} - rules: {rules_label}",
        f"market: {market_label}",
    ]
    for section in FactsReview.SECTIONS:
        items = getattr(result, section)
        lines.append(f"\n{_TITLES[section]}: {len(items)}")
        for it in items:
            lines.append("  " + _line(section, it))
    if not any(result.counts().values()):
        lines.append("\nnothing due")
    return "\n".join(lines)


def _line(section: str, it: dict) -> str:
    if section == "eligible_unknown":
        return f"{it['ticker']:<10} {it['name']}: {', '.join(it['unknown_factors'])}"
    if section == "stage_defaults":
        return f"{it['ticker']:<10} {it['name']}: {it['stages']}"
    head = f"{it['fact_id']} ({it['company_id']}, {it['factor']})"
    if section == "due":
        return f"{head}: last checked {it['last_check']}"
    if section == "old_open_ended":
        return f"{head}: source {it['source_date']} ({it['source_age_years']:.1f} years old)"
    return f"{head}: source {it['source_date']} mentions {it['later_years']}"


def register(app: typer.Typer) -> None:
    """Add the ``facts`` group to the root app."""
    app.add_typer(facts_app, name="facts")
