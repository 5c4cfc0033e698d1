"""Shared fixtures: the real-data folder beside the repo and an isolated store per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EXCHINA_SHARED", REPO.parent / "shared")).resolve()
REALDATA = SHARED / "realdata"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``network`` reach Yahoo Finance, which CI cannot: they run only when the
    marker expression asks for them (``pytest -m network``), and are deselected otherwise."""
    if "network" in (config.getoption("markexpr") or ""):
        return
    offline = [i for i in items if i.get_closest_marker("network") is None]
    deselected = [i for i in items if i.get_closest_marker("network") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = offline


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test reads or writes the user's store: EXCHINA_STORE points at a fresh folder."""
    monkeypatch.setenv("EXCHINA_STORE", str(tmp_path_factory.mktemp("store")))


@pytest.fixture
def realdata() -> Path:
    """``../shared/realdata`` (CI has it); tests that need it fail loudly if it is missing."""
    if not REALDATA.is_dir():
        pytest.fail(f"real data folder not found at {REALDATA} (set EXCHINA_SHARED)")
    return REALDATA
