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


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("result-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(_session_cache: Path, monkeypatch: pytest.MonkeyPatch):
    """No test reads or writes the user's result cache: EXCHINA_CACHE points at a folder shared by
    this test session (entries are keyed by their inputs, so sharing them is safe)."""
    monkeypatch.setenv("EXCHINA_CACHE", str(_session_cache))


@pytest.fixture
def realdata() -> Path:
    """``../shared/realdata`` (CI has it); tests that need it fail loudly if it is missing."""
    if not REALDATA.is_dir():
        pytest.fail(f"real data folder not found at {REALDATA} (set EXCHINA_SHARED)")
    return REALDATA


@pytest.fixture
def cold_streamlit_caches():
    """AppTest shares st.cache_data across instances in one process: every case starts cold.
    The app suites ask for it with ``pytest.mark.usefixtures``."""
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()
