"""A methodology as text: resolved TOML (defaults filled in) and a Markdown rulebook.

``to_toml`` writes every field, so ``exchina methodology show`` prints exactly what a run uses;
unset optional fields (TOML has no null) are written ``"none"``, which loads back as unset. ``rulebook_markdown`` turns the same
fields into the prose rulebook that index providers publish.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from exchina.index.methodology import Methodology
from exchina.universe.rules import ChinaScoreRules


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):  # an entry of an array of tables, written inline
        return "{" + ", ".join(f"{_key(k)} = {_scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    return json.dumps(str(value))


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _table(prefix: str, data: dict[str, Any], lines: list[str]) -> None:
    subtables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for k, v in data.items():
        if isinstance(v, dict):
            continue
        if v is None:
            lines.append(f'{_key(k)} = "none"')
        else:
            lines.append(f"{_key(k)} = {_scalar(v)}")
    for k, v in subtables.items():
        name = f"{prefix}.{_key(k)}" if prefix else _key(k)
        lines.append("")
        lines.append(f"[{name}]")
        _table(name, v, lines)


def to_toml(methodology: Methodology) -> str:
    """The methodology resolved with defaults, as TOML that loads back to an equal object."""
    lines = [f"# methodology hash (sha256): {methodology.digest()}"]
    data = methodology.model_dump(mode="python")
    _table("", data, lines)
    return "\n".join(lines) + "\n"


def _pct(x: float) -> str:
    return f"{100 * x:g}%"


_SCHEME_TEXT = {
    "capped_mcap": "capped free-float market capitalisation: the weights closest to free-float "
    "market-cap weights ({distance} squared distance) that meet every constraint",
    "equal": "equal weight: the weights closest to 1/N that meet every constraint",
    "min_variance": "minimum variance: the lowest-risk portfolio under the constraints, risk "
    "from a {n_factors}-factor statistical model of {lookback_days} days of USD returns",
    "max_diversification": "maximum diversification: the highest ratio of weighted average "
    "volatility to portfolio volatility ({n_factors}-factor risk model, {lookback_days} days)",
    "risk_parity": "risk parity: each constituent contributes equally to risk, subject to the "
    "constraints ({n_factors}-factor risk model, {lookback_days} days)",
    "tracking": "tracking: the lowest tracking error to the parent index `{parent}` under the "
    "constraints and a Chinese-exposure budget",
}


def rulebook_markdown(methodology: Methodology) -> str:
    """A provider-style rulebook in Markdown generated from the methodology's fields."""
    from exchina.index.constraints import constraint_rulebook  # cvxpy: only when asked for

    m = methodology
    u, w, s, k, b = (m.universe, m.weighting, m.schedule, m.costs, m.benchmark)
    out = [f"# {m.name}: index rulebook", ""]
    if m.description:
        out += [m.description, ""]
    out += [
        f"Methodology version {m.version}; hash `{m.digest()}`.",
        "",
        "## 1. Index overview",
        "",
        f"- Base date {m.base_date.isoformat()}, base level {m.base_level:g}, currency {m.currency}.",
        "- Price return and total return (gross dividends reinvested on the ex-date) levels; every "
        "price converted to USD at the day's FX rate.",
        "",
        "## 2. Eligibility",
        "",
        f"- Supply-chain stages: {', '.join(u.stages)}.",
        f"- Commodities: {', '.join(u.commodities) if u.commodities else 'any'}.",
        f"- Company status: {', '.join(u.statuses)}.",
        f"- At least {u.min_history_days} days of price history before the cut-off.",
        f"- Free-float market cap at least USD {u.min_float_mcap_usd / 1e6:g}M; "
        f"{u.adtv_window_days}-day average daily traded value at least USD "
        f"{u.min_adtv_usd / 1e3:g}K.",
        f"- Buffer for existing members: they stay while market cap is at least "
        f"{_pct(u.buffer_mcap)} and ADTV at least {_pct(u.buffer_adtv)} of the entry thresholds.",
        "",
        "## 3. Chinese exposure",
        "",
    ]
    if u.exclude_china_flags:
        out.append(
            "- Hard flags exclude outright: domicile or primary listing in mainland China, Hong "
            f"Kong or Macau; a Chinese state-linked holder at or above "
            f"{u.china.state_holder_threshold_pct:g}%"
            + ("; a Chinese largest holder." if u.china.largest_holder_flag else ".")
        )
    else:
        out.append("- Hard China flags do not exclude (no China screen on flags).")
    if u.max_china_score is None:
        out.append("- No limit on the Chinese-exposure score.")
    else:
        out.append(
            f"- Chinese-exposure score (0-100) at most {u.max_china_score:g} to enter; existing "
            f"members stay up to {u.max_china_score + u.buffer_china_score:g}."
        )
    weights = ", ".join(f"{f} {v:g}" for f, v in u.china.weights.items())
    out += [
        f"- Score weights: {weights}. Unknown factors: policy `{u.china.unknown_policy}` "
        f"(value {u.china.unknown_value:g}).",
        "- " + _staleness_text(u.china),
        "",
        "## 4. Weighting",
        "",
        "- " + _SCHEME_TEXT[w.scheme].format(**w.model_dump()) + ".",
        "",
        "## 5. Constraints",
        "",
        *constraint_rulebook(m),
    ]
    months = ", ".join(dt.date(2000, mo, 1).strftime("%B") for mo in s.resolved_months())
    out += [
        "",
        "## 6. Reviews",
        "",
        f"- {s.frequency.capitalize()} reviews in {months}, effective after the close of the "
        f"third Friday (the previous {s.calendar} session if that day is not one).",
        f"- Selection uses data up to the cut-off, {s.cutoff_business_days} sessions before the "
        "effective date; facts count only once public.",
        f"- Prices older than {s.max_price_age_days} days at the cut-off are stale.",
        "",
        "## 7. Costs and benchmark",
        "",
        f"- Trading cost {k.spread_bps:g} bps per unit traded plus impact of "
        f"{k.impact_bps_at_full_adtv:g} bps at 100% of ADTV (square root), for a fund of USD "
        f"{k.aum_usd / 1e6:g}M.",
        f"- Benchmark: {b.ticker or 'none'}"
        + (f"; comparison methodology `{b.methodology}`." if b.methodology else "."),
        "",
    ]
    return "\n".join(out + _calculation_rules(m))


