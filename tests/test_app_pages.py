"""The Streamlit app driven headless with AppTest: every page, the main interactions, and bad
input shown as a message (never a traceback). Runs on the synthetic demo market (the store is an
empty temp folder, see conftest), so the banner must be on every page."""

from __future__ import annotations

import tomllib

import pytest
from app_support import PAGE, open_page
from streamlit.testing.v1 import AppTest

from exchina.index.methodology import parse_methodology
from exchina.ui.layout import BANNER, CUSTOM

TIMEOUT = 600
pytestmark = pytest.mark.usefixtures("cold_streamlit_caches")


def _open(page: str | None = None) -> AppTest:
    return open_page(page, TIMEOUT)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and at.error[0].value == BANNER, "synthetic banner missing"


def _table(at: AppTest, column: str):
    """The first table shown with ``column`` (st.dataframe keys are not exposed to AppTest)."""
    for df in at.dataframe:
        frame = df.value
        if column in frame.columns or column in frame.index:
            return frame
    raise AssertionError(f"no table with {column!r}")


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error if e.value != BANNER]


def test_universe_page_lists_companies_and_explains_a_score():
    at = _open("Universe")
    _ok(at)
    assert at.title[0].value == "Universe"
    table = _table(at, "reasons")
    assert len(table) > 50
    assert {"china_score", "eligible", "reasons", "primary_stage", "country"} <= set(table.columns)
    # excluded companies say why; eligible ones have no reasons
    assert (table.loc[~table["eligible"], "reasons"].str.len() > 0).all()
    assert (table.loc[table["eligible"], "reasons"] == "").all()
    at.selectbox(key="universe_company").select("Lynas Rare Earths Ltd (LYC.AX)")
    at.run()
    _ok(at)
    facts = _table(at, "contribution")
    assert facts["source_url"].dropna().str.startswith("http").any()
    score = float(at.metric[0].value)
    # the fact contributions add up to the graded score shown beside them
    assert abs(facts["contribution"].fillna(0).sum() - score) < 0.15 or "flag" in at.metric[2].value


def test_universe_filters_and_date_picker():
    at = _open("Universe")
    now = _table(at, "reasons")
    at.selectbox(key="universe_eligible").select("eligible (held or not)")
    at.text_input(key="universe_search").input("lynas")
    at.run()
    _ok(at)
    view = _table(at, "reasons")
    assert list(view.index) == ["LYC.AX"] and view["eligible"].all()
    at.selectbox(key="universe_eligible").select("all")
    at.text_input(key="universe_search").input("")
    at.date_input(key="universe_date").set_value("2013-06-28")
    at.run()
    _ok(at)
    then = _table(at, "reasons")
    # MP Materials listed in 2020: no price history in 2013, so not eligible then
    assert not then.loc["MP", "eligible"] and "price" in then.loc["MP", "reasons"]
    assert then["eligible"].sum() < now["eligible"].sum()


def test_universe_rejects_a_bad_company_master_and_keeps_working():
    at = _open("Universe")
    bad = b"company_id,name,ticker\nfoo,Foo Corp,FOO\n"
    at.file_uploader(key="universe_upload").set_value(("mine.csv", bad, "text/csv"))
    at.run()
    assert not at.exception
    (msg,) = _errors(at)
    assert "Invalid input" in msg and "mine.csv" in msg
    assert len(_table(at, "reasons")) > 50  # shipped master still shown


def test_methodology_form_reports_conflicting_constraints():
    at = _open("Methodology")
    _ok(at)
    # off until its checkbox is ticked
    assert at.number_input(key="mf_max_china_score_avg").disabled
    at.checkbox(key="mf_on_max_china_score_avg").check().run()
    assert not at.number_input(key="mf_max_china_score_avg").disabled
    at.checkbox(key="mf_on_max_china_score_avg").uncheck().run()
    # stage floors of 60% for separation and 60% for metal and magnets: they cannot both hold;
    # the flagship's allowed relaxations cannot help (stage bounds give way by 5 points at most).
    # (A China budget no longer conflicts: researched names documented clean score 0.)
    stages = list(at.data_editor(key="mf_stage_bounds").value["stage"])
    at.session_state["mf_stage_bounds"] = {
        "edited_rows": {
            stages.index(s): {"lower %": 60.0}
            for s in ("separation_refining", "metal_alloy+magnet")
        },
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button[0].click()
    at.run()
    assert not at.exception
    (msg,) = _errors(at)
    assert "constraints conflict" in msg and "floors sum to 120.0% > 100%" in msg
    assert at.sidebar.selectbox[0].value == "flagship"  # nothing applied
    at.switch_page(PAGE["Universe"]).run()  # the app is still usable
    _ok(at)


def test_methodology_form_is_built_from_the_constraint_registry(monkeypatch):
    """Every field of ``form_fields()`` has its widget under its label, and a field added to the
    registry appears, is switched on and applied with no edit of the app."""
    from exchina.index.constraints import FormField, form_fields
    from exchina.ui import constraint_form
    from exchina.ui.layout import CUSTOM_KEY

    extra = FormField("constraints.min_constituents", "Top up to", "names added when fewer pass")
    monkeypatch.setattr(constraint_form, "form_fields", lambda: [*form_fields(), extra])
    at = _open("Methodology")
    _ok(at)
    shown = {w.label for kind in ("number_input", "checkbox", "selectbox") for w in at.get(kind)}
    for s in constraint_form.specs():
        if s.kind == "bounds":
            assert s.name.removesuffix("_bounds") in at.data_editor(key=f"mf_{s.name}").value
        else:
            assert s.label in shown, s.label
    assert "Max weight per name %" in shown  # a fraction bounded by 1 is entered in percent
    at.checkbox(key="mf_on_min_constituents").check().run()
    assert not at.number_input(key="mf_min_constituents").disabled
    at.number_input(key="mf_min_constituents").set_value(22)
    at.number_input(key="mf_max_weight").set_value(9.0)
    at.button[0].click()
    at.run()
    assert not at.exception and not _errors(at)
    text = at.session_state[CUSTOM_KEY]
    assert "min_constituents = 22" in text and "max_weight = 0.09" in text


def test_methodology_form_names_an_invalid_key():
    at = _open("Methodology")
    at.number_input(key="mf_min_weight").set_value(20.0)  # above the 10% max weight
    at.button[0].click()
    at.run()
    assert not at.exception
    (msg,) = _errors(at)
    assert "constraints.min_weight" in msg


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"name = 'x'\n[constraints]\nmax_weight = 2.0\n", "constraints.max_weight"),
        (b"name = 'x'\nfoo = [\n", "not valid TOML"),
        (b"name = 'x'\n[weighting]\nschema = 'equal'\n", "weighting.schema"),
        (b"#" * (300 * 1024), "limited to 256 KB"),
    ],
)
def test_methodology_upload_is_validated(payload, expected):
    at = _open("Methodology")
    assert not at.get("file_uploader")  # built only once its expander is opened
    at.session_state["methodology_load"] = True
    at.run()
    at.file_uploader(key="methodology_upload").set_value(("m.toml", payload, "application/toml"))
    at.run()
    assert not at.exception
    (msg,) = _errors(at)
    assert expected in msg and "m.toml" in msg


