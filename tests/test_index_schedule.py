"""Review calendar: third Fridays, holidays moved to the previous session, cut-offs."""

from __future__ import annotations

import pandas as pd
import pytest

from exchina.index import is_rebalance_date, parse_methodology, rebalance_dates, review_date
from exchina.index.schedule import third_friday


def _m(**schedule) -> object:
    return parse_methodology({"name": "t", "schedule": schedule})


@pytest.mark.parametrize("frequency", ["quarterly", "semiannual"])
def test_2025_12_19_is_an_effective_date(frequency: str) -> None:
    m = _m(frequency=frequency)
    dates = rebalance_dates(m, "2025-01-01", "2025-12-31")
    assert pd.Timestamp("2025-12-19") in set(dates["effective"])
    assert is_rebalance_date(m, "2025-12-19")
    assert not is_rebalance_date(m, "2025-12-18")
    assert len(dates) == (4 if frequency == "quarterly" else 2)


def test_third_friday_known_values() -> None:
    assert third_friday(2025, 3) == pd.Timestamp("2025-03-21")
    assert third_friday(2026, 5) == pd.Timestamp("2026-05-15")  # May 1st 2026 is a Friday


def test_holiday_moves_to_previous_session_and_cutoff_counts_sessions() -> None:
    m = _m(frequency="semiannual", cutoff_business_days=5)
    dates = rebalance_dates(m, "2026-01-01", "2026-12-31")
    # Juneteenth, Friday 2026-06-19, is an NYSE holiday: the rebalance moves to Thursday
    assert list(dates["effective"]) == [pd.Timestamp("2026-06-18"), pd.Timestamp("2026-12-18")]
    # five sessions before 2026-06-18: 17, 16, 15, 12, 11
    assert dates["review"].iloc[0] == pd.Timestamp("2026-06-11")
    assert review_date(m, "2026-06-18") == pd.Timestamp("2026-06-11")


def test_custom_months() -> None:
    m = _m(frequency="semiannual", months=[2, 8])
    eff = rebalance_dates(m, "2024-01-01", "2024-12-31")["effective"]
    assert list(eff.dt.month) == [2, 8]