def _calculation_rules(m: Methodology) -> list[str]:
    """Section 8: the daily calculation's corporate-action and dividend rules."""
    r = m.calculation
    proceeds = (
        "reinvested pro rata in the remaining constituents"
        if r.removal_proceeds == "pro_rata"
        else f"invested in a replacement (the largest eligible non-member at the last review) "
        f"when fewer than {r.min_constituents} constituents would remain, else pro rata"
    )
    suspension = (
        f"A constituent without a price for more than {r.suspension_max_days} business days is "
        f"removed at {'zero' if r.suspension_price == 'zero' else 'its last price'}."
        if r.suspension_max_days is not None
        else "A suspended constituent is held at its last price until the next review."
    )
    overrides = ", ".join(f"{k} {_pct(v)}" for k, v in sorted(r.withholding.items()))
    return [
        "## 8. Daily calculation and corporate actions",
        "",
        "- Index shares are fixed at each rebalance; the divisor changes so that neither a "
        "rebalance nor a corporate action moves the level.",
        "- Splits and reverse splits multiply the index shares by the ratio (no level change).",
        "- Cash dividends are reinvested across the index on the ex-date: gross in the total "
        "return level, net of withholding tax by country of domicile in the net total return "
        "level (shipped MarketVector rates"
        + (f"; overridden: {overrides}" if overrides else "")
        + ").",
        "- Special dividends: "
        + (
            "the divisor offsets the price drop in the price level; TR reinvests them gross, "
            "NTR net."
            if r.special_dividend == "price_adjust"
            else "treated as ordinary cash dividends."
        ),
        f"- A company taken over for cash leaves at the offer price, a delisted one at "
        f"{'zero' if r.delisting_price == 'zero' else 'its last traded price'}; the proceeds are "
        f"{proceeds}.",
        f"- {suspension}",
        f"- Changes are announced {m.announcement_lag()} sessions before the effective date "
        "with pro-forma constituents; the final constituents and their difference from the "
        "pro-forma are published on the effective date.",
        "",
    ]


def _staleness_text(china: ChinaScoreRules) -> str:
    """The re-verification rules of the China score, as one rulebook sentence."""
    parts = []
    if china.reverify_after_months is not None:
        parts.append(f"not re-verified within {china.reverify_after_months:g} months")
    if china.ownership_stale_after_years is not None:
        parts.append(
            "open-ended ownership facts whose source is older than "
            f"{china.ownership_stale_after_years:g} years"
        )
    if not parts:
        return "Facts never go stale."
    return (
        f"Stale facts ({'; '.join(parts)}) count x{china.stale_discount:g}; a check made after "
        "the review date does not count at it."
    )
