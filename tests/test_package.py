"""The package installs under one namespace and the CLI maps errors to exit codes."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from exchina.cli import main
from exchina.core.errors import EXIT_CODES, InputError


@pytest.mark.parametrize(
    "name", ["exchina.core", "exchina.universe", "exchina.index", "exchina.backtest", "exchina.ops"]
)
def test_layers_import_under_one_namespace(name: str) -> None:
    assert importlib.import_module(name).__name__ == name


def test_code_never_imports_bare_folder_names() -> None:
    """Every import goes through the exchina namespace (``exchina.universe``, never ``universe``)."""
    repo = Path(__file__).resolve().parents[1]
    bare = re.compile(r"^\s*(from|import)\s+(core|universe|index|backtest|ops)\b", re.M)
    offenders = [
        str(p.relative_to(repo))
        for folder in ("core", "universe", "index", "backtest", "ops", "src", "tests", "bench")
        for p in (repo / folder).rglob("*.py")
        if bare.search(p.read_text(encoding="utf-8"))
    ]
    offenders += (
        ["app.py"]
        if (repo / "app.py").exists() and bare.search((repo / "app.py").read_text())
        else []
    )
    assert offenders == []


def test_layers_point_down() -> None:
    """ops -> backtest -> index -> universe -> core: no layer imports one above it (or the CLI)."""
    repo = Path(__file__).resolve().parents[1]
    layers = ("core", "universe", "index", "backtest", "ops")
    forbidden = {
        layer: (*(f"exchina.{above}" for above in layers[i + 1 :]), "exchina.cli", "exchina.ui")
        for i, layer in enumerate(layers)
    }
    offenders = [
        f"{p.relative_to(repo)} imports {name}"
        for folder, names in forbidden.items()
        for p in (repo / folder).rglob("*.py")
        for name in names
        if re.search(
            rf"^\s*(from|import)\s+{re.escape(name)}\b", p.read_text(encoding="utf-8"), re.M
        )
    ]
    assert offenders == []


def test_input_error_names_file_row_and_field() -> None:
    err = InputError("expected a number", file="prices.csv", row=7, field="Close")
    assert str(err) == "prices.csv, row 7, field 'Close': expected a number"
    assert err.exit_code == 2


def test_exit_codes_command_lists_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exit-codes"]) == 0
    out = capsys.readouterr().out
    for code in EXIT_CODES:
        assert f"{code}  " in out
