"""Shared helpers of the store tests: a small long price table and a snapshot of a store's files
(to prove a refused write left every byte as it was)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd


def prices(ticker: str, start: str, closes: list[float], currency: str = "USD") -> pd.DataFrame:
    """A long price table: ``closes`` on consecutive business days from ``start``."""
    dates = pd.bdate_range(start, periods=len(closes))
    return pd.DataFrame(
        {"date": dates, "ticker": ticker, "close": closes, "volume": 1000.0, "currency": currency}
    )


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash (the lock file aside)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }
