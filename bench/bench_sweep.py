"""Sweep throughput: variants per second on 1 and 2 local Dask workers, and 1,000 extrapolated.

Each variant is the flagship methodology with the China threshold, the cap and the weighting
scheme varied, backtested on the synthetic demo market (quarterly rebalances, an optimization at
each) over the last ``--years`` years. The market is loaded once and scattered to the workers;
every worker is warmed (imports, calendars, compiled problems) before the clock starts. The
1,000-variant figure is extrapolated from the measured rate at the largest worker count, and says
so.

    .venv/bin/python bench/bench_sweep.py [--variants 16] [--workers 1 2] [--years 15]
    .venv/bin/python bench/bench_sweep.py --in-process --variants 4   # by CPU time, no Dask
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

from exchina.core.sources import load_market
from exchina.ops.sweep import (
    backtest_metrics,
    dask_client,
    expand_grid,
    parse_grid,
    run_sweep,
    run_variant,
)


def bench_grid(n: int) -> dict:
    """A flagship grid of about ``n`` variants: 4 x k combinations of cap, scheme, threshold."""
    k = max(1, -(-n // 4))
    return {
        "base": "flagship",
        "parameters": {
            "universe.max_china_score": [float(x) for x in np.linspace(25, 60, k).round(1)],
            "constraints.max_weight": [0.08, 0.10],
            "weighting.scheme": ["capped_mcap", "equal"],
        },
    }


def _warm(market, start, end) -> float:
    """Run one short backtest in this worker so imports and caches do not count."""
    from exchina.core.paths import methodology_file
    from exchina.index.methodology import load_methodology

    t = time.perf_counter()
    warnings.simplefilter("ignore")
    meth = load_methodology(methodology_file("flagship"))
    backtest_metrics(meth, market, start, end)
    return time.perf_counter() - t


def measure(variants, market, workers: int, start, end) -> dict:
    with dask_client(workers=workers) as client:
        warm_end = (pd.Timestamp(end) if end else market.as_of).strftime("%Y-%m-%d")
        warm_start = (pd.Timestamp(warm_end) - pd.DateOffset(years=1)).strftime("%Y-%m-%d")
        client.run(_warm, market, warm_start, warm_end)
        res = run_sweep(variants, market, start=start, end=end, client=client, progress=False)
    t = res.table
    ok = t[t["status"] == "ok"]
    if len(ok) < len(t):
        first = t.loc[t["status"] != "ok", "error"].iloc[0]
        print(f"  {workers} worker(s): {len(t) - len(ok)} variants failed; first: {first}")
    return {
        "workers": workers,
        "variants": len(t),
        "ok": len(ok),
        "elapsed_s": res.elapsed_s,
        "per_s": res.variants_per_second,
        "median_variant_s": float(ok["seconds"].median()) if len(ok) else float("nan"),
        "rebalance_share": float(
            (
                ok["time_rebalance_s"] / (ok["time_rebalance_s"] + ok["time_simulate_and_data_s"])
            ).median()
        )
        if len(ok)
        else float("nan"),
        "sharpe": ok.set_index("variant_id")["sharpe"] if len(ok) else pd.Series(dtype=float),
    }


def measure_in_process(variants, market, start) -> None:
    """Variants one after another in this process, by CPU time: the rate a worker reaches when
    it has a core to itself (steadier than wall time on a shared machine)."""
    end = market.as_of.strftime("%Y-%m-%d")
    _warm(market, (market.as_of - pd.DateOffset(years=1)).strftime("%Y-%m-%d"), end)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = [run_variant(v, market, start=start) for v in variants]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ok = sum(r["status"] == "ok" for r in rows)
    print(
        f"in process: {len(rows)} variants ({ok} ok) in {wall:.1f} s wall, {cpu:.1f} s CPU: "
        f"{len(rows) / cpu:.3f} variants per CPU second, {len(rows) / wall:.3f} per wall second; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def main() -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument(
        "--in-process", action="store_true", help="sequential in this process, by CPU time"
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    market = load_market("demo")
    end = market.as_of
    start = (end - pd.DateOffset(years=args.years)).strftime("%Y-%m-%d")
    variants = expand_grid(parse_grid(bench_grid(args.variants)))[: args.variants]
    print(
        f"sweep: {len(variants)} flagship variants, {args.years}y quarterly on the SYNTHETIC demo "
        f"market ({len(market.tickers)} tickers), CPUs {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if args.in_process:
        measure_in_process(variants, market, start)
        return []
    print(
        f"{'workers':>7} {'variants':>8} {'ok':>4} {'seconds':>8} {'var/s':>7} {'s/variant':>9} {'speed-up':>8} {'1,000 (extrap.)':>16}"
    )
    rows = [measure(variants, market, w, start, None) for w in args.workers]
    base = rows[0]["per_s"]
    for r in rows:
        r["speedup"] = r["per_s"] / base
        r["thousand_s"] = 1000 / r["per_s"]
        print(
            f"{r['workers']:>7} {r['variants']:>8} {r['ok']:>4} {r['elapsed_s']:>8.1f} "
            f"{r['per_s']:>7.3f} {r['median_variant_s']:>9.2f} {r['speedup']:>7.2f}x "
            f"{r['thousand_s'] / 60:>12.1f} min"
        )
    same = all(
        np.allclose(r["sharpe"].sort_index(), rows[0]["sharpe"].sort_index(), rtol=1e-9)
        for r in rows[1:]
    )
    print(
        f"results equal across worker counts: {same}; median share of a variant in rebalances "
        f"(universe + optimizer): {rows[-1]['rebalance_share']:.0%}"
    )
    return rows


if __name__ == "__main__":
    main()
