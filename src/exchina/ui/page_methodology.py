"""Methodology page: start from a shipped methodology, change what matters in a form (nothing is
solved until it is submitted), check the constraints, run it, and save it as TOML."""

from __future__ import annotations

import re

import streamlit as st

from exchina.core.errors import ExchinaError
from exchina.index.methodology import Methodology
from exchina.index.rulebook import rulebook_markdown
from exchina.ui import constraint_form, data, layout
from exchina.ui.edit import MAX_UPLOAD_BYTES, apply_changes, parse_upload
from exchina.ui.tables import fmt_metric

FORM_PREFIX = constraint_form.PREFIX
FLASH_KEY = "methodology_flash"
LOAD_KEY = "methodology_load"
SCHEMES = ["capped_mcap", "equal", "min_variance", "max_diversification", "risk_parity"]


def _reset_form() -> None:
    for k in [k for k in st.session_state if str(k).startswith(FORM_PREFIX)]:
        del st.session_state[k]


def _form(base: Methodology) -> dict | None:
    """The edit form; returns the changes when submitted."""
    u, w, s, k = base.universe, base.weighting, base.schedule, base.costs
    # the checkboxes that switch a field on or off sit outside the form, so the field they
    # govern is disabled at once (a form only reruns on submit)
    st.markdown("**Chinese exposure**")
    no_screen = st.checkbox(
        "No China-score screen", value=u.max_china_score is None, key=FORM_PREFIX + "noscreen"
    )
    on = constraint_form.switches(base)
    with st.form("methodology_form"):
        name = st.text_input("Index name", value=base.name, key=FORM_PREFIX + "name")
        a, b = st.columns(2)
        threshold = a.slider(
            "Max China score to enter (0-100)",
            0.0,
            100.0,
            value=float(u.max_china_score if u.max_china_score is not None else 40.0),
            step=1.0,
            format="%.0f",
            key=FORM_PREFIX + "threshold",
            disabled=no_screen,
            help="Companies scoring above this are not eligible (members keep a buffer).",
        )
        flags = b.checkbox(
            "Hard China flags exclude",
            value=u.exclude_china_flags,
            key=FORM_PREFIX + "flags",
            help="Domicile or primary listing in China/HK/Macau, a Chinese state-linked holder "
            "at or above the threshold, a Chinese largest holder.",
        )
        st.markdown("**Constraints**")
        constraints = constraint_form.fields(base, on)
        st.markdown("**Weighting and schedule**")
        a, d = st.columns(2)
        scheme = a.selectbox(
            "Weighting scheme",
            SCHEMES,
            index=SCHEMES.index(w.scheme) if w.scheme in SCHEMES else 0,
            key=FORM_PREFIX + "scheme",
        )
        freq = d.selectbox(
            "Rebalance frequency",
            ["quarterly", "semiannual"],
            index=["quarterly", "semiannual"].index(s.frequency),
            key=FORM_PREFIX + "frequency",
        )
        st.markdown("**Trading costs**")
        a, b, cc = st.columns(3)
        spread = a.number_input(
            "Spread + commission (bps)", 0.0, 500.0, value=k.spread_bps, key=FORM_PREFIX + "spread"
        )
        impact = b.number_input(
            "Impact at 100% of ADTV (bps)",
            0.0,
            2000.0,
            value=k.impact_bps_at_full_adtv,
            key=FORM_PREFIX + "impact",
        )
        aum = cc.number_input(
            "Fund size (USD millions)",
            1.0,
            100000.0,
            value=k.aum_usd / 1e6,
            key=FORM_PREFIX + "aum",
        )
        submitted = st.form_submit_button("Check and run", type="primary")
    if not submitted:
        return None
    schedule: dict = {"frequency": freq}
    if freq != s.frequency:
        schedule["months"] = None
    return {
        "name": name,
        "universe": {
            "max_china_score": None if no_screen else threshold,
            "exclude_china_flags": flags,
        },
        "weighting": {"scheme": scheme},
        "constraints": constraints,
        "schedule": schedule,
        "costs": {"spread_bps": spread, "impact_bps_at_full_adtv": impact, "aum_usd": aum * 1e6},
    }


