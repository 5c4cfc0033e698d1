"""The README's Python tour runs as written (on the synthetic demo market)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_tour_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no Python example"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)  # the project's own README
    levels = namespace["levels"]
    assert isinstance(levels, pd.DataFrame)
    assert levels["level_pr"].iloc[0] == pytest.approx(1000.0)
    assert "SYNTHETIC" in capsys.readouterr().out  # the demo market says what it is
