"""Dividend withholding tax by the company's country of domicile, for net total return levels.

``data/withholding_tax.csv`` (``country``, ``rate`` 0-1, ``source_title``, ``source_url``,
``source_date``) holds the rates MarketVector publishes for its net total return indexes; a
methodology overrides any of them (``[calculation] withholding = {AU = 0.0}``). A constituent
whose country is in neither is an error naming the country: a net series never guesses a rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from exchina.core.errors import InputError, MissingDataError
from exchina.core.paths import data_file


def load_withholding(path: str | Path | None = None) -> pd.Series:
    """country -> rate (0-1), validated; ``InputError`` names the file, row and field."""
    p = Path(path) if path is not None else data_file("withholding_tax.csv")
    try:
        frame = pd.read_csv(p, dtype={"country": "string"}, keep_default_na=False)
    except FileNotFoundError:
        raise InputError("file not found", file=p) from None
    for col in ("country", "rate", "source_title", "source_url", "source_date"):
        if col not in frame.columns:
            raise InputError(f"missing column {col!r}", file=p, row=1)
    rates = pd.to_numeric(frame["rate"], errors="coerce")
    for i, (country, rate, url) in enumerate(
        zip(frame["country"], rates, frame["source_url"], strict=True), start=2
    ):
        if len(str(country)) != 2 or not str(country).isupper():
            raise InputError("expected an ISO alpha-2 code like 'AU'", file=p, row=i,
                             field="country")  # fmt: skip
        if not 0 <= rate <= 1:
            raise InputError("expected a rate between 0 and 1", file=p, row=i, field="rate")
        if not str(url).strip():
            raise InputError("every rate needs its source", file=p, row=i, field="source_url")
    dup = frame["country"].duplicated()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0]) + 2
        raise InputError("duplicate country", file=p, row=i, field="country")
    return pd.Series(rates.to_numpy(float), index=frame["country"].astype(str), name="rate")


def withholding_rates(
    countries: pd.Series,
    table: pd.Series | None = None,
    overrides: Mapping[str, float] | None = None,
) -> pd.Series:
    """ticker -> withholding rate from ``countries`` (ticker -> ISO alpha-2 domicile), the
    shipped ``table`` and a methodology's ``overrides`` (which win)."""
    rates = (table if table is not None else load_withholding()).to_dict()
    rates |= dict(overrides or {})
    unknown = sorted({str(c) for c in countries.dropna()} - set(rates))
    if unknown:
        who = sorted(str(t) for t, c in countries.items() if c in unknown)
        raise MissingDataError(
            f"no withholding tax rate for countr{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(unknown)} (constituents {who[:5]}); add it to data/withholding_tax.csv "
            "with its source or set [calculation] withholding in the methodology"
        )
    return countries.map(rates).astype("float64").rename("withholding")
