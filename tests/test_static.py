"""Static checks run with the tests (and so in CI): ruff, and basedpyright with every
``exchina.*`` import resolved.

basedpyright reads ``[tool.basedpyright]`` in ``pyproject.toml`` and must report no error at all:
there is no baseline of tolerated errors (``.basedpyright/baseline.json``, which basedpyright
would read silently, must not exist). ``.pyright/exchina/`` maps the namespace onto the folders
for static tools.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_static_import_root_mirrors_the_package_mapping() -> None:
    """Every folder setuptools installs as ``exchina.X`` has its link under ``.pyright/exchina``."""
    setup = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, folder in setup["package-dir"].items():
        link = REPO / ".pyright" / Path(*package.split("."))
        if package == "exchina":  # the namespace root: a folder holding its own modules' links
            link = link / "__init__.py"
            folder = f"{folder}/__init__.py"
        assert link.resolve() == (REPO / folder).resolve(), f"{link} should point at {folder}"


def test_type_check_has_no_errors_and_resolves_every_exchina_import() -> None:
    assert not (REPO / ".basedpyright" / "baseline.json").exists(), "no baseline: fix the errors"
    done = _run("basedpyright", "--outputjson")
    report = json.loads(done.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    unresolved = [d for d in errors if d.get("rule") in {"reportMissingImports"}]
    assert unresolved == [], unresolved[:5]
    assert errors == [], "\n".join(
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}" for d in errors[:20]
    )
