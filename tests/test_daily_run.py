"""``exchina run`` as a calculation agent: pro-forma constituents on the announcement date, the
final file and its diff on the effective date, and the daily calculation on every business day."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from exchina.cli import main
from exchina.core.errors import InputError
from exchina.core.paths import methodology_file
from exchina.index.methodology import load_methodology
from exchina.ops.announce import announcement_date, diff_constituents
from exchina.ops.calc_output import read_levels
from exchina.ops.daily_run import run_day
from exchina.ops.runlog import RunLog


def _meth(folder: Path, extra: str = "") -> Path:
    text = methodology_file("flagship").read_text(encoding="utf-8")
    path = folder / "short.toml"
    path.write_text(text.replace("base_date = 2012-12-31", "base_date = 2025-01-01") + extra)
    return path


def _day(meth: Path, out: Path, date: str):
    return run_day(meth, out, date, source="demo", log=RunLog(stream=io.StringIO()))


def test_announcement_then_final_with_diff_and_daily_levels(tmp_path) -> None:
    meth, out = _meth(tmp_path), tmp_path / "out"
    m = load_methodology(meth)
    assert announcement_date(m, "2025-12-19") == pd.Timestamp("2025-12-12")  # 5 sessions
    review = _day(meth, out, "2025-12-12")
    folder = out / "announcements" / "2025-12-19"
    assert [p.name for p in review.published] == ["proforma.csv"]
    pro = pd.read_csv(folder / "proforma.csv")
    assert pro["announced"].eq("2025-12-12").all() and pro["status"].eq("pro-forma").all()
    assert pro["weight"].sum() == pytest.approx(1.0)
    assert pro["data_source"].str.contains("SYNTHETIC").all()
    quiet = _day(meth, out, "2025-12-15")
    assert quiet.scheduled.status == "not_scheduled" and quiet.published == []
    assert quiet.calc is not None and quiet.calc.status == "extended"
    final = _day(meth, out, "2025-12-19")
    assert [p.name for p in final.published] == ["final.csv"]
    diff = pd.read_csv(folder / "diff.csv")
    fin = pd.read_csv(folder / "final.csv")
    assert set(diff["ticker"]) == set(pro["ticker"]) | set(fin["ticker"])
    # prices moved between the announcement and the close of the effective date: shares differ
    assert (diff["shares_change"].abs() > 0).any()
    lv = read_levels(out / "calc")
    assert lv.index[-1] == pd.Timestamp("2025-12-19")
    assert pd.Timestamp("2025-12-16") in lv.index  # every business day, rebalance or not


def test_diff_names_added_removed_and_changed() -> None:
    pro = pd.DataFrame({"ticker": ["A", "B", "C"], "name": ["a", "b", "c"],
                        "weight": [0.5, 0.3, 0.2], "shares_per_unit": [1.0, 2.0, 3.0]})  # fmt: skip
    fin = pd.DataFrame({"ticker": ["A", "B", "D"], "name": ["a", "b", "d"],
                        "weight": [0.5, 0.4, 0.1], "shares_per_unit": [1.1, 2.0, 4.0]})  # fmt: skip
    d = diff_constituents(pro, fin).set_index("ticker")
    assert d["status"].to_dict() == {"A": "unchanged", "B": "changed", "C": "removed", "D": "added"}
    assert d.loc["B", "weight_change"] == pytest.approx(0.1)
    assert d.loc["C", "weight_final"] == 0.0 and d.loc["D", "weight_proforma"] == 0.0


def test_a_shorter_lag_announces_after_the_cutoff(tmp_path) -> None:
    meth = _meth(tmp_path, "\n[calculation]\nannouncement_business_days = 3\n")
    out = tmp_path / "out"
    assert announcement_date(load_methodology(meth), "2025-12-19") == pd.Timestamp("2025-12-16")
    assert _day(meth, out, "2025-12-12").published == []  # the review: selection, no announcement
    assert [p.name for p in _day(meth, out, "2025-12-16").published] == ["proforma.csv"]


def test_announcing_before_the_cutoff_is_refused(tmp_path) -> None:
    meth = _meth(tmp_path, "\n[calculation]\nannouncement_business_days = 8\n")
    with pytest.raises(InputError, match="announcement_business_days"):
        load_methodology(meth)


def test_cli_run_prints_publications_and_calculation(tmp_path, capsys) -> None:
    meth, out = _meth(tmp_path), tmp_path / "out"
    args = ["run", "-m", str(meth), "--source", "demo", "--out", str(out)]
    assert main([*args, "--date", "2025-12-12"]) == 0
    text = capsys.readouterr().out
    assert "published announcements/2025-12-19/proforma.csv" in text
    assert "calculation written through 2025-12-12" in text
    assert main([*args, "--date", "2025-12-15", "--no-calc"]) == 0
    assert "calculation" not in capsys.readouterr().out
