"""``calc``, ``factsheet`` and ``run`` --out: a folder holding files they did not write is refused
(exit 8) with the store and the folder byte-identical afterwards; ``--force`` writes beside them
and deletes nothing. ``--as-stored VERSION|TIME`` on ``run`` and ``calc`` reads the data as it
was stored then, and their manifests record the store version read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from ops_support import RUN_DATE, reference_files, seeded_store, snapshot, write_methodology

from exchina.cli import main
from exchina.core.store import MarketStore

REVISED = "MP"  # the ticker whose prices version 1 of the store revises


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ops-cache")


@pytest.fixture
def env(tmp_path: Path, cache_root: Path) -> dict:
    """A store (version 0: data to 2025-12-31), reference files, a methodology, an out path."""
    companies, facts = reference_files(tmp_path / "ref")
    return {
        "store": seeded_store(tmp_path / "store", cache_root, end="2025-12-31"),
        "companies": companies,
        "facts": facts,
        "meth": write_methodology(tmp_path / "m.toml"),
        "out": tmp_path / "out",
    }


def run_args(env: dict, *extra: str, out: Path | None = None) -> list[str]:
    return [
        "run", "-m", str(env["meth"]), "--date", RUN_DATE, "--source", "store",
        "--store", str(env["store"]), "--out", str(out or env["out"]),
        "--companies", str(env["companies"]), "--facts", str(env["facts"]), *extra,
    ]  # fmt: skip


def calc_args(env: dict, *extra: str, out: Path | None = None) -> list[str]:
    return [
        "calc", "-m", str(env["meth"]), "--from", "2025-11-03", "--to", "2025-12-31",
        "--source", "store", "--store", str(env["store"]), "--out", str(out or env["out"]), *extra,
    ]  # fmt: skip


def factsheet_args(env: dict, *extra: str) -> list[str]:
    return [
        "factsheet", "-m", str(env["meth"]), "--date", "2025-12-31", "--no-pdf",
        "--source", "store", "--store", str(env["store"]), "--out", str(env["out"]), *extra,
    ]  # fmt: skip


COMMANDS = {"run": run_args, "calc": calc_args, "factsheet": factsheet_args}


def _foreign(out: Path) -> None:
    (out / "sub").mkdir(parents=True)
    (out / "keep.txt").write_text("x\n")
    (out / "sub" / "deep.csv").write_text("a,b\n")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_folder_with_foreign_files_is_refused_and_left_byte_identical(
    env: dict, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _foreign(env["out"])
    before_out, before_store = snapshot(env["out"]), snapshot(env["store"])
    assert main(COMMANDS[command](env)) == 8
    lines = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(lines)  # run also logs a run.failed line before it
    err = lines[-1]
    assert err.startswith("error: ") and len(lines) == (2 if command == "run" else 1), lines
    assert "keep.txt" in err and "sub" in err and "--force" in err
    assert "nothing was written or removed" in err
    assert snapshot(env["out"]) == before_out
    assert snapshot(env["store"]) == before_store


@pytest.mark.parametrize(
    ("command", "written"),
    [("run", "latest"), ("calc", "levels.csv"), ("factsheet", "factsheet.html")],
)
def test_force_writes_beside_foreign_files_and_deletes_nothing(
    env: dict, command: str, written: str
) -> None:
    _foreign(env["out"])
    before_store = snapshot(env["store"])
    assert main(COMMANDS[command](env, "--force")) == 0
    assert (env["out"] / written).is_file()
    assert (env["out"] / "keep.txt").read_text() == "x\n"
    assert (env["out"] / "sub" / "deep.csv").read_text() == "a,b\n"
    assert snapshot(env["store"]) == before_store


def test_a_store_given_as_the_run_folder_is_named_and_left_alone(env: dict, capsys) -> None:
    env["out"] = env["store"]
    before = snapshot(env["store"])
    assert main(run_args(env)) == 8
    assert "looks like an exchina market-data store" in capsys.readouterr().err
    assert snapshot(env["store"]) == before


def test_run_and_calc_rerun_into_their_own_folders(env: dict) -> None:
    """What a run wrote (dated revisions, latest, calc/, the lock) is its own: a rerun goes on."""
    assert main(run_args(env)) == 0
    names = {p.name for p in env["out"].iterdir()}
    assert {"latest", RUN_DATE, "calc"} <= names
    assert main(run_args(env)) == 0
    calc = env["out"] / "calc"
    assert main(calc_args(env, out=calc)) == 0


def _revise_store(root: Path) -> int:
    """Store version 1: every close of ``REVISED`` in December 2025 raised by half."""
    st = MarketStore(root)
    px = st.read_prices([REVISED], start="2025-12-01")
    assert len(px)
    px = px.assign(close=px["close"] * 1.5, adj_close=px["adj_close"] * 1.5)
    st.write_prices(px.drop(columns=["stored_at", "source"]), "test revision")
    return int(st.version() or 0)


def test_calc_as_stored_reads_the_old_version_and_records_it(env: dict, tmp_path: Path) -> None:
    old = tmp_path / "old"
    assert main(calc_args(env, out=old)) == 0
    assert json.loads((old / "manifest.json").read_text())["store_version"] == "0"
    assert _revise_store(env["store"]) == 1
    before_store = snapshot(env["store"])

    new, pinned = tmp_path / "new", tmp_path / "pinned"
    assert main(calc_args(env, out=new)) == 0
    assert main(calc_args(env, "--as-stored", "0", out=pinned)) == 0
    manifest = json.loads((pinned / "manifest.json").read_text())
    assert manifest["store_version"] == "0"
    assert json.loads((new / "manifest.json").read_text())["store_version"] == "1"
    # the data as stored at version 0 gives version 0's levels, byte for byte
    assert (pinned / "levels.csv").read_bytes() == (old / "levels.csv").read_bytes()
    assert (new / "levels.csv").read_bytes() != (old / "levels.csv").read_bytes()
    assert snapshot(env["store"]) == before_store  # reading a version writes nothing


def test_run_as_stored_reads_the_old_version_and_records_it(env: dict, tmp_path: Path) -> None:
    first = tmp_path / "first"
    assert main(run_args(env, "--no-calc", out=first)) == 0
    _revise_store(env["store"])
    before_store = snapshot(env["store"])
    assert main(run_args(env, "--as-stored", "0")) == 0
    rev = env["out"] / RUN_DATE / "rev-001"
    manifest = json.loads((rev / "manifest.json").read_text())
    assert manifest["data"]["store_version"] == "0"
    assert manifest["inputs"]["as_stored"] == "0"
    calc = json.loads((env["out"] / "calc" / "manifest.json").read_text())
    assert calc["store_version"] == "0"
    # the same data as the run made on version 0 before the revision: the same rebalance
    old = json.loads((first / RUN_DATE / "rev-001" / "manifest.json").read_text())
    assert manifest["fingerprint"]["data"] == old["fingerprint"]["data"]
    assert (rev / "constituents.csv").read_bytes() == (
        first / RUN_DATE / "rev-001" / "constituents.csv"
    ).read_bytes()
    assert snapshot(env["store"]) == before_store


def test_run_as_stored_at_a_time_before_the_revision(env: dict, tmp_path: Path) -> None:
    stamp = pd.Timestamp.now(tz="UTC").isoformat()
    _revise_store(env["store"])
    assert main(run_args(env, "--as-stored", stamp, "--no-calc")) == 0
    rev = env["out"] / RUN_DATE / "rev-001"
    assert json.loads((rev / "manifest.json").read_text())["data"]["store_version"] == "0"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--as-stored", "0", "--refresh"], "cannot be combined with --refresh"),
        (["--as-stored", "7"], "no store version 7"),
        (["--as-stored", "last week"], "expected a store version"),
    ],
)
def test_bad_as_stored_on_run_is_one_line_and_writes_nothing(
    env: dict, extra: list[str], message: str, capsys
) -> None:
    before = snapshot(env["store"])
    assert main(run_args(env, *extra, "--no-calc")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in "\n".join(lines), lines
    assert snapshot(env["store"]) == before
    assert not (env["out"] / "latest").exists()


def test_calc_as_stored_with_a_missing_version_is_refused(env: dict, capsys) -> None:
    before = snapshot(env["store"])
    assert main(calc_args(env, "--as-stored", "3")) == 2
    assert "no store version 3" in capsys.readouterr().err
    assert snapshot(env["store"]) == before
    assert not (env["out"] / "manifest.json").exists()
