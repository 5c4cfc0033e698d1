"""``exchina calc``: daily levels into a folder that only grows, audited revisions, crash safety.

A short methodology (the flagship from 2025) on the demo market keeps each run near a second.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchina.cli import main
from exchina.core.paths import methodology_file
from exchina.core.sources import load_market
from exchina.ops.calc_output import read_levels, read_manifest, verify_calc
from exchina.ops.calc_run import run_calc


@pytest.fixture(scope="module")
def meth(tmp_path_factory) -> Path:
    text = methodology_file("flagship").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("meth") / "short.toml"
    path.write_text(text.replace("base_date = 2012-12-31", "base_date = 2025-01-01"))
    return path


@pytest.fixture(scope="module")
def demo():
    return load_market("demo")


def _bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_rerun_changes_no_byte_and_extending_appends(meth, demo, tmp_path) -> None:
    out = tmp_path / "calc"
    first = run_calc(meth, out, "2025-12-01", "2026-03-31", market=demo)
    assert first.status == "written" and first.revision == 1
    before = _bytes(out)
    again = run_calc(meth, out, "2025-12-01", "2026-03-31", market=demo)
    assert again.status == "unchanged" and _bytes(out) == before
    longer = run_calc(meth, out, "2025-12-01", "2026-04-30", market=demo)
    assert (longer.status, longer.revision) == ("extended", 1)
    after = _bytes(out)
    for name in ("levels.csv", "actions.csv", "holdings.csv"):
        assert after[name].startswith(before[name]), name  # earlier rows keep their bytes
    lv = read_levels(out)
    assert lv.index[0] == pd.Timestamp("2025-12-01") and lv.index[-1] == pd.Timestamp("2026-04-30")
    assert (lv.index.day_of_week < 5).all() and lv.index.is_unique
    assert verify_calc(out) == []
    # the demo's generated actions are listed with their effect on shares and divisor
    acts = pd.read_csv(out / "actions.csv")
    assert {"split", "special_dividend", "takeover_cash", "delisting"} <= set(acts["type"])
    split = acts[acts["type"] == "split"].iloc[0]
    assert split["shares_after"] == pytest.approx(split["shares_before"] * 0.25)
    assert acts["data_source"].str.contains("SYNTHETIC").all()
    assert pd.read_csv(out / "levels.csv")["data_source"].str.contains("SYNTHETIC").all()


def test_levels_equal_the_backtest_on_the_same_constituents(meth, demo, tmp_path) -> None:
    from exchina.backtest import run_backtest
    from exchina.index.methodology import Costs, load_methodology

    out = tmp_path / "calc"
    run_calc(meth, out, None, "2025-11-28", market=demo)
    m = load_methodology(meth)
    bt = run_backtest(m.model_copy(update={"costs": Costs(spread_bps=0.0,
                      impact_bps_at_full_adtv=0.0)}), demo, None, "2025-11-28")  # fmt: skip
    lv = read_levels(out)
    assert len(lv) > 150
    for col in ("level_pr", "level_tr"):
        np.testing.assert_allclose(lv[col], bt.levels.loc[lv.index, col], rtol=1e-9)
    assert (lv["level_ntr"] <= lv["level_tr"] + 1e-9).all()


def test_a_revised_price_writes_an_audited_revision(meth, demo, tmp_path) -> None:
    out = tmp_path / "calc"
    run_calc(meth, out, "2025-12-01", "2026-02-27", market=demo)
    old = _bytes(out)
    close = demo.close.copy()
    close.loc["2026-01-20", "LYC.AX"] *= 1.10  # a vendor revises one close
    revised = replace(demo, close=close)
    res = run_calc(meth, out, "2025-12-01", "2026-02-27", market=revised)
    assert (res.status, res.revision) == ("revised", 2)
    assert res.changes["first_changed"] == "2026-01-20"
    kept = out / "revisions" / "rev-001"
    for name in ("levels.csv", "levels.parquet", "actions.csv", "holdings.csv", "manifest.json"):
        assert (kept / name).read_bytes() == old[name]
    changes = json.loads((kept / "changes.json").read_text())
    assert changes["superseded_by"] == 2 and changes["days_changed"] > 0
    manifest = read_manifest(out)
    assert manifest["revisions"][0]["first_changed"] == "2026-01-20"
    assert verify_calc(out) == []


def test_cli_calc_and_bad_range(meth, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    args = ["calc", "-m", str(meth), "--source", "demo", "--out", str(out)]
    assert main([*args, "--from", "2026-03-02", "--to", "2026-03-31"]) == 0
    assert "wrote 2026-03-02 to 2026-03-31" in capsys.readouterr().out
    assert main([*args, "--from", "2026-03-02", "--to", "2026-03-31"]) == 0
    assert "nothing written" in capsys.readouterr().out
    assert main([*args, "--from", "2026-04-01", "--to", "2026-03-01"]) == 2
    assert main([*args, "--to", "2031-01-01"]) == 4
    shutil.rmtree(out)
