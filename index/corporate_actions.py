"""Corporate actions between reviews: the table of events and the methodology's written rules.

``data/corporate_actions.csv`` lists one event a row (real events carry the source that was read;
events generated for the SYNTHETIC demo market say so in ``synthetic``, have ``source_url``
``generated`` and apply only to it):

``action_id``, ``ticker``, ``type``, ``date``, ``ratio``, ``amount``, ``currency``,
``announced``, ``description``, ``source_title``, ``source_url``, ``source_date``, ``synthetic``.

Types and what ``date`` means (the rules that apply them are in ``CorporateActionRules``):

- ``split``: ``ratio`` new shares per old share (2 = 2-for-1; 0.25 = a 1:4 reverse split),
  effective at the open of ``date`` (the ex-date). Index shares are multiplied by ``ratio`` and
  the price divided by it: no level jump, the divisor is unchanged.
- ``cash_dividend``: ``amount`` per share in ``currency`` on ex-date ``date``. Used when the
  market data has no dividend for that ticker that day (the market's record comes first).
- ``special_dividend``: ``amount`` per share on ex-date ``date``; by default the price drop is
  offset by a divisor change (price return does not fall), total return reinvests it gross,
  net total return net of withholding tax.
- ``takeover_cash``: the company leaves the index at the close of ``date`` at the offer
  ``amount`` per share (the cash paid on implementation); the proceeds are reinvested.
- ``delisting``: the company leaves the index at the close of ``date`` at its last traded price
  (or zero under ``delisting_price = "zero"``); the proceeds are reinvested.

A long suspension needs no row: a held name without a price for more than
``suspension_max_days`` business days leaves the index at its last price (or zero).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from exchina.core.errors import InputError
from exchina.core.paths import data_file

REMOVALS = ("takeover_cash", "delisting")
ACTION_COLUMNS = [
    "action_id",
    "ticker",
    "type",
    "date",
    "ratio",
    "amount",
    "currency",
    "announced",
    "description",
    "source_title",
    "source_url",
    "source_date",
    "synthetic",
]


class CorporateActionRules(BaseModel):
    """How the calculation treats corporate actions and dividends (``[calculation]`` in a
    methodology TOML). Defaults follow MarketVector's published practice: a deleted company's
    proceeds go pro rata to the rest, replaced only when the count falls below a minimum."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    removal_proceeds: Literal["pro_rata", "replacement"] = Field(
        default="pro_rata",
        description="a removed company's proceeds: reinvested pro rata in the remaining names, or "
        "in a replacement (the largest eligible non-member at the last review) when the count "
        "falls below min_constituents",
    )
    min_constituents: int = Field(
        default=0, ge=0, description="replace a removed company only when fewer names would remain"
    )
    delisting_price: Literal["last", "zero"] = "last"
    suspension_max_days: int | None = Field(
        default=20, ge=1, description="business days without a price before a held name is removed"
    )
    suspension_price: Literal["last", "zero"] = "last"
    special_dividend: Literal["price_adjust", "cash"] = Field(
        default="price_adjust",
        description="price_adjust: the divisor offsets the price drop (price return unchanged); "
        "cash: treated as an ordinary dividend",
    )
    withholding: dict[str, float] = Field(
        default_factory=dict,
        description="country (ISO alpha-2) -> withholding rate 0-1, over the shipped table",
    )
    announcement_business_days: int | None = Field(
        default=None,
        ge=0,
        description="sessions between the announcement and the effective date (default: the "
        "selection cut-off's, schedule.cutoff_business_days)",
    )

    @field_validator("withholding")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        for country, rate in v.items():
            if len(country) != 2 or not country.isupper():
                raise ValueError(f"withholding.{country}: expected an ISO alpha-2 code like 'AU'")
            if not 0 <= rate <= 1:
                raise ValueError(f"withholding.{country}: a rate in [0, 1], got {rate}")
        return v


