"""Methodology files, the cvxpy optimizer, capping, index calculation and rebalance outputs.

Public API: ``Methodology``/``load_methodology`` (TOML, validated), ``rebalance_dates`` and
``is_rebalance_date`` (schedule), ``optimize`` -> ``WeightsResult`` (cvxpy, DPP, cached),
``cap_weights`` (iterative capping fast path), ``index_levels`` (divisor-based PR/TR levels: the daily calculation without actions),
``rebalance`` -> ``RebalanceResult`` and ``write_rebalance`` (atomic output files).
"""

from typing import TYPE_CHECKING

from exchina.index.capping import RIC, UCITS, ConcentrationRule, cap_weights
from exchina.index.daily_calc import index_calculation, index_levels
from exchina.index.methodology import (
    Methodology,
    load_methodology,
    parse_methodology,
    resolve_methodology,
    shipped_methodologies,
)
from exchina.index.rebalance import RebalanceResult, rebalance, write_rebalance
from exchina.index.risk import RiskModel, factor_model, market_risk_model
from exchina.index.rulebook import rulebook_markdown, to_toml
from exchina.index.schedule import is_rebalance_date, rebalance_dates, review_date

if TYPE_CHECKING:
    from exchina.index.optimizer import WeightsResult, optimize


def __getattr__(name: str) -> object:
    """``optimize`` and ``WeightsResult`` load cvxpy and scipy (seconds): imported on first use,
    so reading a methodology or a stored result (the app's pages) does not wait for them."""
    if name in ("WeightsResult", "optimize"):
        from exchina.index import optimizer

        return getattr(optimizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RIC",
    "UCITS",
    "ConcentrationRule",
    "Methodology",
    "RebalanceResult",
    "RiskModel",
    "WeightsResult",
    "cap_weights",
    "factor_model",
    "index_calculation",
    "index_levels",
    "is_rebalance_date",
    "load_methodology",
    "market_risk_model",
    "optimize",
    "parse_methodology",
    "rebalance",
    "rebalance_dates",
    "resolve_methodology",
    "review_date",
    "rulebook_markdown",
    "shipped_methodologies",
    "to_toml",
    "write_rebalance",
]
