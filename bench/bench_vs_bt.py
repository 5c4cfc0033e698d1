"""A warm ``run_backtest`` against bt replaying the weights it produced, in one process.

The issue's speed target: the flagship's warm backtest on the demo market (universe, optimizer
and simulation at every rebalance) at most 2x the time bt needs only to replay the resulting
weights over the same USD prices (``WeighTarget`` + ``Rebalance``, fractional positions). The
replay's levels are checked against exchina's price-return level (no costs) before timing.

    .venv/bin/python bench/bench_vs_bt.py [--methodology flagship] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd


def bt_replay(prices: pd.DataFrame, weights: pd.DataFrame) -> pd.Series:
    import bt

    strategy = bt.Strategy("s", [bt.algos.WeighTarget(weights), bt.algos.Rebalance()])
    test = bt.Backtest(strategy, prices, integer_positions=False, progress_bar=False)
    return bt.run(test)["s"].prices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methodology", default="flagship")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from exchina.backtest import run_backtest, simulate
    from exchina.core.sources import load_market
    from exchina.index.methodology import load_methodology, resolve_methodology

    market = load_market("demo")
    meth = load_methodology(resolve_methodology(args.methodology))
    result = run_backtest(meth, market)  # warm: compiled problems, loader memo, demo market
    ours, ours_cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        result = run_backtest(meth, market)
        ours.append(time.perf_counter() - t)
        ours_cpu.append(time.process_time() - c)
    prices = result.prices_usd.ffill()
    weights = result.weights.fillna(0.0)
    bt_levels = bt_replay(prices, weights)  # warm bt too
    replay, replay_cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        bt_levels = bt_replay(prices, weights)
        replay.append(time.perf_counter() - t)
        replay_cpu.append(time.process_time() - c)
    check = simulate(prices, weights)["level_pr"]
    bt_on = bt_levels.reindex(check.index).dropna()
    gap = float(
        (check.reindex(bt_on.index) / bt_on * bt_on.iloc[0] / check.iloc[0] - 1).abs().max()
    )
    o, r = min(ours), min(replay)
    print(f"methodology {meth.name}: {len(weights)} rebalances, {weights.shape[1]} names held")
    print(f"exchina run_backtest (warm)  {o:8.2f} s  ({o / len(weights) * 1e3:.0f} ms a rebalance)")
    print(f"bt replay of its weights     {r:8.2f} s")
    print(f"ratio                        {o / r:8.1f}x  (target <= 2x)")
    oc, rc = min(ours_cpu), min(replay_cpu)
    print(
        f"CPU time: exchina {oc:.2f} s, bt {rc:.2f} s, ratio {oc / rc:.1f}x (steadier under load)"
    )
    print(f"load average                 {os.getloadavg()[0]:.1f} (2 cores: {os.cpu_count()})")
    print(f"levels: exchina price return vs bt replay, max rel. gap {gap:.1e}")
    relaxed = result.relaxation_summary()
    print(
        f"rebalances relaxed           {relaxed['rebalances_relaxed']}  ({relaxed['worst_relaxation']})"
    )
    t = result.timings
    print(
        f"index layer share            {t['rebalance_s'] / (t['rebalance_s'] + t['simulate_and_data_s']):.0%}"
    )
    np.testing.assert_array_less(gap, 1e-6)


if __name__ == "__main__":
    main()
