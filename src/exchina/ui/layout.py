"""What every page shares: the synthetic-data banner, the methodology picker and error display.

The active methodology lives in ``st.session_state`` as canonical TOML text (``CUSTOM_KEY`` holds
one edited or uploaded on the Methodology page), so every page and every cache agree on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import pandas as pd
import streamlit as st

from exchina.backtest.result import BacktestResult
from exchina.core.errors import ExchinaError, InfeasibleError, InputError
from exchina.core.market import Market
from exchina.index.methodology import Methodology
from exchina.ui import data

if TYPE_CHECKING:  # the relaxation module loads cvxpy (seconds): only for annotations here
    from exchina.index.relaxation import Relaxation

ACTIVE_KEY = "active_methodology"
CUSTOM_KEY = "custom_methodology_toml"
CUSTOM = "custom (edited)"
BANNER = (
    "**SYNTHETIC DEMO DATA** - every price, level and metric in this app comes from the "
    "synthetic demo market, not real prices. Fetch or import real prices "
    "(`exchina fetch --universe` or `exchina import FILE...`) and reload to use them."
)

T = TypeVar("T")


def banner(market: Market) -> None:
    """The persistent red banner shown on every page while the numbers are synthetic."""
    if market.synthetic:
        st.error(BANNER, icon=":material/warning:")


def option_label(option: str) -> str:
    """How a methodology choice reads in a picker: a shipped one by its name and file, the
    edited one as such (its own name heads every page). Depends on the option only."""
    text = data.shipped_texts().get(option)
    if text is None:
        return "Your edited methodology" if option == CUSTOM else option
    return f"{data.methodology(text).name} ({option}.toml)"


def choices() -> dict[str, str]:
    """Methodology choices (label -> canonical TOML): shipped ones, then the custom one."""
    out = dict(data.shipped_texts())
    if st.session_state.get(CUSTOM_KEY):
        out[CUSTOM] = st.session_state[CUSTOM_KEY]
    return out


PENDING_KEY = "pending_active_methodology"


def set_custom(m: Methodology) -> None:
    """Make ``m`` the custom methodology and select it on every page from the next run (the
    sidebar picker already exists in this run, so the choice is applied before it is drawn)."""
    st.session_state[CUSTOM_KEY] = data.methodology_text(m)
    st.session_state[PENDING_KEY] = CUSTOM


DEMO_KEY = "use_demo_market"


def market_key() -> data.DataKey:
    """The data key of the market the user chose: the store's, or the demo's when the sidebar
    switch asks for it (read before the switch is drawn: its state is set by then)."""
    return data.data_key(demo=bool(st.session_state.get(DEMO_KEY, False)))


def sidebar(market: Market) -> None:
    """Methodology picker, the market switch (when the store holds prices) and the data
    provenance, in the sidebar of every page."""
    options = list(choices())
    if not options:
        st.sidebar.error("No methodology is shipped in data/methodologies.")
        return
    if st.session_state.get(PENDING_KEY) in options:
        st.session_state[ACTIVE_KEY] = st.session_state.pop(PENDING_KEY)
    if st.session_state.get(ACTIVE_KEY) not in options:
        st.session_state[ACTIVE_KEY] = options[0]
    st.sidebar.selectbox(
        "Methodology",
        options,
        key=ACTIVE_KEY,
        format_func=option_label,
        help="The index every page shows. Edit one on the Methodology page.",
    )
    if data.data_key().source == "store" or st.session_state.get(DEMO_KEY):
        st.sidebar.toggle(
            "Use the SYNTHETIC demo market",
            key=DEMO_KEY,
            help="Switch from the prices in your store to the synthetic demo market and back; "
            "the store is not changed (`exchina data remove TICKER...` takes tickers out).",
        )
    st.sidebar.caption(
        f"**Data source:** {market.label}  \n**Prices as of:** {market.as_of.date().isoformat()}"
    )


def active() -> tuple[str, str]:
    """(label, canonical TOML) of the selected methodology."""
    opts = choices()
    name = st.session_state.get(ACTIVE_KEY)
    if name not in opts:
        name = next(iter(opts))
    return name, opts[name]


def show_error(exc: ExchinaError) -> None:
    """A typed error as a readable message (conflicts listed), never a traceback."""
    if isinstance(exc, InfeasibleError):
        head = "**The constraints conflict: no weights meet them all.**"
        lines = "".join(f"\n- {c}" for c in exc.conflicts)
        first = str(exc).split("\n", 1)[0]
        st.error(f"{head} {first}{lines}", icon=":material/block:")
    elif isinstance(exc, InputError):
        st.error(f"**Invalid input.** {exc}", icon=":material/error:")
    else:
        st.error(f"**{type(exc).__name__}.** {exc}", icon=":material/error:")


def guarded(fn: Callable[[], T]) -> T | None:
    """Run ``fn``; on an exchina error show it and return None (the page stays usable)."""
    try:
        return fn()
    except ExchinaError as exc:
        show_error(exc)
        return None


@dataclass(frozen=True)
class Context:
    """What a page needs: the data key, the market, the selected methodology and its text."""

    key: data.DataKey
    market: Market
    name: str
    text: str
    methodology: Methodology


def context() -> Context:
    """The page context (all cached: cheap on every rerun)."""
    key = market_key()
    name, text = active()
    return Context(key, data.market(key), name, text, data.methodology(text))


def relaxation_notes(res: BacktestResult) -> set[str]:
    """The backtest notes that repeat a row of its ``relaxations`` (the optimizer's warning for
    it: ``"<date>: relaxed <rule> by ..."``), so the pages show each relaxation once."""
    heads = {
        f"{pd.Timestamp(d).date()}: relaxed {rule} by "
        for d, rule in zip(res.relaxations["date"], res.relaxations["rule"], strict=True)
    }
    return {n for n in res.notes if n[: n.find(" by ") + 4] in heads}


def relaxation_table(relaxations: pd.DataFrame) -> pd.DataFrame:
    """The backtest's relaxations for display: one row per rule that gave way at a rebalance."""
    return pd.DataFrame(
        {
            "rebalance": [pd.Timestamp(d).date() for d in relaxations["date"]],
            "rule": relaxations["rule"].astype(str),
            "relaxed by": relaxations["amount"].astype(float),
            "limit": relaxations["limit"].astype(float),
            "what gave way": ["; ".join(b) for b in relaxations["breaches"]],
            "names": [", ".join(n) for n in relaxations["names"]],
        }
    )


