"""Trading costs of a rebalance: a fixed spread plus square-root market impact.

A trade of ``trade_usd`` in a name that trades ``adtv_usd`` a day costs, in basis points of the
traded amount, ``spread_bps + impact_bps_at_full_adtv * sqrt(trade_usd / adtv_usd)`` (the
square-root law: impact grows with the share of daily volume the trade takes). Where ADTV is
unknown or zero the trade is charged as if it were a full day's volume (participation 1) and the
name is reported, so a missing volume never makes a trade free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CostModel:
    """Spread plus square-root impact, sized against a fund of ``aum_usd``.

    spread_bps:              half-spread plus commission per unit traded (bps)
    impact_bps_at_full_adtv: impact (bps) of a trade equal to one day's ADTV
    aum_usd:                 fund size that turns weight changes into dollar trades
    """

    spread_bps: float = 0.0
    impact_bps_at_full_adtv: float = 0.0
    aum_usd: float = 100e6

    def bps(self, traded_weight: np.ndarray, adtv_usd: np.ndarray | None) -> np.ndarray:
        """Cost per name in bps of the amount traded (``traded_weight`` = |change in weight|)."""
        tw = np.abs(np.asarray(traded_weight, dtype=float))
        out = np.full(tw.shape, float(self.spread_bps))
        if self.impact_bps_at_full_adtv == 0.0:
            return out
        participation = np.ones_like(tw)
        if adtv_usd is not None:
            adtv = np.asarray(adtv_usd, dtype=float)
            known = np.isfinite(adtv) & (adtv > 0)
            participation = np.where(known, tw * self.aum_usd / np.where(known, adtv, 1.0), 1.0)
        return out + self.impact_bps_at_full_adtv * np.sqrt(participation)

    def unknown_adtv(self, traded_weight: np.ndarray, adtv_usd: np.ndarray | None) -> np.ndarray:
        """Mask of traded names charged at participation 1 because their ADTV is unknown."""
        tw = np.abs(np.asarray(traded_weight, dtype=float)) > 0
        if self.impact_bps_at_full_adtv == 0.0:
            return np.zeros_like(tw)
        if adtv_usd is None:
            return tw
        adtv = np.asarray(adtv_usd, dtype=float)
        return tw & ~(np.isfinite(adtv) & (adtv > 0))
