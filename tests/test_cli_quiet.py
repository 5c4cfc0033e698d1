"""The CLI as a new user meets it: quiet (no solver banner, no raw warnings), a version, one
methodology option everywhere, help on every option, readable sweep tables."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
import typer

from exchina import __version__
from exchina.cli import app

EXE = Path(sys.executable).with_name("exchina")
NOISE = re.compile(r"Running HiGHS|Copyright \(c\)|\w+Warning:|warnings\.warn|\.py:\d+")


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=900,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _commands() -> list[tuple[str, click.Command]]:
    root = typer.main.get_command(app)
    out = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        else:
            out.append((name, cmd))
    return out


def test_version():
    r = _run("--version", cwd=Path.cwd())
    assert r.returncode == 0 and r.stdout.strip() == f"exchina {__version__}"


def test_every_option_has_help_and_methodology_is_dash_m():
    missing, no_short = [], []
    for name, cmd in _commands():
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip():
                missing.append(f"{name} {p.opts[0]}")
            if isinstance(p, click.Option) and "--methodology" in p.opts and "-m" not in p.opts:
                no_short.append(name)
    assert missing == [] and no_short == []


@pytest.mark.slow
def test_backtest_prints_no_solver_banner_or_raw_warning(tmp_path: Path):
    # the flagship's UCITS selection runs HiGHS; relaxations must come out as notes
    r = _run("backtest", "--start", "2013-01-01", "--end", "2014-12-31", "--no-peer",
             "--out", str(tmp_path / "bt"), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not NOISE.search(r.stdout + r.stderr), r.stdout + r.stderr
    assert "note: " in r.stderr  # the small-universe relaxation, said in words


def test_explain_without_date_uses_the_tables_default_date(tmp_path: Path):
    r = _run("universe", "--explain", "MP", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    table = _run("universe", "--json", cwd=tmp_path)
    import json

    assert json.loads(r.stdout)["date"] == json.loads(table.stdout)["date"]


def test_universe_marks_members_kept_by_the_buffer(tmp_path: Path):
    from exchina.core.sources import load_market
    from exchina.index.methodology import load_methodology, resolve_methodology
    from exchina.universe import build_universe

    market = load_market("demo")
    m = load_methodology(resolve_methodology("flagship"))
    u = build_universe("2026-10-30", m.universe, market)
    # members just under the entry size: eligible only because the buffer keeps them
    near = u[u["reasons"].str.startswith("float_mcap_usd") & ~u["reasons"].str.contains(";")]
    assert len(near) >= 1
    hold = tmp_path / "constituents.csv"
    pd.DataFrame({"ticker": near.index, "weight": 1.0 / len(near)}).to_csv(hold, index=False)
    r = _run("universe", "--date", "2026-10-30", "--holdings", str(hold), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import json

    rows = {c["ticker"]: c for c in json.loads(r.stdout)["companies"]}
    buffered = [t for t in near.index if rows[t]["standing"] == "held, kept by buffer"]
    assert buffered and all(rows[t]["eligible"] for t in buffered)
    text = _run("universe", "--date", "2026-10-30", "--holdings", str(hold), cwd=tmp_path)
    assert f"{len(buffered)} of them kept by the members' buffer" in text.stdout


def test_sweep_table_is_readable():
    from exchina.cli.sweep_cmds import _ranked_text

    table = pd.DataFrame(
        {
            "variant_id": ["v1", "v2", "v3"],
            "status": ["ok", "ok", "error"],
            "constraints.max_weight": [0.08, 0.10, 0.12],
            "sharpe": [0.5, 0.9, float("nan")],
            "cagr": [0.05, 0.07, float("nan")],
        }
    )
    text = _ranked_text(table, ["constraints.max_weight"], "sharpe", {"higher_is_better": True})
    lines = text.splitlines()
    assert "by sharpe (of 2 that ran)" in lines[0]
    assert lines[2].split()[:3] == ["v2", "0.1", "0.90"] and "7.0%" in lines[2]
    assert "{" not in text and "'" not in text  # no Python reprs


def test_library_callers_see_no_solver_banner(tmp_path: Path):
    """A quant calling the library (not the CLI) gets no HiGHS banner on stdout: the exact
    relaxation MILP of a methodology that must relax is solved in a fresh process."""
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from exchina.backtest import run_backtest\n"
        "from exchina.core.sources import load_market\n"
        "from exchina.index.methodology import load_methodology, resolve_methodology\n"
        "m = load_methodology(resolve_methodology('flagship'))\n"
        "r = run_backtest(m, load_market('demo'), '2020-06-01', '2021-12-31')\n"
        "assert len(r.relaxations) > 0  # the relaxation MILP ran\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not NOISE.search(r.stdout + r.stderr), r.stdout + r.stderr