def own_name(m: Methodology) -> Methodology:
    """``m``, renamed "<name> (edited)" when it kept the name of a shipped methodology it no
    longer equals, so messages, charts and file names never mistake it for the shipped one."""
    for text in data.shipped_texts().values():
        shipped = data.methodology(text)
        if shipped.name == m.name and shipped.digest() != m.digest():
            return m.model_copy(update={"name": f"{m.name} (edited)"})
    return m


def _try(m: Methodology, ctx: layout.Context) -> bool:
    """Check the constraints at the latest rebalance, then run the backtest; on success make it
    the custom methodology. Errors are shown, and the previous selection stays."""
    m = own_name(m)
    text = data.methodology_text(m)
    try:
        data.check_rebalance(text, ctx.key)
        met = data.metrics(text, ctx.key)
    except ExchinaError as exc:
        layout.show_error(exc)
        return False
    layout.set_custom(m)
    st.session_state[FLASH_KEY] = (
        f"**{m.name}** is now the selected methodology on every page: CAGR "
        f"{fmt_metric('cagr', met['cagr'])}, volatility {fmt_metric('volatility', met['volatility'])}, "
        f"max drawdown {fmt_metric('max_drawdown', met['max_drawdown'])} "
        f"({met['rebalances']} rebalances)."
    )
    return True


def _upload(ctx: layout.Context) -> None:
    up = st.file_uploader(
        f"Load a methodology TOML (at most {MAX_UPLOAD_BYTES // 1024} KB)",
        type=["toml"],
        key="methodology_upload",
    )
    if up is None:
        return
    raw = up.getvalue()
    sig = (up.name, len(raw), hash(raw))
    if st.session_state.get("methodology_upload_done") == sig:
        return
    try:
        m = parse_upload(raw, up.name)
    except ExchinaError as exc:
        layout.show_error(exc)
        return
    if _try(m, ctx):
        st.session_state["methodology_upload_done"] = sig
        st.rerun()


def render() -> None:
    ctx = layout.context()
    st.title("Methodology")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    opts = layout.choices()
    names = list(opts)
    start = st.selectbox(
        "Start from",
        names,
        index=names.index(ctx.name),
        key="methodology_base",
        format_func=layout.option_label,
        on_change=_reset_form,
        help="A shipped methodology, or the one you edited or uploaded.",
    )
    base = data.methodology(opts[start])
    changes = _form(base)
    if changes is not None:
        try:
            m = apply_changes(base, changes)
        except ExchinaError as exc:
            layout.show_error(exc)
        else:
            if _try(m, ctx):
                st.rerun()
    # the uploader is built only once its expander is opened (one widget less to load)
    loader = st.expander("Load a methodology file", key=LOAD_KEY, on_change="rerun")
    if loader.open:
        with loader:
            _upload(ctx)
    st.subheader(f"Selected: {ctx.methodology.name}")
    c1, c2 = st.columns([1, 1])
    fname = re.sub(r"[^a-z0-9]+", "_", ctx.methodology.name.lower()).strip("_") + ".toml"
    c1.download_button(
        "Download methodology (TOML)",
        ctx.text,
        file_name=fname,
        mime="application/toml",
        key="methodology_download",
    )
    c2.caption(f"Hash `{ctx.methodology.digest()[:16]}`; loads with `exchina` as is.")
    _views(ctx.methodology, ctx.text)


VIEW_KEY = "methodology_view"


@st.fragment
def _views(m: Methodology, text: str) -> None:
    """The rulebook and the TOML, one tab at a time: only the open tab's text is built and sent
    (the two long texts drawn at every visit made the page slow to load in the browser). A
    fragment: switching the tab reruns only this part."""
    rulebook, toml = st.tabs(["Rulebook", "TOML"], key=VIEW_KEY, on_change="rerun")
    if rulebook.open:
        rulebook.markdown(rulebook_markdown(m))
    if toml.open:
        toml.code(text, language="toml")


if __name__ == "__main__":
    render()
