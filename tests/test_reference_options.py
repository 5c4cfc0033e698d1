"""``--companies``/``--facts`` on ``backtest``, ``calc``, ``factsheet`` and ``run``: a custom
company master restricts every output to its companies (the daily calculation of ``run``
included), the files and their SHA-256 are recorded where the other inputs are, and facts of a
company the master lacks are exit 2 naming file, row and field, with nothing written."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from ops_support import METHODOLOGY, RUN_DATE, TICKERS, reference_files

from exchina.cli import main
from exchina.core.paths import data_file

DEMO = ["--source", "demo"]


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> dict:
    """The master and facts cut to the 16 companies of ``TICKERS``; a methodology from 2025."""
    root = tmp_path_factory.mktemp("ref")
    companies, facts = reference_files(root / "ref")
    meth = root / "m.toml"
    text = METHODOLOGY.format(max_weight=0.10).replace(
        'version = "1"\n', 'version = "1"\nbase_date = 2024-12-31\n'
    )
    meth.write_text(text, encoding="utf-8")
    return {"companies": companies, "facts": facts, "meth": meth}


def _opts(ref: dict) -> list[str]:
    return ["-m", str(ref["meth"]), "--companies", str(ref["companies"]),
            "--facts", str(ref["facts"])]  # fmt: skip


def _recorded(ref: dict, files: dict) -> None:
    for key in ("companies", "facts"):
        assert files[key]["file"] == str(ref[key])
        assert files[key]["sha256"] == hashlib.sha256(ref[key].read_bytes()).hexdigest()


def test_backtest_holds_only_the_masters_companies_and_records_the_files(ref, tmp_path):
    out = tmp_path / "bt"
    argv = ["backtest", *_opts(ref), *DEMO, "--out", str(out), "--no-peer",
            "--start", "2025-01-01", "--end", "2025-12-31"]  # fmt: skip
    assert main(argv) == 0
    held = set(pd.read_parquet(out / "weights.parquet")["ticker"].astype(str))
    assert held and held <= set(TICKERS)
    _recorded(ref, json.loads((out / "metrics.json").read_text())["reference_data"])


def test_calc_holds_only_the_masters_companies_and_records_the_files(ref, tmp_path):
    out = tmp_path / "calc"
    assert main(["calc", *_opts(ref), *DEMO, "--out", str(out), "--to", "2025-12-31"]) == 0
    held = set(pd.read_csv(out / "holdings.csv")["ticker"].astype(str))
    assert held and held <= set(TICKERS)
    _recorded(ref, json.loads((out / "manifest.json").read_text())["reference_data"])


def test_factsheet_top_ten_names_only_the_masters_companies(ref, tmp_path):
    out = tmp_path / "fs"
    argv = ["factsheet", *_opts(ref), *DEMO, "--out", str(out), "--no-pdf",
            "--date", "2025-12-31"]  # fmt: skip
    assert main(argv) == 0
    page = (out / "factsheet.html").read_text(encoding="utf-8")
    shipped = pd.read_csv(data_file("companies.csv"), dtype=str)["ticker"]
    named = {t for t in shipped if f">{t}<" in page}
    assert named and named <= set(TICKERS)


def test_run_passes_the_master_to_its_daily_calculation(ref, tmp_path):
    out = tmp_path / "run"
    assert main(["run", *_opts(ref), *DEMO, "--out", str(out), "--date", RUN_DATE]) == 0
    calc = out / "calc"
    held = set(pd.read_csv(calc / "holdings.csv")["ticker"].astype(str))
    assert held and held <= set(TICKERS)
    _recorded(ref, json.loads((calc / "manifest.json").read_text())["reference_data"])
    revision = json.loads(next(out.glob("2025-12-19/rev-*/manifest.json")).read_text())
    _recorded(ref, revision["inputs"])


COMMANDS = {
    "backtest": ["--no-peer", "--start", "2025-01-01", "--end", "2025-12-31"],
    "calc": ["--to", "2025-12-31"],
    "factsheet": ["--no-pdf", "--date", "2025-12-31"],
    "run": ["--date", RUN_DATE],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("facts", ["foreign", "shipped"])
def test_facts_of_companies_not_in_the_master_are_exit_2_and_nothing_written(
    ref, tmp_path, capsys, command, facts
):
    """A facts file naming a company the master lacks (given, or the shipped one when only
    --companies is passed, as ``run`` does) is the loader's error: file, row, field; exit 2."""
    argv = [command, "-m", str(ref["meth"]), "--companies", str(ref["companies"]), *DEMO]
    path = data_file("exposure_facts.csv")
    if facts == "foreign":
        path = tmp_path / "exposure_facts.csv"
        rows = pd.read_csv(data_file("exposure_facts.csv"), dtype=str, keep_default_na=False)
        ids = set(pd.read_csv(ref["companies"], dtype=str)["company_id"])
        stray = int((~rows["company_id"].isin(ids)).to_numpy().argmax())
        rows.iloc[: stray + 1].to_csv(path, index=False)  # the last row is a stray company
        argv += ["--facts", str(path)]
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out), *COMMANDS[command]]) == 2
    message = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")][-1]
    assert message.startswith(f"error: {path}, row ")
    assert "field 'company_id'" in message and "unknown company_id" in message
    if facts == "foreign":
        assert f"row {stray + 2}," in message
    assert not out.exists()


def test_companies_and_facts_have_the_same_help_everywhere():
    from typer.main import get_command

    from exchina.cli import app

    root = get_command(app)
    helps = {}
    for name in COMMANDS:
        params = {p.name: p for p in root.commands[name].params}  # type: ignore[attr-defined]
        helps[name] = tuple(getattr(params[k], "help", None) for k in ("companies", "facts"))
    assert len(set(helps.values())) == 1, helps
