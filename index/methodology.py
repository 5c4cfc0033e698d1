"""A whole index in one TOML file, validated on load with errors that name the key.

TOML has no null: ``key = "none"`` unsets an optional field (``max_china_score = "none"``: no
China-score screen). Sections: top-level identity (name, base date and level), ``[universe]`` (see
``exchina.universe.rules``), ``[weighting]``, ``[constraints]``, ``[schedule]``, ``[costs]``,
``[benchmark]`` and ``[calculation]`` (``exchina.index.corporate_actions``). Unknown keys and bad values are errors naming the dotted key path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exchina.core.errors import InputError
from exchina.core.paths import data_dir
from exchina.core.tomlfile import read_toml
from exchina.index.corporate_actions import CorporateActionRules
from exchina.universe.rules import STAGES, UniverseRules

Scheme = Literal[
    "capped_mcap", "equal", "min_variance", "max_diversification", "risk_parity", "tracking"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Weighting(_Strict):
    scheme: Scheme = "capped_mcap"
    distance: Literal["relative", "absolute"] = Field(
        default="relative",
        description="capped_mcap / equal: minimise sum((w - basis)^2 / basis) (relative: excess "
        "is redistributed pro rata, as iterative capping does) or sum((w - basis)^2) (absolute)",
    )
    lookback_days: int = Field(default=252, ge=20, description="return history for risk models")
    n_factors: int = Field(
        default=5, ge=1, description="principal components in the factor risk model"
    )
    parent: str | None = Field(
        default=None, description="parent methodology file for scheme = tracking"
    )
    china_budget: float | None = Field(
        default=None, ge=0, le=100, description="tracking: max weighted China score"
    )

    @model_validator(mode="after")
    def _tracking_has_parent(self) -> Weighting:
        if self.scheme == "tracking" and not self.parent:
            raise ValueError("scheme 'tracking' needs weighting.parent (a methodology file)")
        return self


RelaxRule = Literal[
    "rule_buffer", "liquidity", "group_bounds", "china_budget", "turnover", "max_weight"
]


class Relax(_Strict):
    """One rule family a methodology lets give way when its rules cannot all hold, and by how
    much at most (units in ``exchina.index.relaxation.RELAXABLE``)."""

    rule: RelaxRule
    limit: float = Field(gt=0, description="the most this family may be relaxed")


class Constraints(_Strict):
    max_weight: float = Field(default=0.10, gt=0, le=1)
    min_weight: float = Field(default=0.0, ge=0, lt=1, description="floor for every held name")
    ucits: bool = Field(default=False, description="UCITS 5/10/40")
    ric: bool = Field(default=False, description="US RIC 25/5/50")
    rule_buffer: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="UCITS/RIC are enforced on buffered targets: thresholds x this "
        "(0.9 gives 4.5/9/36 for UCITS and 4.5/22.5/45 for RIC)",
    )
    relax: list[Relax] = Field(
        default_factory=list,
        description="when the rules cannot all hold: empty = error (exit 3, the conflict named); "
        "else the rule families that may give way, in order, each with a limit; the solve "
        "relaxes as little as possible in that order and reports every relaxation",
    )
    min_constituents: int | None = Field(
        default=None,
        ge=1,
        description="when fewer names pass the screens, the largest names that failed only the "
        "size, liquidity or history screens are added (top-up), largest float market cap first",
    )
    stage_weighting: Literal["revenue_share", "primary"] = Field(
        default="revenue_share",
        description="how a company's weight counts toward stage bounds: split over its stages by "
        "revenue share (unknown shares share the remainder equally) or all in its primary stage",
    )
    max_china_score_avg: float | None = Field(default=None, ge=0, le=100)
    stage_bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="stage -> [lower, upper]; 'metal_alloy+magnet' bounds the sum of stages",
    )
    country_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    commodity_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    aum_usd: float | None = Field(
        default=None, gt=0, description="fund size for the liquidity constraint"
    )
    liquidity_k: float | None = Field(default=None, gt=0, description="weight x AUM <= k x ADTV")
    max_turnover: float | None = Field(
        default=None, gt=0, le=2, description="one-way turnover limit"
    )
    min_names: int | None = Field(default=None, ge=1)
    max_names: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "small_universe" in data:
            raise ValueError(
                "small_universe: removed (it dropped rules wholesale); list the rules that may "
                "give way, each with a limit, under [[constraints.relax]] (rule, limit), and/or "
                "set min_constituents for a top-up"
            )
        return data

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Constraints:
        for table in ("stage_bounds", "country_bounds", "commodity_bounds"):
            for key, (lo, hi) in getattr(self, table).items():
                if not (0 <= lo <= hi <= 1):
                    raise ValueError(
                        f"{table}.{key}: need 0 <= lower <= upper <= 1, got [{lo}, {hi}]"
                    )
        for key in self.stage_bounds:
            bad = [s for s in key.split("+") if s not in STAGES]
            if bad:
                raise ValueError(
                    f"stage_bounds.{key}: unknown stage {bad[0]!r}; known: {list(STAGES)} "
                    "(join stages with '+' to bound their sum)"
                )
        for key in self.country_bounds:
            if len(key) != 2 or not key.isupper():
                raise ValueError(f"country_bounds.{key}: expected an ISO alpha-2 code like 'AU'")
        if (self.aum_usd is None) != (self.liquidity_k is None):
            raise ValueError("aum_usd: give it together with liquidity_k (liquidity capacity)")
        if self.min_names and self.max_names and self.min_names > self.max_names:
            raise ValueError(f"min_names: {self.min_names} > max_names {self.max_names}")
        rules = [r.rule for r in self.relax]
        if len(set(rules)) != len(rules):
            raise ValueError(f"relax: a rule family is listed twice in {rules}")
        if self.min_weight > self.max_weight:
            raise ValueError(f"min_weight: {self.min_weight} > max_weight {self.max_weight}")
        return self


class Schedule(_Strict):
    frequency: Literal["quarterly", "semiannual"] = "quarterly"
    months: list[int] | None = Field(default=None, description="default: 3,6,9,12 or 6,12")
    effective: Literal["third_friday"] = "third_friday"
    cutoff_business_days: int = Field(
        default=5, ge=0, description="selection data cut-off before effective"
    )
    max_price_age_days: int = Field(
        default=5,
        ge=0,
        description="latest prices more than this many business days before the cut-off are stale",
    )
    calendar: str = Field(
        default="XNYS",
        description="exchange calendar (exchange_calendars code) whose sessions define trading "
        "days: an effective date that is not a session moves to the previous session",
    )

    @model_validator(mode="after")
    def _months_valid(self) -> Schedule:
        if self.months is not None:
            if not self.months or any(not 1 <= m <= 12 for m in self.months):
                raise ValueError(f"months: expected month numbers 1-12, got {self.months}")
            if len(set(self.months)) != len(self.months):
                raise ValueError(f"months: repeated month in {self.months}")
            expected = 4 if self.frequency == "quarterly" else 2
            if len(self.months) != expected:
                raise ValueError(
                    f"months: {self.frequency} needs {expected} months, got {self.months}"
                )
        return self

    def resolved_months(self) -> list[int]:
        """The review months: ``months`` or the frequency's default (3,6,9,12 or 6,12)."""
        if self.months is not None:
            return sorted(self.months)
        return [3, 6, 9, 12] if self.frequency == "quarterly" else [6, 12]


