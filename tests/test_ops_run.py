"""``exchina run`` / ``exchina schedule``: schedule, revisions, idempotency, stale data, lock, logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock
from ops_support import (
    REVIEW,
    RUN_DATE,
    TICKERS,
    reference_files,
    seeded_store,
    snapshot,
    truth,
    write_methodology,
)

from exchina.cli import main
from exchina.core.demo import DEMO_SOURCE, demo_long_frames
from exchina.core.errors import EXIT_CODES, ExchinaError
from exchina.core.store import MarketStore
from exchina.index.methodology import load_methodology
from exchina.ops.scheduled_run import (
    MANIFEST,
    current_revision,
    data_fingerprint,
    schedule_table,
    verify_output,
    verify_revision,
)


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ops-cache")


@pytest.fixture
def env(tmp_path: Path, cache_root: Path) -> dict:
    """A full store (data to 2025-12-31), reference files, a methodology and an out path."""
    companies, facts = reference_files(tmp_path / "ref")
    return {
        "store": seeded_store(tmp_path / "store", cache_root, end="2025-12-31"),
        "companies": companies,
        "facts": facts,
        "meth": write_methodology(tmp_path / "m.toml"),
        "out": tmp_path / "out",
    }


def cli(env: dict, *extra: str, date: str = RUN_DATE) -> list[str]:
    return [
        "run", "-m", str(env["meth"]), "--date", date, "--source", "store",
        "--store", str(env["store"]), "--out", str(env["out"]),
        "--companies", str(env["companies"]), "--facts", str(env["facts"]), "--no-calc", *extra,
    ]  # fmt: skip


def test_schedule_lists_review_and_effective_dates(capsys, tmp_path):
    assert main(["schedule", "-m", "flagship", "--year", "2025", "--json"]) == 0
    dates = json.loads(capsys.readouterr().out)["dates"]
    assert [d["effective"] for d in dates] == [
        "2025-03-21",
        "2025-06-20",
        "2025-09-19",
        "2025-12-19",
    ]
    assert dates[-1]["review"] == "2025-12-12"  # 5 sessions before
    semi = write_methodology(
        tmp_path / "semi.toml", text='name = "semi"\n[schedule]\nfrequency = "semiannual"\n'
    )
    table = schedule_table(load_methodology(semi), 2025)
    assert [f"{d:%Y-%m-%d}" for d in table["effective"]] == ["2025-06-20", "2025-12-19"]


def test_not_scheduled_date_exits_0_and_writes_nothing(env, capsys):
    assert main(cli(env, date="2025-12-18")) == 0
    out = capsys.readouterr().out
    assert "not a review or effective date" in out and "next: review 2026-03-13" in out
    assert not env["out"].exists()


def test_run_writes_a_revision_with_a_verifiable_manifest(env, capsys):
    before_store = snapshot(env["store"])
    assert main(cli(env)) == 0
    assert "wrote 2025-12-19/rev-001" in capsys.readouterr().out
    out = env["out"]
    assert (out / "latest").read_text().strip() == "2025-12-19/rev-001"
    assert verify_output(out) == []
    rev = current_revision(out, RUN_DATE)
    m = json.loads((rev / MANIFEST).read_text())
    assert set(m["outputs"]) == {
        "constituents.csv",
        "constituents.parquet",
        "trades.csv",
        "report.json",
    }
    assert m["effective"] == RUN_DATE and m["review"] == REVIEW and m["run_role"] == "effective"
    assert m["data"]["synthetic"] is True and "SYNTHETIC" in m["data"]["source_label"]
    assert m["data"]["cutoff_prices_as_of"] == REVIEW
    assert set(m["data"]["eligible_last_price"]) <= set(TICKERS)
    assert m["inputs"]["methodology"]["hash"] == load_methodology(env["meth"]).digest()
    assert {"python", "exchina", "pandas", "cvxpy"} <= set(m["versions"])
    assert m["warnings"] == [] and m["previous_revision"] is None
    w = pd.read_csv(rev / "constituents.csv")["weight"]
    assert w.sum() == pytest.approx(1.0, abs=1e-9) and w.max() <= 0.10 + 1e-9
    assert snapshot(env["store"]) == before_store  # a run without --refresh never writes the store


def test_same_inputs_change_nothing_and_changed_inputs_add_a_revision(env, capsys):
    assert main(cli(env)) == 0
    first = snapshot(env["out"])
    capsys.readouterr()
    assert main(cli(env)) == 0
    assert "already holds this rebalance" in capsys.readouterr().out
    assert snapshot(env["out"]) == first

    write_methodology(env["meth"], max_weight=0.08)
    assert main(cli(env)) == 0
    assert "wrote 2025-12-19/rev-002" in capsys.readouterr().out
    after = snapshot(env["out"])
    kept = {k: v for k, v in first.items() if "rev-001" in k}
    assert kept and all(after[k] == v for k, v in kept.items())  # rev-001 untouched
    assert (env["out"] / "latest").read_text().splitlines()[0] == "2025-12-19/rev-002"
    m2 = json.loads((env["out"] / "2025-12-19/rev-002" / MANIFEST).read_text())
    assert m2["previous_revision"] == "rev-001"
    assert (
        pd.read_csv(env["out"] / "2025-12-19/rev-002/constituents.csv")["weight"].max()
        <= 0.08 + 1e-9
    )
    assert verify_output(env["out"]) == []


def test_review_date_run_uses_only_data_known_that_day(env):
    assert main(cli(env, date=REVIEW)) == 0
    rev = current_revision(env["out"], RUN_DATE)  # filed under its effective date
    m = json.loads((rev / MANIFEST).read_text())
    assert m["run_role"] == "review" and m["data"]["market_as_of"] == REVIEW
    assert pd.read_csv(rev / "constituents.csv")["price_date"].max() <= REVIEW


def _store_with_stale(root: Path, ticker: str, last: str) -> Path:
    prices, fx, shares = demo_long_frames(truth())
    prices = prices[(prices["ticker"] != ticker) | (prices["date"] <= last)]
    st = MarketStore(root)
    st.write_prices(prices, DEMO_SOURCE, "demo")
    st.write_fx(fx, DEMO_SOURCE, "demo")
    st.write_shares(shares, DEMO_SOURCE, "demo")
    return root


def test_stale_price_is_exit_5_naming_the_ticker_unless_allowed(env, tmp_path, capsys):
    env["store"] = _store_with_stale(tmp_path / "stale-store", "LYC.AX", "2025-12-02")
    assert main(cli(env)) == 5
    err = capsys.readouterr().err
    assert "LYC.AX (last 2025-12-02)" in err and "--allow-stale" in err
    assert not any(t in err.split("error:")[-1] for t in ("MP ", "SQM ", "ALB "))
    assert snapshot(env["out"]) == {} or not list(env["out"].glob("2025-*"))

    assert main(cli(env, "--allow-stale")) == 0
    m = json.loads((current_revision(env["out"], RUN_DATE) / MANIFEST).read_text())
    assert m["data"]["stale"] == {"LYC.AX": "2025-12-02"}
    assert any("LYC.AX" in w and "--allow-stale" in w for w in m["warnings"])


def test_price_exactly_at_the_age_limit_is_not_stale(env, tmp_path):
    # cut-off Fri 2025-12-12, 5 business days earlier is Fri 2025-12-05: still fresh
    env["store"] = _store_with_stale(tmp_path / "edge-store", "LYC.AX", "2025-12-05")
    assert main(cli(env)) == 0


def test_lock_held_is_exit_6_with_a_clear_message(env, capsys):
    env["out"].mkdir()
    with FileLock(str(env["out"] / ".lock")):
        assert main(cli(env, "--lock-timeout", "0.2")) == 6
    err = capsys.readouterr().err
    assert "locked by another exchina run" in err and "--lock-timeout" in err
    assert not list(env["out"].glob("2025-*"))


def test_log_json_is_one_object_per_line(env, tmp_path, capsys):
    assert main(cli(env, "--log-json")) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(set(r) == {"ts", "level", "event", "fields"} for r in records)
    events = [r["event"] for r in records]
    assert events[0] == "run.start" and "run.written" in events
    env["store"] = _store_with_stale(tmp_path / "stale-store", "MP", "2025-11-20")
    env["out"] = tmp_path / "out2"
    assert main(cli(env, "--log-json")) == 5
    err_lines = capsys.readouterr().err.strip().splitlines()
    failed = [json.loads(x) for x in err_lines if x.startswith("{")][-1]
    assert failed["event"] == "run.failed" and failed["level"] == "error"
    assert failed["fields"]["exit_code"] == 5 and failed["fields"]["tickers"] == ["MP"]
    assert err_lines[-1].startswith("error: ")  # the CLI's one-line message follows


def test_exit_codes_are_documented(capsys):
    assert main(["exit-codes"]) == 0
    listed = {int(line.split()[0]) for line in capsys.readouterr().out.splitlines()}
    assert listed == set(EXIT_CODES) == set(range(11)) | {130}
    codes = {cls.exit_code for cls in [ExchinaError, *ExchinaError.__subclasses__()]}
    assert codes == set(range(1, 11))


def test_data_fingerprint_sees_one_revised_close():
    m = truth()
    from dataclasses import replace

    close = m.close.copy()
    close.iloc[-3, 2] *= 1.0001
    assert data_fingerprint(m) == data_fingerprint(replace(m))
    assert data_fingerprint(replace(m, close=close)) != data_fingerprint(m)


@pytest.mark.slow
def test_two_runs_started_together_one_writes(env, tmp_path):
    """Two real CLI processes on one output folder: one writes, the other waits for the lock and
    finds the same inputs already written."""
    args = [sys.executable, "-m", "exchina", *cli(env)]
    procs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    said = sorted("wrote" if "wrote" in o else "unchanged" for o, _ in outs)
    assert said == ["unchanged", "wrote"], outs
    revs = sorted(p.name for p in (env["out"] / "2025-12-19").iterdir() if p.is_dir())
    assert revs == ["rev-001"] and verify_output(env["out"]) == []
    # the result equals a single run into a fresh folder
    single = dict(env, out=tmp_path / "single")
    assert main(cli(single)) == 0
    a, b = current_revision(env["out"], RUN_DATE), current_revision(single["out"], RUN_DATE)
    ca, cb = pd.read_csv(a / "constituents.csv"), pd.read_csv(b / "constituents.csv")
    assert list(ca["ticker"]) == list(cb["ticker"])
    assert ca["weight"].to_numpy() == pytest.approx(cb["weight"].to_numpy(), abs=1e-9)
    assert verify_revision(a) == []
