"""Output folders are never wiped: each command writes only its own files, atomically, and
refuses a folder holding anything else unless --force (which still deletes nothing)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from exchina.cli import main
from exchina.core.atomic import check_output_folder, write_atomic, write_outputs
from exchina.core.errors import FileSystemError, OutputFolderError

BT = ["backtest", "-m", "equal_weight", "--source", "demo", "--start", "2019-01-01"]
BT_END = ["--end", "2019-06-28", "--benchmark", "none", "--no-peer"]


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (folders as 'dir')."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_backtest_refuses_a_folder_with_a_foreign_file_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "keep.txt").write_text("x\n")
    before = snapshot(d)
    assert main([*BT, *BT_END, "--out", str(d)]) == 8
    err = capsys.readouterr().err
    assert "keep.txt" in err and "--force" in err and "nothing was written or removed" in err
    assert snapshot(d) == before


def test_backtest_force_writes_beside_foreign_files_and_deletes_nothing(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "keep.txt").write_text("x\n")
    (d / "sub" / "deep.csv").write_text("a,b\n")
    assert main([*BT, *BT_END, "--out", str(d), "--force"]) == 0
    names = {p.name for p in d.iterdir()}
    assert {"keep.txt", "sub", "levels.csv", "report.html", "metrics.json"} <= names
    assert (d / "keep.txt").read_text() == "x\n"
    assert (d / "sub" / "deep.csv").read_text() == "a,b\n"


def test_a_rerun_into_its_own_folder_is_allowed(tmp_path: Path) -> None:
    d = tmp_path / "bt"
    assert main([*BT, *BT_END, "--out", str(d)]) == 0
    assert main([*BT, *BT_END, "--out", str(d)]) == 0
    assert sorted(p.name for p in d.iterdir()) == sorted(
        ["levels.csv", "levels.parquet", "weights.parquet", "metrics.json", "report.html"]
    )


@pytest.mark.parametrize(
    ("marker", "kind"),
    [(".git", "git repository"), ("prices", "market-data store"), ("_delta_log", "store")],
)
def test_a_store_or_repository_is_named_and_left_alone(
    tmp_path: Path, marker: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "d"
    (d / marker).mkdir(parents=True)
    (d / marker / "f").write_bytes(b"\x00\x01")
    before = snapshot(d)
    assert main([*BT, *BT_END, "--out", str(d)]) == 8
    assert kind in capsys.readouterr().err
    assert snapshot(d) == before


def test_out_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    f = tmp_path / "f"
    f.write_text("mine\n")
    assert main([*BT, *BT_END, "--out", str(f)]) == 8
    assert "is a file, not a folder" in capsys.readouterr().err
    assert f.read_text() == "mine\n"


def test_rebalance_refuses_foreign_files(tmp_path: Path, capsys) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "keep.txt").write_text("x\n")
    args = ["rebalance", "--date", "2024-06-24", "--methodology", "flagship"]
    code = main([*args, "--source", "demo", "--out", str(d)])
    assert code == 8
    assert (d / "keep.txt").read_text() == "x\n"
    assert [p.name for p in d.iterdir()] == ["keep.txt"]


def test_sweep_refuses_foreign_files(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "keep.txt").write_text("x\n")
    grid = tmp_path / "g.toml"
    grid.write_text('base = "equal_weight"\n[parameters]\n"constraints.max_weight" = [0.1]\n')
    assert main(["sweep", "--grid", str(grid), "--out", str(d), "--source", "demo"]) == 8
    assert [p.name for p in d.iterdir()] == ["keep.txt"]


def test_write_outputs_failure_keeps_old_files_and_leaves_no_temporaries(tmp_path: Path) -> None:
    write_outputs(tmp_path, {"a.txt": "old a", "b.txt": "old b"})

    def boom(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_outputs(tmp_path, {"a.txt": "new a", "b.txt": boom})
    assert (tmp_path / "a.txt").read_text() == "old a"  # nothing replaced until all are built
    assert (tmp_path / "b.txt").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_leftover_temporaries_do_not_count_as_foreign(tmp_path: Path) -> None:
    (tmp_path / f".a.txt.{'0' * 32}.tmp").write_text("killed")
    assert check_output_folder(tmp_path, ["a.txt"]) == tmp_path
    (tmp_path / ".a.txt.tmp").write_text("not ours")
    with pytest.raises(OutputFolderError):
        check_output_folder(tmp_path, ["a.txt"])


def test_write_atomic_refuses_a_folder_and_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(FileSystemError, match="folder where a file is expected"):
        write_atomic(tmp_path / "x", "text")
    assert (tmp_path / "x").is_dir()


def test_rulebook_out_pointing_at_a_folder_exits_9(tmp_path: Path, capsys) -> None:
    assert main(["methodology", "rulebook", "flagship", "--out", str(tmp_path)]) == 9
    assert str(tmp_path) in capsys.readouterr().err