class Costs(_Strict):
    spread_bps: float = Field(
        default=20.0, ge=0, description="half-spread plus commission per unit traded"
    )
    impact_bps_at_full_adtv: float = Field(
        default=100.0,
        ge=0,
        description="impact in bps when a trade is 100% of ADTV (square-root law)",
    )
    aum_usd: float = Field(
        default=100e6, gt=0, description="fund size used to size trades against ADTV"
    )


class Benchmark(_Strict):
    ticker: str | None = Field(default=None, description="a ticker in the store, e.g. REMX")
    methodology: str | None = Field(
        default=None, description="another shipped methodology to run beside"
    )


class Methodology(_Strict):
    name: str
    description: str = ""
    version: str = "1"
    base_date: dt.date = dt.date(2012, 12, 31)
    base_level: float = Field(default=1000.0, gt=0)
    currency: Literal["USD"] = "USD"
    universe: UniverseRules = Field(default_factory=UniverseRules)
    weighting: Weighting = Field(default_factory=Weighting)
    constraints: Constraints = Field(default_factory=Constraints)
    schedule: Schedule = Field(default_factory=Schedule)
    costs: Costs = Field(default_factory=Costs)
    benchmark: Benchmark = Field(default_factory=Benchmark)
    calculation: CorporateActionRules = Field(
        default_factory=CorporateActionRules,
        description="daily calculation: corporate-action rules, withholding tax, announcements",
    )

    @model_validator(mode="after")
    def _announce_after_cutoff(self) -> Methodology:
        lag, cut = self.calculation.announcement_business_days, self.schedule.cutoff_business_days
        if lag is not None and lag > cut:
            raise ValueError(
                f"calculation.announcement_business_days: {lag} sessions before the effective "
                f"date is before the selection cut-off ({cut} sessions); at most {cut}"
            )
        return self

    def digest(self) -> str:
        """SHA-256 of the resolved methodology (defaults included): the methodology hash."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def announcement_lag(self) -> int:
        """Sessions between the announcement and the effective date."""
        lag = self.calculation.announcement_business_days
        return self.schedule.cutoff_business_days if lag is None else lag


def _unset_nones(model: type[BaseModel], data: Any) -> Any:
    """TOML has no null: the string "none" unsets an optional field (one whose type allows
    None), e.g. ``max_china_score = "none"`` for no China screen."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key, value in data.items():
        info = model.model_fields.get(key)
        if info is None:
            continue
        ann = info.annotation
        args = typing.get_args(ann)
        if isinstance(value, str) and value.lower() == "none" and type(None) in args:
            out[key] = None
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            out[key] = _unset_nones(ann, value)
    return out


