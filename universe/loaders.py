"""Load and validate the shipped company master, exposure facts and share counts.

Each row is checked with a pydantic model and the files against each other; the first problem
raises ``InputError`` naming the file, the row (header = row 1, first data row = row 2), the
field and what was expected. Dates come back as ``datetime64`` columns (NaT = empty).
``verified_on`` is optional in the header (older files load; empty = never re-verified).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from exchina.core.errors import InputError
from exchina.core.paths import data_file
from exchina.universe.rules import BACKING_FACTOR, FACTORS, GRADED_FACTORS, STAGES
from exchina.universe.stages import parse_stages

COMMODITIES: tuple[str, ...] = (
    "rare_earths",
    "lithium",
    "graphite",
    "antimony",
    "tungsten",
    "gallium",
    "germanium",
    "cobalt",
    "nickel",
    "titanium",
    "zircon",
    "niobium",
    "tantalum",
    "tin",
    "vanadium",
    "uranium",
    "copper",
    "molybdenum",
    "scandium",
    "magnets",
)
PCT_FACTORS: tuple[str, ...] = ("chinese_state_holder_pct", "chinese_ownership_pct")
FLAG_VALUE_FACTORS: tuple[str, ...] = (
    "domicile_china",
    "primary_listing_china",
    "chinese_largest_holder",
    "pricing_china_benchmark",
)
SHARE_FACTORS: tuple[str, ...] = tuple(
    f for f in GRADED_FACTORS if f not in PCT_FACTORS and f not in FLAG_VALUE_FACTORS
)

COMPANY_COLUMNS = [
    "company_id",
    "name",
    "ticker",
    "exchange",
    "country",
    "currency",
    "stages",
    "commodities",
    "status",
    "size",
    "listed_from",
    "delisted_on",
    "notes",
]
# the columns every sourced fact has after its own (see _SourcedFact)
_SOURCED_COLUMNS = [
    "effective_from",
    "effective_to",
    "known_from",
    "description",
    "source_title",
    "source_url",
    "source_date",
    "evidence_grade",
    "verified_on",
]
FACT_COLUMNS = ["fact_id", "company_id", "factor", "value", "counterparty", *_SOURCED_COLUMNS]
STAGE_FACT_COLUMNS = ["fact_id", "company_id", "stage", "share", "basis", *_SOURCED_COLUMNS]
OPTIONAL_COLUMNS = frozenset({"verified_on"})
SHARE_COLUMNS = [
    "company_id",
    "effective_from",
    "shares_outstanding",
    "free_float",
    "source_title",
    "source_url",
    "source_date",
]
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: Any) -> dt.date | None:
    """'' -> None; 'YYYY-MM-DD' -> date; anything else is a ValueError saying what was expected."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if not _DATE_RE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD, got '{text}'") from None


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, allow_inf_nan=False)


class CompanyRow(_Row):
    """One row of ``companies.csv``."""

    company_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    name: str = Field(min_length=1)
    ticker: str = Field(min_length=1)
    exchange: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    stages: str
    commodities: str
    status: Literal["producer", "developer", "explorer", "delisted"]
    size: Literal["large", "mid", "small", "micro"]
    listed_from: dt.date | None = None
    delisted_on: dt.date | None = None
    notes: str = ""

    _dates = field_validator("listed_from", "delisted_on", mode="before")(_date)

    @field_validator("stages")
    @classmethod
    def _stages(cls, v: str) -> str:
        parse_stages(v)
        return ";".join(p.strip() for p in v.split(";") if p.strip())

    @field_validator("commodities")
    @classmethod
    def _commodities(cls, v: str) -> str:
        items = [p.strip() for p in v.split(";") if p.strip()]
        if not items:
            raise ValueError(f"expected at least one commodity from {list(COMMODITIES)}")
        bad = [c for c in items if c not in COMMODITIES]
        if bad:
            raise ValueError(f"unknown commodity {bad[0]!r}; expected one of {list(COMMODITIES)}")
        return ";".join(items)


