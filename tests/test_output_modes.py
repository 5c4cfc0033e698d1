"""Every file and folder the CLI writes gets the same permissions: what the user's umask allows
(0o666 / 0o777 less the umask), whatever wrote it (pandas, pyarrow, the HTML and JSON writers, a
lock file), so a shared output folder never holds a file others cannot read. Runs the commands
in-process on the synthetic demo market (the store is an empty temp folder, see conftest)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from exchina.cli import main

COMMANDS = {
    "rebalance": ["rebalance", "-m", "equal_weight", "--date", "2026-09-18", "--out", "{out}"],
    "backtest": ["backtest", "-m", "equal_weight", "--start", "2025-06-01", "--no-peer",
                 "--benchmark", "none", "--out", "{out}"],
    "calc": ["calc", "-m", "equal_weight", "--from", "2026-08-01", "--out", "{out}"],
    "factsheet": ["factsheet", "-m", "equal_weight", "--no-pdf", "--out", "{out}"],
    "universe": ["universe", "--out", "{out}/universe.csv"],
}  # fmt: skip


@pytest.fixture
def umask():
    """Run the test under a given umask, restored after."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


def _modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]
    }


@pytest.mark.parametrize("mask", [0o027, 0o002])
def test_outputs_follow_the_umask(tmp_path: Path, umask, mask: int) -> None:
    umask(mask)
    written = {}
    for name, argv in COMMANDS.items():
        out = tmp_path / name
        out.mkdir(mode=0o777)
        assert main([a.format(out=out) for a in argv]) == 0, name
        written |= {f"{name}/{k}": v for k, v in _modes(out).items() if k != "."}
    assert len(written) >= 15  # every command wrote its files
    files = {k: oct(v) for k, v in written.items() if not (tmp_path / k).is_dir()}
    folders = {k: oct(v) for k, v in written.items() if (tmp_path / k).is_dir()}
    assert set(files.values()) == {oct(0o666 & ~mask)}, files
    assert set(folders.values()) <= {oct(0o777 & ~mask)}, folders