_KEY_IN_MESSAGE = re.compile(r"^(?:Value error, )?([A-Za-z_][\w.]*): (.*)$", re.S)


def parse_methodology(data: dict, *, file: str | Path = "<methodology>") -> Methodology:
    """Validate a parsed TOML mapping; errors name the file and dotted key.

    A cross-field check (bounds out of order, unknown stage, ...) names its key in its message;
    that key is appended to the location so ``field`` is the full dotted path.
    """
    try:
        return Methodology.model_validate(_unset_nones(Methodology, data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        msg = str(err["msg"])
        match = _KEY_IN_MESSAGE.match(msg)
        if err["type"] == "value_error" and match:
            loc.append(match.group(1))
            msg = match.group(2)
            raise InputError(msg, file=file, field=".".join(loc)) from None
        key = ".".join(loc) or "<root>"
        raise InputError(f"{msg} (got {err.get('input')!r})", file=file, field=key) from None


MAX_PARENT_DEPTH = 8


def load_methodology(path: str | Path) -> Methodology:
    """Read and validate a methodology TOML file; a tracking methodology's ``parent`` chain must
    exist and must not loop (checked here, so a bad chain fails at once, naming the files)."""
    p = Path(path)
    meth = parse_methodology(read_toml(p, "methodology"), file=p)
    _check_parents(meth, p)
    return meth


def _check_parents(meth: Methodology, path: Path) -> None:
    chain = [path.resolve()]
    while meth.weighting.scheme == "tracking" and meth.weighting.parent:
        parent = resolve_methodology(meth.weighting.parent, relative_to=path)
        if parent.resolve() in chain or len(chain) > MAX_PARENT_DEPTH:
            names = " -> ".join(str(c) for c in [*chain, parent.resolve()])
            raise InputError(
                f"the weighting.parent chain loops or is deeper than {MAX_PARENT_DEPTH}: {names}",
                file=chain[0],
                field="weighting.parent",
            )
        chain.append(parent.resolve())
        path = parent
        meth = parse_methodology(read_toml(parent, "methodology"), file=parent)


def shipped_methodologies() -> dict[str, Path]:
    """Name -> path of every methodology shipped in ``data/methodologies``."""
    folder = data_dir() / "methodologies"
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def resolve_methodology(ref: str | Path, relative_to: str | Path | None = None) -> Path:
    """A methodology reference as a path, never a silent fallback: a bare name (no folder, no
    ``.toml``) is a file of that name if one exists, else the shipped methodology of that name
    (``remx_like``); anything else is a path, relative to ``relative_to``'s folder (when given)
    or the working directory, and must exist."""
    text = str(ref)
    shipped = shipped_methodologies()
    base = Path(relative_to).parent if relative_to is not None else Path()
    path = base / text
    for candidate in (path, Path(text)):
        if candidate.is_file():
            return candidate
    bare = "/" not in text and "\\" not in text and not text.endswith(".toml")
    if bare and text in shipped:
        return shipped[text]
    if bare:
        raise InputError(
            f"methodology {text!r} not found: not a file and not a shipped name "
            f"({', '.join(sorted(shipped))})",
            file=relative_to,
        )
    raise InputError(
        f"methodology file {str(path)!r} not found (only a bare name such as 'flagship' "
        "selects a shipped methodology)",
        file=relative_to,
    )
