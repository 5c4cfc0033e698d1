"""`exchina universe`: the table, JSON, CSV output, a methodology's rules and --explain."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from exchina.cli import main


def test_universe_json_on_the_demo_market(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["universe", "--date", "2025-06-30", "--source", "demo", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["synthetic"] is True and "SYNTHETIC" in payload["market"]
    rows = {r["ticker"]: r for r in payload["companies"]}
    assert rows["600392.SS"]["eligible"] is False
    assert "china flags" in rows["600392.SS"]["reasons"]
    assert rows["MP"]["primary_stage"] == "mining"
    assert all(r["eligible"] == (r["reasons"] == "") for r in rows.values())


def test_universe_table_out_file_and_methodology(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "strict.toml"
    toml.write_text('name = "strict"\n[universe]\nmax_china_score = 20.0\n', encoding="utf-8")
    out = tmp_path / "u.csv"
    argv = ["universe", "--date", "2025-06-30", "--source", "demo", "--methodology", str(toml)]
    assert main([*argv, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "rules: strict" in text and "SYNTHETIC" in text and "eligible" in text
    table = pd.read_csv(out, keep_default_na=False)
    assert table["market_source"].str.contains("SYNTHETIC").all()
    mp = table.set_index("ticker").loc["MP"]
    assert "china_score" in mp["reasons"] and "> 20" in mp["reasons"]


def test_explain_prints_facts_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["universe", "--explain", "MP", "--date", "2025-04-18"]) == 0
    text = capsys.readouterr().out
    assert "MP Materials" in text and "offtake_revenue_china" in text and "https://" in text
    assert main(["universe", "--explain", "mp_materials", "--date", "2025-04-18", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["company_id"] == "mp_materials"
    assert sum(f["contribution"] or 0 for f in payload["facts"]) == pytest.approx(
        payload["graded_score"]
    )


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["universe", "--explain", "MP", "--date", "2025-13-45"]) == 2
    assert "--date" in capsys.readouterr().err
    assert main(["universe", "--explain", "NOPE", "--date", "2025-01-01"]) == 2
    assert main(["universe", "--explain", "MP", "--source", "demo"]) == 0  # the table's date
    out = tmp_path / "never.csv"
    missing = tmp_path / "missing.toml"
    assert (
        main(["universe", "--source", "demo", "--methodology", str(missing), "--out", str(out)])
        == 2
    )
    assert not out.exists()
