"""Stage exposure by revenue share, by hand: known shares as given, the rest split equally over
listed stages without a share, known shares below one scaled up, all-zero shares split equally."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchina.index.exposures import stage_exposure
from exchina.universe.stages import SHARE_COLUMNS

NAN = np.nan


def _frame(rows: dict[str, tuple[str, dict[str, float]]]) -> pd.DataFrame:
    data = {
        t: {"stages": text, **{c: shares.get(c.removeprefix("share_"), NAN) for c in SHARE_COLUMNS}}
        for t, (text, shares) in rows.items()
    }
    return pd.DataFrame.from_dict(data, orient="index")


def test_revenue_share_split_by_hand() -> None:
    f = _frame({
        "A": ("mining;magnet", {"mining": 0.7}),  # magnet gets the remaining 0.3
        "B": ("mining;magnet", {"mining": 0.2, "magnet": 0.3}),  # scaled to 0.4 / 0.6
        "C": ("mining;magnet", {"mining": 0.0, "magnet": 0.0}),  # all zero: equal split
        "D": ("separation_refining;metal_alloy;magnet", {}),  # nothing known: thirds
        "E": ("recycling", {"recycling": 1.0, "mining": 0.9}),  # unlisted stage ignored
    })  # fmt: skip
    ex = stage_exposure(f)
    assert ex.loc["A", ["mining", "magnet"]].tolist() == pytest.approx([0.7, 0.3])
    assert ex.loc["B", ["mining", "magnet"]].tolist() == pytest.approx([0.4, 0.6])
    assert ex.loc["C", ["mining", "magnet"]].tolist() == pytest.approx([0.5, 0.5])
    assert ex.loc["D", ["separation_refining", "metal_alloy", "magnet"]].tolist() == (
        pytest.approx([1 / 3] * 3)
    )
    assert ex.loc["E"].to_dict() == pytest.approx(
        {**dict.fromkeys(ex.columns, 0.0), "recycling": 1.0}
    )
    assert np.allclose(ex.sum(axis=1), 1.0)
    # shares written in the text count when the frame has no share columns
    text_only = pd.DataFrame({"stages": ["mining:0.7;magnet"]}, index=["A"])
    assert stage_exposure(text_only).loc["A", ["mining", "magnet"]].tolist() == pytest.approx(
        [0.7, 0.3]
    )
    # primary mode: the largest known share, else the most downstream listed stage
    prim = stage_exposure(f, "primary")
    assert prim.idxmax(axis=1).to_dict() == {
        "A": "mining", "B": "magnet", "C": "magnet", "D": "magnet", "E": "recycling",
    }  # fmt: skip


def test_shares_above_one_are_an_error() -> None:
    f = _frame({"A": ("mining;magnet", {"mining": 0.7, "magnet": 0.6})})
    with pytest.raises(ValueError, match=r"sum to 1\.3"):
        stage_exposure(f)
