"""The universe section of a methodology: eligibility screens and Chinese-exposure rules.

Validated with pydantic; unknown keys are errors. ``exchina.index.methodology.Methodology``
embeds ``UniverseRules`` as its ``[universe]`` table.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Stage = Literal["mining", "separation_refining", "metal_alloy", "magnet", "recycling"]
STAGES: tuple[Stage, ...] = ("mining", "separation_refining", "metal_alloy", "magnet", "recycling")
Status = Literal["producer", "developer", "explorer", "delisted"]

FLAG_FACTORS: tuple[str, ...] = (
    "domicile_china",
    "primary_listing_china",
    "chinese_state_holder_pct",
    "chinese_largest_holder",
)
GRADED_FACTORS: tuple[str, ...] = (
    "chinese_ownership_pct",
    "offtake_revenue_china",
    "processing_dependence_china",
    "feedstock_dependence_china",
    "facilities_china",
    "pricing_china_benchmark",
)
BACKING_FACTOR = "allied_backing"
FACTORS: tuple[str, ...] = (*FLAG_FACTORS, *GRADED_FACTORS, BACKING_FACTOR)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ChinaScoreRules(_Strict):
    """How facts become a 0-100 Chinese-exposure score (documented defaults)."""

    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "chinese_ownership_pct": 0.25,
            "offtake_revenue_china": 0.20,
            "processing_dependence_china": 0.20,
            "feedstock_dependence_china": 0.15,
            "facilities_china": 0.10,
            "pricing_china_benchmark": 0.10,
        },
        description="weight of each graded factor; normalised to sum to 1",
    )
    state_holder_threshold_pct: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="a Chinese state-linked holder at or above this is a hard flag",
    )
    largest_holder_flag: bool = Field(
        default=True, description="a Chinese largest holder is a hard flag"
    )
    ownership_full_scale_pct: float = Field(
        default=20.0,
        gt=0,
        le=100,
        description="Chinese ownership at or above this scores the factor 100%",
    )
    unknown_policy: Literal["penalize", "neutral", "exclude"] = Field(
        default="penalize",
        description="penalize: an unknown factor counts as `unknown_value`; neutral: as zero but "
        "lowers confidence; exclude: a company with unknown factors is ineligible",
    )
    unknown_value: float = Field(default=0.25, ge=0, le=1)
    ended_half_life_years: float = Field(
        default=1.0,
        gt=0,
        description="an ended relationship's contribution halves every this many years",
    )
    reverify_after_months: float | None = Field(
        default=18.0,
        gt=0,
        description="a fact whose last check at t (verified_on when it is on or before t, else "
        "source_date) is older than this counts as stale. None = facts never go stale this way",
    )
    ownership_stale_after_years: float | None = Field(
        default=3.0,
        gt=0,
        description="an open-ended ownership fact (no effective_to) whose source is older than "
        "this at t counts as stale even when re-verified: an old filing is weak evidence of "
        "today's register. None = off",
    )
    stale_discount: float = Field(default=0.5, ge=0, le=1, description="multiplier for stale facts")
    flag_stale_after_years: float | None = Field(
        default=5.0,
        gt=0,
        description="an ownership flag (state holder, largest holder) lapses when its source is "
        "older than this at t; the fact then counts as graded ownership only. None = never lapses",
    )

    @model_validator(mode="after")
    def _known_factors(self) -> ChinaScoreRules:
        unknown = sorted(set(self.weights) - set(GRADED_FACTORS))
        if unknown:
            raise ValueError(
                f"unknown factor(s) in weights: {unknown}; known: {list(GRADED_FACTORS)}"
            )
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return self


class UniverseRules(_Strict):
    """Eligibility screens, with entry thresholds and looser buffers for existing members."""

    stages: list[Stage] = Field(default_factory=lambda: list(STAGES))
    stage_match: Literal["any", "primary"] = Field(
        default="any",
        description="any: some stage of the company is listed; primary: its primary stage is",
    )
    commodities: list[str] = Field(default_factory=list, description="empty = any commodity")
    statuses: list[Status] = Field(default_factory=lambda: ["producer", "developer"])
    exclude_china_flags: bool = Field(default=True, description="hard China flags exclude outright")
    max_china_score: float | None = Field(
        default=40.0, ge=0, le=100, description="None = no China screen"
    )
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    min_history_days: int = Field(
        default=126, ge=0, description="rows of price history before selection"
    )
    min_float_mcap_usd: float = Field(default=100e6, ge=0)
    min_adtv_usd: float = Field(default=500e3, ge=0)
    adtv_window_days: int = Field(default=63, ge=1)
    buffer_mcap: float = Field(
        default=0.5, gt=0, le=1, description="existing members stay down to this x entry mcap"
    )
    buffer_adtv: float = Field(
        default=0.5, gt=0, le=1, description="existing members stay down to this x entry ADTV"
    )
    buffer_china_score: float = Field(
        default=10.0, ge=0, description="existing members stay up to max + this"
    )
    china: ChinaScoreRules = Field(default_factory=ChinaScoreRules)
