"""``exchina app`` fills the app's caches for the first page while its server starts
(``exchina.ui.data.warm``): the first visitor's Overview then computes nothing and reads nothing
from disk. And the modules a page imports to show stored results do not load cvxpy (seconds)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from app_support import APP
from streamlit.testing.v1 import AppTest

from exchina.ui import data

pytestmark = pytest.mark.usefixtures("cold_streamlit_caches")


def test_a_warmed_app_opens_overview_without_computing_or_reading(monkeypatch):
    data.warm()

    def refuse(*_args, **_kwargs):
        raise AssertionError("the first page computed a backtest after the warm-up")

    monkeypatch.setattr(data, "_run_backtest", refuse)
    monkeypatch.setenv("EXCHINA_CACHE", "off")  # no disk cache either: only what warm() kept
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "exchina Allied Mine-to-Magnet"
    assert any(m.label == "CAGR (total return, net of costs)" for m in at.metric)
    assert any(m.label == "Benchmark methodology" for m in at.metric)


def test_showing_stored_results_does_not_import_the_optimizer():
    code = (
        "import sys\n"
        "import exchina.ui.data, exchina.ui.charts, exchina.ui.layout, exchina.index\n"
        "print(sorted(m for m in ('cvxpy', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