def test_methodology_sends_only_the_open_tab():
    at = _open("Methodology")
    _ok(at)
    assert not at.code  # the rulebook is open: the TOML is not sent
    rulebook = [md.value for md in at.markdown if "##" in md.value or len(md.value) > 500]
    assert rulebook
    at.session_state["methodology_view"] = "TOML"
    at.run()
    _ok(at)
    assert len(at.code) == 1
    assert not [md.value for md in at.markdown if md.value in rulebook]


def test_methodology_toml_shown_loads_back_to_the_same_methodology():
    at = _open("Methodology")
    at.session_state["methodology_view"] = "TOML"
    at.run()
    text = at.code[0].value
    m = parse_methodology(tomllib.loads(text))
    assert m.name == "exchina Allied Mine-to-Magnet"
    assert m.digest() in text  # the hash comment in the first line


@pytest.mark.slow
def test_every_page_renders_and_cached_pages_are_fast():
    at = _open()  # Overview: runs the flagship and its peer methodology
    _ok(at)
    labels = [m.label for m in at.metric]
    assert "CAGR (total return, net of costs)" in labels
    assert any("China score" in x for x in labels)
    assert any("net of transaction costs" in c.value and "Factsheet" in c.value for c in at.caption)
    assert "Benchmark methodology" in labels
    assert any("Data source" in i.value and "SYNTHETIC" in i.value for i in at.info)
    for title in ("Weights", "Performance", "Downloads", "Universe", "Methodology", "Overview"):
        at.switch_page(PAGE[title]).run()
        _ok(at)
        assert at.title[0].value in (title, "exchina Allied Mine-to-Magnet")
    at.switch_page(PAGE["Weights"]).run()
    w = _table(at, "basis_weight")
    assert abs(w["weight"].sum() - 1.0) < 1e-6 and (w["weight"] <= 0.10 + 1e-6).all()
    assert any(m.label == "Constituents" and int(m.value) == len(w) for m in at.metric)
    at.switch_page(PAGE["Performance"]).run()
    met = _table(at, "Max drawdown")
    assert "Max drawdown" in met.index and met.shape[1] >= 2  # flagship beside its peer
    at.toggle(key="performance_log").set_value(False)
    at.session_state["performance_section"] = "Attribution"
    at.run()
    at.radio(key="performance_attr_by").set_value("country")
    at.run()
    _ok(at)
    at.switch_page(PAGE["Downloads"]).run()
    names = {b.proto.label for b in at.get("download_button")}
    assert {"Methodology (TOML)", "Index levels (CSV)"} <= names


@pytest.mark.slow
def test_methodology_submit_applies_everywhere():
    at = _open("Methodology")
    at.selectbox(key="methodology_base").select("equal_weight")
    at.run()
    at.session_state["methodology_view"] = "TOML"
    at.number_input(key="mf_spread").set_value(50.0)
    at.text_input(key="mf_name").input("My equal weight")
    at.button[0].click()
    at.run()
    assert not at.exception
    assert not _errors(at)
    assert at.sidebar.selectbox[0].value == CUSTOM
    assert "My equal weight" in at.success[0].value
    assert "spread_bps = 50.0" in at.code[0].value
    at.switch_page(PAGE["Weights"]).run()
    _ok(at)
    w = _table(at, "basis_weight")
    assert w["weight"].nunique() == 1  # equal weights


def test_factsheet_page_renders_with_its_downloads():
    """The Factsheet page shows the factsheet of ``exchina factsheet`` for the selected
    methodology on the demo market (banner on the page) and offers HTML and, on request, PDF."""
    at = _open("Factsheet")
    _ok(at)
    assert at.title[0].value == "Factsheet"
    labels = {b.proto.label for b in at.get("download_button")}
    assert "Factsheet (HTML)" in labels
    assert at.toggle(key="factsheet_pdf_on").value is False
