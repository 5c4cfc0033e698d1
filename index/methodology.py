"""A whole index in one TOML file, validated on load with errors that name the key.

Sections: top-level identity (name, base date and level), ``[universe]`` (see
``exchina.universe.rules``), ``[weighting]``, ``[constraints]``, ``[schedule]``, ``[costs]`` and
``[benchmark]``. Unknown keys and bad values are errors naming the dotted key path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exchina.core.errors import InputError
from exchina.universe.rules import UniverseRules


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weighting(_Strict):
    scheme: Literal[
        "capped_mcap", "equal", "min_variance", "max_diversification", "risk_parity", "tracking"
    ] = "capped_mcap"
    lookback_days: int = Field(252, ge=20, description="return history for risk models")
    n_factors: int = Field(5, ge=1, description="principal components in the factor risk model")
    parent: str | None = Field(None, description="parent methodology file for scheme = tracking")
    china_budget: float | None = Field(
        None, ge=0, le=100, description="tracking: max weighted China score"
    )


class Constraints(_Strict):
    max_weight: float = Field(0.10, gt=0, le=1)
    min_weight: float = Field(0.0, ge=0, lt=1, description="floor for every held name")
    ucits: bool = Field(False, description="UCITS 5/10/40")
    ric: bool = Field(False, description="US RIC 25/5/50")
    max_china_score_avg: float | None = Field(None, ge=0, le=100)
    stage_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    country_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    commodity_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    aum_usd: float | None = Field(None, gt=0, description="fund size for the liquidity constraint")
    liquidity_k: float | None = Field(None, gt=0, description="weight x AUM <= k x ADTV")
    max_turnover: float | None = Field(None, gt=0, le=2, description="one-way turnover limit")
    min_names: int | None = Field(None, ge=1)
    max_names: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Constraints:
        for table in ("stage_bounds", "country_bounds", "commodity_bounds"):
            for key, (lo, hi) in getattr(self, table).items():
                if not (0 <= lo <= hi <= 1):
                    raise ValueError(
                        f"{table}.{key}: need 0 <= lower <= upper <= 1, got [{lo}, {hi}]"
                    )
        if self.min_names and self.max_names and self.min_names > self.max_names:
            raise ValueError(f"min_names {self.min_names} > max_names {self.max_names}")
        if self.min_weight > self.max_weight:
            raise ValueError(f"min_weight {self.min_weight} > max_weight {self.max_weight}")
        return self


class Schedule(_Strict):
    frequency: Literal["quarterly", "semiannual"] = "quarterly"
    months: list[int] | None = Field(None, description="default: 3,6,9,12 or 6,12")
    effective: Literal["third_friday"] = "third_friday"
    cutoff_business_days: int = Field(
        5, ge=0, description="selection data cut-off before effective"
    )
    max_price_age_days: int = Field(5, ge=0, description="older latest prices are stale")


class Costs(_Strict):
    spread_bps: float = Field(20.0, ge=0, description="half-spread plus commission per unit traded")
    impact_bps_at_full_adtv: float = Field(
        100.0, ge=0, description="impact in bps when a trade is 100% of ADTV (square-root law)"
    )
    aum_usd: float = Field(100e6, gt=0, description="fund size used to size trades against ADTV")


class Benchmark(_Strict):
    ticker: str | None = Field(None, description="a ticker in the store, e.g. REMX")
    methodology: str | None = Field(None, description="another shipped methodology to run beside")


class Methodology(_Strict):
    name: str
    description: str = ""
    version: str = "1"
    base_date: dt.date = dt.date(2012, 12, 31)
    base_level: float = Field(1000.0, gt=0)
    currency: Literal["USD"] = "USD"
    universe: UniverseRules = Field(default_factory=UniverseRules)
    weighting: Weighting = Field(default_factory=Weighting)
    constraints: Constraints = Field(default_factory=Constraints)
    schedule: Schedule = Field(default_factory=Schedule)
    costs: Costs = Field(default_factory=Costs)
    benchmark: Benchmark = Field(default_factory=Benchmark)

    def digest(self) -> str:
        """SHA-256 of the resolved methodology (defaults included): the methodology hash."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def parse_methodology(data: dict, *, file: str | Path = "<methodology>") -> Methodology:
    """Validate a parsed TOML mapping; errors name the file and dotted key."""
    try:
        return Methodology.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        raise InputError(f"{err['msg']} (got {err.get('input')!r})", file=file, field=key) from None


def load_methodology(path: str | Path) -> Methodology:
    """Read and validate a methodology TOML file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("methodology file not found", file=p) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=p) from None
    return parse_methodology(data, file=p)
