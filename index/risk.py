"""A low-rank statistical risk model: covariance = F F' + diag(d^2), never an N x N matrix.

Risk enters the optimizer as sum_squares(F' w) + sum_squares(d * w), which keeps the problem
small and DPP-compilable at thousands of names. Factors are the top principal components of
annualised daily USD returns over the lookback window; d^2 is the residual variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchina.core.errors import MissingDataError
from exchina.core.market import Market

PERIODS_PER_YEAR = 252
_MIN_RESID_VAR = 1e-6  # annualised; keeps the model positive definite


@dataclass(frozen=True)
class RiskModel:
    """Annualised covariance ``F @ F.T + diag(d**2)`` over ``tickers``."""

    tickers: list[str]
    F: np.ndarray  # n x k
    d: np.ndarray  # n

    def covariance(self) -> np.ndarray:
        """The dense covariance (for checks and peer libraries, not for the optimizer)."""
        return self.F @ self.F.T + np.diag(self.d**2)

    def variance(self, w: np.ndarray) -> float:
        """Portfolio variance of weights aligned to ``tickers``."""
        return float(np.sum((self.F.T @ w) ** 2) + np.sum((self.d * w) ** 2))

    def vol(self) -> np.ndarray:
        """Each name's volatility."""
        return np.sqrt(np.sum(self.F**2, axis=1) + self.d**2)

    def subset(self, tickers: list[str]) -> RiskModel:
        """The model restricted to ``tickers`` (in that order)."""
        pos = {t: i for i, t in enumerate(self.tickers)}
        missing = [t for t in tickers if t not in pos]
        if missing:
            raise MissingDataError(f"risk model has no returns for {missing}")
        idx = [pos[t] for t in tickers]
        return RiskModel(list(tickers), self.F[idx], self.d[idx])


def factor_model(returns: pd.DataFrame, n_factors: int = 5) -> RiskModel:
    """PCA factor model from a (dates x tickers) frame of daily returns (NaN treated as 0)."""
    r = returns.astype(float).fillna(0.0).to_numpy()
    if r.shape[0] < 2:
        raise MissingDataError("need at least two days of returns for a risk model")
    r = r - r.mean(axis=0)
    scale = np.sqrt(PERIODS_PER_YEAR / (r.shape[0] - 1))
    _u, s, vt = np.linalg.svd(r, full_matrices=False)
    k = min(n_factors, len(s))
    F = vt[:k].T * (s[:k] * scale)
    total = np.sum(r**2, axis=0) * scale**2
    d2 = np.maximum(total - np.sum(F**2, axis=1), _MIN_RESID_VAR)
    return RiskModel([str(c) for c in returns.columns], F, np.sqrt(d2))


def market_risk_model(
    market: Market, tickers: list[str], lookback_days: int = 252, n_factors: int = 5
) -> RiskModel:
    """Factor model from the last ``lookback_days`` of USD returns in ``market`` (as given: pass
    ``market.asof(cutoff)`` for a point-in-time model)."""
    px = market.close_usd(tickers).tail(lookback_days + 1)
    rets = px.ffill().pct_change(fill_method=None).iloc[1:]
    return factor_model(rets, n_factors)