class _SourcedFact(_Row):
    """The fields and date rules an exposure fact and a stage fact share: who, when it held,
    when it was known, and the source it rests on."""

    fact_id: str = Field(min_length=1)
    company_id: str = Field(min_length=1)
    effective_from: dt.date
    effective_to: dt.date | None = None
    known_from: dt.date | None = None
    description: str = ""
    source_title: str = Field(min_length=1)
    source_url: str = Field(min_length=1)
    source_date: dt.date
    evidence_grade: Literal["A", "B", "C"]
    verified_on: dt.date | None = None

    _dates = field_validator(
        "effective_from", "effective_to", "known_from", "source_date", "verified_on", mode="before"
    )(_date)

    def _check_dates(self) -> None:
        """Cross-field date checks (run after each row's own checks pass)."""
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise _FieldError(
                "effective_to",
                f"must be after effective_from {self.effective_from}, got {self.effective_to}",
            )
        if self.known_from is not None and self.known_from < self.source_date:
            raise _FieldError(
                "known_from",
                f"a fact cannot be known before its source is published: source_date "
                f"{self.source_date}, got {self.known_from} (cite an earlier source, or leave "
                "known_from empty)",
            )
        if self.verified_on is not None and self.verified_on < self.source_date:
            raise _FieldError(
                "verified_on",
                f"a check against the source cannot predate it: source_date {self.source_date}, "
                f"got {self.verified_on}",
            )


class FactRow(_SourcedFact):
    """One row of ``exposure_facts.csv``; the value's range depends on the factor."""

    factor: str
    value: float
    counterparty: str = ""

    @model_validator(mode="after")
    def _dated(self) -> FactRow:
        self._check_dates()
        return self

    @field_validator("factor")
    @classmethod
    def _factor(cls, v: str) -> str:
        if v not in FACTORS:
            raise ValueError(f"unknown factor '{v}'; expected one of {list(FACTORS)}")
        return v

    @model_validator(mode="after")
    def _value_in_range(self) -> FactRow:
        f, v = self.factor, self.value
        if f in PCT_FACTORS and not 0 <= v <= 100:
            raise _FieldError("value", f"{f} is a percent in [0, 100], got {v:g}")
        if f in FLAG_VALUE_FACTORS and v not in (0.0, 1.0):
            raise _FieldError("value", f"{f} is a flag, 1 or 0, got {v:g}")
        if f in SHARE_FACTORS and not 0 <= v <= 1:
            raise _FieldError("value", f"{f} is a share in [0, 1], got {v:g}")
        if f == BACKING_FACTOR:
            if v < 0:
                raise _FieldError("value", f"{f} is USD millions >= 0, got {v:g}")
            if not self.counterparty:
                raise _FieldError("counterparty", f"{f} needs the backer, e.g. 'US DoD'")
        return self


