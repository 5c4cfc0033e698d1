"""Methodology files: shipped ones load, bad ones name the key, show/rulebook round-trip."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from exchina.cli import main
from exchina.core.errors import InputError
from exchina.index import (
    load_methodology,
    parse_methodology,
    resolve_methodology,
    rulebook_markdown,
    shipped_methodologies,
    to_toml,
)

SHIPPED = shipped_methodologies()


def test_four_methodologies_ship() -> None:
    assert {"flagship", "remx_like", "equal_weight", "min_variance"} <= set(SHIPPED)


def test_flagship_rules() -> None:
    m = load_methodology(SHIPPED["flagship"])
    c = m.constraints
    assert m.universe.exclude_china_flags and m.universe.max_china_score == 35
    assert c.stage_bounds["mining"] == (0.0, 0.40)
    assert c.stage_bounds["separation_refining"][0] >= 0.10
    assert c.stage_bounds["metal_alloy+magnet"][0] >= 0.15
    assert c.max_weight <= 0.10 and c.ucits
    assert c.aum_usd and c.liquidity_k
    assert m.benchmark.ticker == "REMX"
    assert resolve_methodology(m.benchmark.methodology) == SHIPPED["remx_like"]


def test_remx_like_has_no_china_screen() -> None:
    m = load_methodology(SHIPPED["remx_like"])
    assert m.universe.max_china_score is None and not m.universe.exclude_china_flags
    assert m.constraints.max_weight == 0.08 and m.weighting.scheme == "capped_mcap"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_show_round_trips(name: str) -> None:
    m = load_methodology(SHIPPED[name])
    text = to_toml(m)
    assert parse_methodology(tomllib.loads(text)) == m
    assert m.digest() in text


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"constraints": {"max_wieght": 0.1}}, "constraints.max_wieght", "Extra inputs"),
        ({"constraints": {"max_weight": "ten"}}, "constraints.max_weight", "valid number"),
        ({"constraints": {"max_weight": 1.5}}, "constraints.max_weight", "less than or equal"),
        (
            {"constraints": {"stage_bounds": {"mining": [0.5, 0.2]}}},
            "constraints.stage_bounds.mining",
            "lower <= upper",
        ),
        (
            {"constraints": {"stage_bounds": {"minning": [0.0, 0.2]}}},
            "constraints.stage_bounds.minning",
            "unknown stage",
        ),
        ({"constraints": {"min_weight": 0.2}}, "constraints.min_weight", "max_weight"),
        ({"constraints": {"aum_usd": 1e8}}, "constraints.aum_usd", "together"),
        ({"schedule": {"months": [6, 13]}}, "schedule.months", "1-12"),
        ({"weighting": {"scheme": "tracking"}}, "weighting", "parent"),
        ({"weighting": {"scheme": "magic"}}, "weighting.scheme", "Input should be"),
        ({"universe": {"max_china_score": 140}}, "universe.max_china_score", "less than"),
    ],
)
def test_bad_values_name_the_key(data: dict, field: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        parse_methodology({"name": "x", **data}, file="bad.toml")
    assert err.value.field == field
    assert words in err.value.reason
    assert "bad.toml" in str(err.value)


def test_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "m.toml"
    p.write_text("name = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_methodology(p)


def test_rulebook_states_the_rules() -> None:
    text = rulebook_markdown(load_methodology(SHIPPED["flagship"]))
    for phrase in (
        "UCITS 5/10/40",
        "`mining`: between 0% and 40%",
        "revenue share",
        "third Friday",
        "not re-verified within 18 months",
    ):
        assert phrase in text


def test_cli_show_and_rulebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["methodology", "show", str(SHIPPED["flagship"])]) == 0
    shown = capsys.readouterr().out
    assert parse_methodology(tomllib.loads(shown)) == load_methodology(SHIPPED["flagship"])
    out = tmp_path / "book.md"
    assert main(["methodology", "rulebook", "remx_like", "--out", str(out)]) == 0
    assert out.read_text().startswith("# REMX-like")


def test_cli_bad_file_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('name = "x"\n[constraints]\nmax_weight = 0.1\ncolour = "red"\n')
    assert main(["methodology", "show", str(p)]) == 2
    assert "constraints.colour" in capsys.readouterr().err
