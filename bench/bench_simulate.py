"""Time ``exchina.backtest.simulate`` against bt and a plain pandas loop on the same inputs.

20 years of business days, quarterly rebalances with random long-only weights, at 50, 150 and
1,000 names (random-walk prices, seeded). Prints seconds per run (best of a few), the speed-up,
and the largest relative difference of the levels (must be below 1e-9).

    .venv/bin/python bench/bench_simulate.py [--names 50 150 1000] [--skip-bt-above 1000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from exchina.backtest import simulate


def make_inputs(n: int, years: int = 20, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2005-01-03", periods=252 * years, name="date")
    rets = rng.normal(0.0003, 0.02, (len(idx), n))
    prices = pd.DataFrame(
        50 * np.exp(np.cumsum(rets, axis=0)), index=idx, columns=[f"T{i:04d}" for i in range(n)]
    )
    rebal = idx[::63]
    w = rng.dirichlet(np.ones(n), len(rebal))
    return prices, pd.DataFrame(w, index=rebal, columns=prices.columns)


def pandas_loop(prices: pd.DataFrame, weights: pd.DataFrame, base: float = 1000.0) -> pd.Series:
    """The obvious implementation: walk the days, revalue the shares held, rebalance on dates."""
    shares = None
    value = base
    out = {}
    for date, row in prices.loc[weights.index[0] :].iterrows():
        if shares is not None:
            value = float((row * shares).sum())
        if date in weights.index:
            shares = value * weights.loc[date] / row
        out[date] = value
    return pd.Series(out)


def run_bt(prices: pd.DataFrame, weights: pd.DataFrame) -> pd.Series:
    import bt

    strategy = bt.Strategy("s", [bt.algos.WeighTarget(weights), bt.algos.Rebalance()])
    res = bt.run(bt.Backtest(strategy, prices, integer_positions=False, progress_bar=False))
    lv = res.prices.iloc[:, 0].loc[weights.index[0] :]
    return lv / lv.iloc[0] * 1000.0


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=int, nargs="+", default=[50, 150, 1000])
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--skip-bt-above", type=int, default=10_000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print(f"{args.years} years daily, quarterly rebalance; seconds (best of runs)")
    head = f"{'names':>6} {'days':>6} {'exchina':>9} {'pandas':>9} {'bt':>9} {'x pandas':>9} {'x bt':>8} {'max rel diff':>13}"
    print(head)
    for n in args.names:
        prices, weights = make_inputs(n, args.years)
        simulate(prices, weights)  # warm up
        t_ours, ours = best_of(lambda p=prices, w=weights: simulate(p, w)["level_pr"], 20)
        t_pd, ref = best_of(lambda p=prices, w=weights: pandas_loop(p, w), 1)
        diffs = [float((ours / ref.reindex(ours.index) - 1).abs().max())]
        t_bt = float("nan")
        if n <= args.skip_bt_above:
            t_bt, ref_bt = best_of(lambda p=prices, w=weights: run_bt(p, w), 1)
            diffs.append(float((ours / ref_bt.reindex(ours.index) - 1).abs().max()))
        diff = max(diffs)
        print(
            f"{n:>6} {len(prices):>6} {t_ours:>9.4f} {t_pd:>9.3f} {t_bt:>9.3f} "
            f"{t_pd / t_ours:>8.0f}x {t_bt / t_ours:>7.0f}x {diff:>13.2e}"
            + ("" if diff < 1e-9 else "  MISMATCH")
        )


if __name__ == "__main__":
    main()
