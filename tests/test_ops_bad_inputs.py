"""The bad-inputs corpus (``tests/fixtures/bad_inputs``): every file gets its own message naming
file, row and field, a non-zero exit, and the store and output folder stay byte-for-byte as they
were. Plus an infeasible methodology (exit 3, conflict named, no revision written)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from ops_support import RUN_DATE, reference_files, seeded_store, snapshot, write_methodology

from exchina.cli import main

CORPUS = Path(__file__).parent / "fixtures" / "bad_inputs"
CASES = list(csv.DictReader((CORPUS / "cases.csv").open(encoding="utf-8")))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A store with prices and an output folder with one revision, both to be left alone."""
    root = tmp_path_factory.mktemp("bad")
    companies, facts = reference_files(root / "ref")
    w = {
        "store": seeded_store(root / "store", root / "cache", end="2025-12-31"),
        "companies": companies,
        "facts": facts,
        "meth": write_methodology(root / "m.toml"),
        "out": root / "out",
        "root": root,
    }
    assert main(run_args(w)) == 0
    return w


def run_args(w: dict, meth: Path | None = None, **files: Path) -> list[str]:
    return [
        "run", "-m", str(meth or w["meth"]), "--date", RUN_DATE, "--source", "store",
        "--store", str(w["store"]), "--out", str(w["out"]),
        "--companies", str(files.get("companies", w["companies"])),
        "--facts", str(files.get("facts", w["facts"])),
    ]  # fmt: skip


def test_corpus_is_complete():
    listed = {c["file"] for c in CASES}
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix in (".csv", ".toml")} - {"cases.csv"}
    assert listed == on_disk
    kinds = {c["via"] for c in CASES}
    assert kinds == {"methodology", "import", "companies", "facts"}


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_input_names_file_row_field_and_writes_nothing(case, world, capsys, tmp_path):
    path = tmp_path / case["file"]  # a copy, so the message names a path we know
    shutil.copy(CORPUS / case["file"], path)
    before = snapshot(world["store"]), snapshot(world["out"])
    via = case["via"]
    if via == "methodology":
        argv = run_args(world, meth=path)
    elif via == "import":
        argv = ["import", str(path), "--store", str(world["store"])]
    else:
        argv = run_args(world, **{via: path})
    code = main(argv)
    err = capsys.readouterr().err
    assert code == int(case["exit_code"]) != 0
    message = [line for line in err.splitlines() if line.startswith("error: ")][-1]
    assert message.startswith(f"error: {path}")
    if case["row"]:
        assert f"row {case['row']}," in message or message.endswith(f"row {case['row']}")
    if case["field"]:
        assert f"field '{case['field']}'" in message
    assert case["message"] in message
    assert (snapshot(world["store"]), snapshot(world["out"])) == before


def test_infeasible_methodology_is_exit_3_naming_the_conflict(world, capsys, tmp_path):
    before = snapshot(world["store"]), snapshot(world["out"])
    meth = write_methodology(tmp_path / "tight.toml", max_weight=0.02)  # 16 names x 2 % < 100 %
    assert main(run_args(world, meth=meth)) == 3
    err = capsys.readouterr().err
    assert "max_weight" in err
    assert (snapshot(world["store"]), snapshot(world["out"])) == before