def caveats(res: BacktestResult, where: str) -> None:
    """What the numbers rest on, on the page itself: the rebalances where rules gave way (the
    backtest's structured ``relaxations`` and ``relaxation_summary()``), its other notes, and
    held names without prices for some days (its gaps, valued at their last price). ``where``
    keys the widgets."""
    summary = res.relaxation_summary()
    relaxed = res.relaxations
    repeated = relaxation_notes(res)
    notes = [n for n in res.notes if n not in repeated]
    gaps = res.gaps
    if not (len(relaxed) or notes or len(gaps)):
        return
    parts = []
    if len(relaxed):
        by_rule = relaxed.groupby("rule")["date"].nunique().sort_values(ascending=False)
        rules = ", ".join(f"{rule} {n}" for rule, n in by_rule.items())
        parts.append(
            f"rules relaxed at {summary['rebalances_relaxed']} of {len(res.weights)} rebalances "
            f"({rules}; largest: {summary['worst_relaxation']})"
        )
    if notes:
        parts.append(f"{len(notes)} other rebalance notes")
    if len(gaps):
        parts.append(
            f"{len(gaps)} stretches where a held name had no price "
            f"({int(gaps['rows'].sum())} days, valued at their last price)"
        )
    with st.expander(f"**{res.methodology}**: " + "; ".join(parts), icon=":material/info:"):
        if len(relaxed):
            st.markdown("**Rules relaxed** (the methodology's `[[constraints.relax]]` order):")
            st.dataframe(
                relaxation_table(relaxed), key=f"{where}_relaxed", hide_index=True, width="stretch"
            )
        if notes:
            st.markdown("\n".join(f"- {n}" for n in notes))
        if len(gaps):
            st.dataframe(gaps, key=f"{where}_gaps", hide_index=True, width="stretch")


def rebalance_relaxations(relaxations: list[Relaxation], warnings: list[str]) -> None:
    """The rules that gave way at one rebalance (``RebalanceResult.relaxations``), one warning
    each, then the optimizer's other warnings (those not repeating a relaxation)."""
    texts = [r.text() for r in relaxations]
    for r, text in zip(relaxations, texts, strict=True):
        names = f" Names: {', '.join(r.names)}." if r.names else ""
        st.warning(f"**Rule relaxed at this rebalance:** {text}.{names}", icon=":material/tune:")
    for w in warnings:
        if w not in texts:
            st.warning(w)