class ActionRow(BaseModel):
    """One row of ``corporate_actions.csv``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action_id: str = Field(min_length=1)
    ticker: str = Field(min_length=1)
    type: Literal["split", "cash_dividend", "special_dividend", "takeover_cash", "delisting"]
    date: dt.date
    ratio: float | None = Field(default=None, gt=0)
    amount: float | None = Field(default=None, ge=0)
    currency: str = ""
    announced: dt.date | None = None
    description: str = ""
    source_title: str = Field(min_length=1)
    source_url: str = Field(min_length=1)
    source_date: dt.date
    synthetic: bool

    @field_validator("ratio", "amount", "announced", mode="before")
    @classmethod
    def _empty(cls, v: object) -> object:
        return None if v == "" else v


def _row_error(path: Path, row: int, exc: ValidationError) -> InputError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    return InputError(f"{err['msg']} (got {err.get('input')!r})", file=path, row=row, field=field)


def load_corporate_actions(path: str | Path | None = None) -> pd.DataFrame:
    """The validated actions table (dates as ``datetime64``), sorted by date and id.

    ``InputError`` names the file, row and field of the first bad value: an unknown type, a
    split without a positive ``ratio``, a dividend or takeover without ``amount`` and
    ``currency``, a duplicate ``action_id``, an announcement after the date.
    """
    p = Path(path) if path is not None else data_file("corporate_actions.csv")
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ACTION_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"missing column(s) {missing}", file=p, row=1)
            rows = []
            for i, raw in enumerate(reader, start=2):
                try:
                    r = ActionRow.model_validate(raw)
                except ValidationError as exc:
                    raise _row_error(p, i, exc) from None
                _check(r, p, i)
                rows.append((i, r))
    except FileNotFoundError:
        raise InputError("file not found", file=p) from None
    seen: dict[str, int] = {}
    for i, r in rows:
        if r.action_id in seen:
            raise InputError(
                f"duplicate action_id {r.action_id!r} (first on row {seen[r.action_id]})",
                file=p,
                row=i,
                field="action_id",
            )
        seen[r.action_id] = i
    frame = pd.DataFrame([r.model_dump() for _, r in rows], columns=ACTION_COLUMNS)
    for c in ("date", "announced", "source_date"):
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[ns]")
    frame["ratio"] = frame["ratio"].astype("float64")
    frame["amount"] = frame["amount"].astype("float64")
    frame["synthetic"] = frame["synthetic"].astype(bool)
    return frame.sort_values(["date", "action_id"], kind="stable").reset_index(drop=True)


def _check(r: ActionRow, path: Path, row: int) -> None:
    if r.type == "split" and r.ratio is None:
        raise InputError("a split needs ratio (new shares per old share)", file=path, row=row,
                         field="ratio")  # fmt: skip
    if r.type in ("cash_dividend", "special_dividend", "takeover_cash"):
        if r.amount is None:
            raise InputError(f"a {r.type} needs amount per share", file=path, row=row,
                             field="amount")  # fmt: skip
        if len(r.currency) != 3 or not r.currency.isupper():
            raise InputError("expected an ISO 4217 currency like 'AUD'", file=path, row=row,
                             field="currency")  # fmt: skip
    if not r.synthetic and not r.source_url.startswith(("http://", "https://")):
        raise InputError("a real event needs the URL of the source it was read in", file=path,
                         row=row, field="source_url")  # fmt: skip
    if r.synthetic and r.source_url != "generated":
        raise InputError("a generated (synthetic) event has source_url 'generated'", file=path,
                         row=row, field="source_url")  # fmt: skip
    if r.announced is not None and r.announced > r.date:
        raise InputError("announced after the action's date", file=path, row=row,
                         field="announced")  # fmt: skip


def actions_for(actions: pd.DataFrame, synthetic: bool) -> pd.DataFrame:
    """The actions that apply to a market: generated ones to the synthetic demo market only,
    real ones to real data only (a real offer price means nothing on an invented price path)."""
    return actions[actions["synthetic"] == bool(synthetic)].reset_index(drop=True)


def split_factors(
    actions: pd.DataFrame, dates: pd.DatetimeIndex, tickers: list[str]
) -> pd.DataFrame:
    """dates x tickers: the product of split ratios with ex-date after each date, the factor that
    turns a split-adjusted price into the price traded that day (``raw = adjusted x factor``)."""
    out = pd.DataFrame(1.0, index=dates, columns=pd.Index(tickers, name="ticker"))
    splits = actions[(actions["type"] == "split") & actions["ticker"].isin(tickers)]
    if splits.empty:  # a table of other actions may have no ratio column
        return out
    for date, ticker, ratio in zip(splits["date"], splits["ticker"], splits["ratio"], strict=True):
        before = dates < pd.Timestamp(date)
        out.loc[before, ticker] = out.loc[before, ticker] * float(ratio)
    return out
