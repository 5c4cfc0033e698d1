"""Optimizer benchmark (prints a table; not a test).

Minimum variance with per-name caps and stage bounds (factor risk model) at 50, 500 and 2,000
names: a fresh solve (compile + solve) and a DPP re-solve (same structure, new data), then the
objective against PyPortfolioOpt and skfolio on the same covariance (up to 500 names: the peers
need a dense N x N matrix). Also the backtest's typical call: capped market cap with UCITS at
60 names. Run: ``.venv/bin/python bench/bench_optimizer.py``.
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
import pandas as pd

from exchina.index import RiskModel, optimize, parse_methodology
from exchina.index.optimizer import clear_cache

STAGES = ["mining", "separation_refining", "metal_alloy", "magnet", "recycling"]
CAP = 0.05
MINING_MAX, SEPARATION_MIN = 0.40, 0.10


def universe(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stages = [STAGES[i % 5] for i in range(n)]
    return pd.DataFrame(
        {
            "name": [f"N{i}" for i in range(n)],
            "country": rng.choice(["AU", "US", "CA", "JP"], n),
            "stages": stages,
            "primary_stage": stages,
            "commodities": "rare_earths",
            "china_score": rng.uniform(0, 60, n),
            "float_mcap_usd": rng.lognormal(20, 1.5, n),
            "adtv_usd": rng.lognormal(16, 1, n),
            "eligible": True,
        },
        index=pd.Index([f"T{i:04d}" for i in range(n)], name="ticker"),
    )


def risk(n: int, seed: int, k: int = 5) -> RiskModel:
    rng = np.random.default_rng(seed)
    F = rng.normal(0, 0.12, (n, k)) * np.array([1.5, 0.8, 0.5, 0.4, 0.3])[:k]
    d = rng.uniform(0.15, 0.6, n)
    return RiskModel([f"T{i:04d}" for i in range(n)], F, d)


METHOD = parse_methodology(
    {
        "name": "bench",
        "weighting": {"scheme": "min_variance"},
        "constraints": {
            "max_weight": CAP,
            "stage_weighting": "primary",
            "stage_bounds": {
                "mining": [0.0, MINING_MAX],
                "separation_refining": [SEPARATION_MIN, 1.0],
            },
        },
    }
)


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def peers(uni: pd.DataFrame, rm: RiskModel) -> dict:
    """Portfolio variance (on our covariance) of each peer's minimum-variance weights, and the
    weights themselves (``<peer>_weights``, aligned with ``uni``)."""
    from pypfopt import EfficientFrontier

    cov = rm.covariance()
    stage = dict(zip(uni.index, uni["primary_stage"], strict=True))
    out = {}
    ef = EfficientFrontier(None, pd.DataFrame(cov, uni.index, uni.index), weight_bounds=(0, CAP))
    ef.add_sector_constraints(
        stage,
        {"mining": 0.0, "separation_refining": SEPARATION_MIN},
        {"mining": MINING_MAX, "separation_refining": 1.0},
    )
    w = pd.Series(ef.min_volatility()).reindex(uni.index).to_numpy()
    out["pypfopt"] = float(w @ cov @ w)
    out["pypfopt_weights"] = w
    try:
        from skfolio.optimization import MeanRisk, ObjectiveFunction
        from skfolio.prior import EmpiricalPrior

        n = len(uni)
        rng = np.random.default_rng(1)
        z = rng.normal(size=(n + 400, n))
        z -= z.mean(axis=0)
        z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # cov(z) = I
        x = pd.DataFrame(z @ np.linalg.cholesky(cov).T, columns=uni.index)  # cov(x) = ours
        model = MeanRisk(
            objective_function=ObjectiveFunction.MINIMIZE_RISK,
            max_weights=CAP,
            min_weights=0.0,
            groups=[list(uni["primary_stage"])],
            linear_constraints=[
                f"mining <= {MINING_MAX}",
                f"separation_refining >= {SEPARATION_MIN}",
            ],
            prior_estimator=EmpiricalPrior(),
            solver="CLARABEL",
        )
        model.fit(x)
        w = np.asarray(model.weights_)
        out["skfolio"] = float(w @ cov @ w)
        out["skfolio_weights"] = w
    except Exception as exc:  # skfolio is an optional bench dependency
        out["skfolio"] = float("nan")
        print(f"  skfolio skipped: {type(exc).__name__}: {exc}")
    return out


def main() -> None:
    warnings.simplefilter("ignore")
    print("min variance + 5% cap + stage bounds (factor model, k=5), Clarabel")
    print(
        f"{'names':>6} {'fresh ms':>9} {'re-solve ms':>12} {'variance':>10} "
        f"{'pypfopt diff':>13} {'skfolio diff':>13}"
    )
    for n in (50, 500, 2000):
        uni = universe(n)
        clear_cache()
        fresh, res = timed(lambda uni=uni, n=n: optimize(uni, None, METHOD, risk=risk(n, 0)))
        seeds = iter(range(1, 100))
        resolve, res2 = timed(
            lambda uni=uni, n=n, seeds=seeds: optimize(
                uni, None, METHOD, risk=risk(n, next(seeds))
            ),
            repeat=5,
        )
        assert res2.diagnostics["cache_hit"]
        if n <= 500:
            p = peers(uni, risk(n, 0))
            d1 = f"{p['pypfopt'] - res.objective:+.2e}"
            d2 = f"{p['skfolio'] - res.objective:+.2e}"
        else:
            d1 = d2 = "(skipped)"
        print(
            f"{n:>6} {fresh * 1e3:>9.1f} {resolve * 1e3:>12.1f} {res.objective:>10.6f} "
            f"{d1:>13} {d2:>13}"
        )
        if n <= 500:
            ours = res.weights.reindex(uni.index).fillna(0.0).to_numpy()
            gaps = {
                k: float(np.abs(p[f"{k}_weights"] - ours).max())
                for k in ("pypfopt", "skfolio")
                if f"{k}_weights" in p
            }
            print(
                "  weights: max |ours - peer| " + ", ".join(f"{k} {v:.1e}" for k, v in gaps.items())
            )
    print("\n(diff = peer variance - ours, on our covariance: >= 0 means ours is at least as low)")

    uni = universe(60, seed=3)
    ucits = parse_methodology(
        {
            "name": "b",
            "constraints": {"max_weight": 0.1, "ucits": True, "stage_bounds": {"mining": [0, 0.4]}},
        }
    )
    clear_cache()
    fresh, res = timed(lambda: optimize(uni, None, ucits))
    resolve, _ = timed(lambda: optimize(uni, None, ucits), repeat=5)
    print(
        f"\ncapped mcap + UCITS + stage cap, 60 names: fresh {fresh * 1e3:.1f} ms, "
        f"re-solve {resolve * 1e3:.1f} ms, path {' -> '.join(res.diagnostics['stages'])}"
    )


if __name__ == "__main__":
    main()
