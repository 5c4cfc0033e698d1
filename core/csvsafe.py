"""CSV outputs safe to open in a spreadsheet (the OWASP rule for CSV injection).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run
as a formula by Excel, LibreOffice or Google Sheets; it is written with a leading ``'`` so it
shows as text. Numbers (including negative ones written as text) are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _NUMBER.match(value):
        return "'" + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and text index, column names) are neutralised."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(neutralise_cell, na_action="ignore").astype(out[col].dtype)
    if not isinstance(out.index, pd.MultiIndex) and (
        out.index.dtype == object or isinstance(out.index.dtype, pd.StringDtype)
    ):
        out.index = out.index.map(neutralise_cell)
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def to_csv_safe(frame: pd.DataFrame, path: str | Path, **kwargs: Any) -> None:
    """``DataFrame.to_csv`` of the neutralised frame to ``path``."""
    neutralise(frame).to_csv(path, **kwargs)


def csv_text(frame: pd.DataFrame, **kwargs: Any) -> str:
    """The CSV text of the neutralised frame."""
    return neutralise(frame).to_csv(**kwargs)
