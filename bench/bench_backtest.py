"""Time a whole ``run_backtest``: total, the share in the index layer (universe + optimizer, per
rebalance) against simulation and data handling, the report, and peak memory (RSS).

    .venv/bin/python bench/bench_backtest.py [--methodology flagship] [--source demo]
        [--start 2012-12-31] [--end YYYY-MM-DD] [--peer]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings

import psutil


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methodology", default="flagship")
    ap.add_argument("--source", default="demo")
    ap.add_argument("--start", default=None)
    ap.add_argument("--end", default=None)
    ap.add_argument("--peer", action="store_true", help="also run the [benchmark] methodology")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from exchina.backtest import load_events, resolve_benchmark, run_backtest, write_backtest
    from exchina.core.sources import load_market
    from exchina.index.methodology import load_methodology, resolve_methodology

    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t = time.perf_counter()
    market = load_market(args.source)
    meth = load_methodology(resolve_methodology(args.methodology))
    t_load = time.perf_counter() - t
    bench, peer = resolve_benchmark(meth, market=market)
    t = time.perf_counter()
    cpu = time.process_time()
    result = run_backtest(
        meth, market, args.start, args.end, benchmark=bench, peer=peer if args.peer else None
    )
    t_run, cpu_run = time.perf_counter() - t, time.process_time() - cpu
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_backtest(result, tmp, events=load_events())
    t_write = time.perf_counter() - t
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    rb, rest = result.timings["rebalance_s"], result.timings["simulate_and_data_s"]
    own = rb + rest
    n = len(result.weights)
    print(
        f"data: {result.label}; market {market.close.shape[0]} days x {market.close.shape[1]} tickers"
    )
    print(
        f"methodology: {meth.name}; {n} rebalances {result.levels.index[0].date()}..{result.levels.index[-1].date()}"
    )
    print(f"load market + methodology   {t_load:8.2f} s")
    print(
        f"run_backtest (wall / CPU)   {t_run:8.2f} s / {cpu_run:.2f} s  (benchmark {bench}, peer {'yes' if args.peer else 'no'})"
    )
    print(
        f"  index layer (rebalance)   {rb:8.2f} s  {rb / own:6.1%}  ({rb / max(n, 1):.3f} s per rebalance)"
    )
    print(f"  simulation + data         {rest:8.2f} s  {rest / own:6.1%}")
    print(f"write outputs + report      {t_write:8.2f} s")
    print(f"peak RSS                    {peak_kb / 1024:8.0f} MB  (at start {rss0 / 2**20:.0f} MB)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