class StageFactRow(_SourcedFact):
    """One row of ``stage_facts.csv``: a share of revenue or capacity in a stage, an explicit
    primary stage (``basis`` primary, ``share`` empty, the reason in ``description``), or the
    company's entry into the chain (``basis`` entry: its first activity in ``stage``; before it
    the company is outside the chain)."""

    stage: str
    share: float | None = None
    basis: Literal["revenue", "capacity", "primary", "entry"]

    @field_validator("share", mode="before")
    @classmethod
    def _empty_share(cls, v: Any) -> Any:
        return None if v == "" else v

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: str) -> str:
        if v not in STAGES:
            raise ValueError(f"unknown stage '{v}'; expected one of {list(STAGES)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> StageFactRow:
        if self.basis in ("primary", "entry"):
            if self.share is not None:
                raise _FieldError("share", f"leave share empty when basis is {self.basis}")
            if not self.description:
                raise _FieldError("description", f"basis {self.basis} needs a one-line reason")
        elif self.share is None or not 0 <= self.share <= 1:
            raise _FieldError(
                "share", f"basis {self.basis} needs a share in [0, 1], got {self.share}"
            )
        self._check_dates()
        return self


class ShareRow(_Row):
    """One row of ``shares.csv``."""

    company_id: str = Field(min_length=1)
    effective_from: dt.date
    shares_outstanding: float = Field(gt=0)
    free_float: float | None = Field(default=None, gt=0, le=1)
    source_title: str = Field(min_length=1)
    source_url: str = ""
    source_date: dt.date

    _dates = field_validator("effective_from", "source_date", mode="before")(_date)

    @field_validator("free_float", mode="before")
    @classmethod
    def _empty_float(cls, v: Any) -> Any:
        return None if v == "" else v


class _FieldError(ValueError):
    """A cross-field check that knows which field to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _read_rows(path: Path, columns: list[str], required: set[str]) -> list[dict[str, str]]:
    """Rows as dicts of strings, after checking the header and the required, non-empty fields."""
    if not path.is_file():
        raise InputError("file not found", file=path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for col in columns:
            if col not in header and col not in OPTIONAL_COLUMNS:
                raise InputError(
                    f"missing column; expected columns {columns}", file=path, row=1, field=col
                )
        rows = []
        for i, raw in enumerate(reader, start=2):
            if None in raw:
                raise InputError(
                    f"{len(header) + len(raw[None])} values for {len(header)} columns",
                    file=path,
                    row=i,
                )
            row = {k: (v or "").strip() for k, v in raw.items()}
            for col in OPTIONAL_COLUMNS.difference(header):
                row[col] = ""
            for col in columns:
                if col in required and row[col] == "":
                    raise InputError("missing value (required)", file=path, row=i, field=col)
            rows.append(row)
    return rows


def _validate(model: type[_Row], row: dict[str, str], path: Path, i: int) -> _Row:
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldError):
            raise InputError(str(ctx_error), file=path, row=i, field=ctx_error.field) from None
        field = str(err["loc"][0]) if err["loc"] else None
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        if isinstance(got, str) and f"'{got}'" not in msg:
            msg = f"{msg}, got '{got}'"
        raise InputError(msg, file=path, row=i, field=field) from None


def _unique(values: list[str], field: str, path: Path) -> None:
    seen: dict[str, int] = {}
    for i, v in enumerate(values, start=2):
        if v in seen:
            raise InputError(
                f"duplicate '{v}' (first on row {seen[v]})", file=path, row=i, field=field
            )
        seen[v] = i


def _frame(records: list[dict], columns: list[str], date_cols: list[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=columns)
    for col in date_cols:
        df[col] = pd.to_datetime(df[col]).astype("datetime64[ns]")
    return df


def _check_companies(records: list[dict], companies: pd.DataFrame, path: Path) -> None:
    """Every row's ``company_id`` must be in the master; the first stray row is named."""
    known = set(companies["company_id"])
    for i, r in enumerate(records, start=2):
        if r["company_id"] not in known:
            raise InputError(
                f"unknown company_id '{r['company_id']}' (not in companies.csv)",
                file=path,
                row=i,
                field="company_id",
            )


_MEMO: dict[tuple, pd.DataFrame] = {}


def _memo(kind: str, paths: list[Path], build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Validate a file once per content version: keyed by path, mtime and size, so a backtest
    that asks for the master at every rebalance parses it once, and an edited file is re-read.
    Returns a shallow copy (copy-on-write keeps the cached frame unchanged)."""
    if not all(q.is_file() for q in paths):
        return build()
    key = (kind, *((str(q.resolve()), q.stat().st_mtime_ns, q.stat().st_size) for q in paths))
    if key not in _MEMO:
        _MEMO[key] = build()
    return _MEMO[key].copy(deep=False)


def load_companies(path: str | Path | None = None) -> pd.DataFrame:
    """The company master (``data/companies.csv`` by default), validated; one row a company."""
    p = Path(path) if path is not None else data_file("companies.csv")
    return _memo("companies", [p], lambda: _load_companies(p))


def _load_companies(p: Path) -> pd.DataFrame:
    required = {"company_id", "name", "ticker", "exchange", "country", "currency", "stages"}
    required |= {"commodities", "status", "size"}
    rows = _read_rows(p, COMPANY_COLUMNS, required)
    records = [_validate(CompanyRow, r, p, i).model_dump() for i, r in enumerate(rows, start=2)]
    _unique([r["company_id"] for r in records], "company_id", p)
    _unique([r["ticker"] for r in records], "ticker", p)
    for i, r in enumerate(records, start=2):
        if r["listed_from"] and r["delisted_on"] and r["delisted_on"] <= r["listed_from"]:
            raise InputError(
                f"must be after listed_from {r['listed_from']}", file=p, row=i, field="delisted_on"
            )
    return _frame(records, COMPANY_COLUMNS, ["listed_from", "delisted_on"])


def load_facts(
    path: str | Path | None = None, companies: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Exposure facts (``data/exposure_facts.csv`` by default), validated against the master.

    ``companies`` defaults to the ``companies.csv`` beside the facts file (else the shipped one).
    Empty ``known_from`` is filled with ``source_date``: a fact is known once its source is
    public, never earlier (``known_from`` before ``source_date`` is an error).
    """
    p = Path(path) if path is not None else data_file("exposure_facts.csv")
    if companies is None:
        master = _master_path(p)
        return _memo("facts", [p, master], lambda: _load_facts(p, load_companies(master)))
    return _load_facts(p, companies)


def _master_path(p: Path) -> Path:
    sibling = p.parent / "companies.csv"
    return sibling if sibling.is_file() else data_file("companies.csv")


def _load_facts(p: Path, companies: pd.DataFrame) -> pd.DataFrame:
    required = {"fact_id", "company_id", "factor", "value", "effective_from"}
    required |= {"source_title", "source_url", "source_date", "evidence_grade"}
    rows = _read_rows(p, FACT_COLUMNS, required)
    records = [_validate(FactRow, r, p, i).model_dump() for i, r in enumerate(rows, start=2)]
    _unique([r["fact_id"] for r in records], "fact_id", p)
    _check_companies(records, companies, p)
    for r in records:
        if r["known_from"] is None:
            r["known_from"] = r["source_date"]
    dates = ["effective_from", "effective_to", "known_from", "source_date", "verified_on"]
    return _frame(records, FACT_COLUMNS, dates)


def load_stage_facts(
    path: str | Path | None = None, companies: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Dated stage evidence (``data/stage_facts.csv`` by default), validated against the master.

    ``companies`` defaults to the ``companies.csv`` beside the file (else the shipped one). Empty
    ``known_from`` is filled with ``source_date`` (as for exposure facts). A shipped file that does not exist yet gives
    an empty frame (the master's stages then stand alone).
    """
    p = Path(path) if path is not None else data_file("stage_facts.csv")
    if path is None and not p.is_file():
        return _frame([], STAGE_FACT_COLUMNS, _STAGE_DATES)
    if companies is None:
        master = _master_path(p)
        return _memo("stages", [p, master], lambda: _load_stage_facts(p, load_companies(master)))
    return _load_stage_facts(p, companies)


_STAGE_DATES = ["effective_from", "effective_to", "known_from", "source_date", "verified_on"]


def _load_stage_facts(p: Path, companies: pd.DataFrame) -> pd.DataFrame:
    required = {"fact_id", "company_id", "stage", "basis", "effective_from"}
    required |= {"source_title", "source_url", "source_date", "evidence_grade"}
    rows = _read_rows(p, STAGE_FACT_COLUMNS, required)
    records = [_validate(StageFactRow, r, p, i).model_dump() for i, r in enumerate(rows, start=2)]
    _unique([r["fact_id"] for r in records], "fact_id", p)
    _check_companies(records, companies, p)
    totals: dict[tuple, tuple[float, int]] = {}
    for i, r in enumerate(records, start=2):
        if r["known_from"] is None:
            r["known_from"] = r["source_date"]
        if r["share"] is not None:
            key = (r["company_id"], r["basis"], r["effective_from"])
            total = totals.get(key, (0.0, i))[0] + r["share"]
            totals[key] = (total, i)
            if total > 1.0 + 1e-9:
                raise InputError(
                    f"{r['basis']} shares of {r['company_id']} from {r['effective_from']} sum to "
                    f"{total:g}, must be <= 1",
                    file=p,
                    row=i,
                    field="share",
                )
    frame = _frame(records, STAGE_FACT_COLUMNS, _STAGE_DATES)
    return frame.astype({"share": "float64"})


def load_shares(
    path: str | Path | None = None, companies: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Dated share counts and free floats (``data/shares.csv`` by default), validated.

    ``companies`` defaults to the ``companies.csv`` beside the file (else the shipped one).
    """
    p = Path(path) if path is not None else data_file("shares.csv")
    if companies is None:
        master = _master_path(p)
        return _memo("shares", [p, master], lambda: _load_shares(p, load_companies(master)))
    return _load_shares(p, companies)


def _load_shares(p: Path, companies: pd.DataFrame) -> pd.DataFrame:
    required = {"company_id", "effective_from", "shares_outstanding", "source_title", "source_date"}
    rows = _read_rows(p, SHARE_COLUMNS, required)
    records = [_validate(ShareRow, r, p, i).model_dump() for i, r in enumerate(rows, start=2)]
    _unique([f"{r['company_id']} {r['effective_from']}" for r in records], "effective_from", p)
    _check_companies(records, companies, p)
    return _frame(records, SHARE_COLUMNS, ["effective_from", "source_date"])
