"""Time ``build_universe`` (target < 50 ms for 100 companies; a backtest calls it ~60 times).

Uses the shipped master and facts on the synthetic demo market, then the same padded to 100+
companies by cloning rows under new ids and tickers. Prints milliseconds per call: alone (the
CLI's single date: the inputs are prepared in the call) and with ``UniverseInputs`` prepared
once, as a backtest does (its one-off cost in the last column).
Run: .venv/bin/python bench/bench_universe.py
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pandas as pd

from exchina.core.sources import load_market
from exchina.universe import (
    UniverseInputs,
    UniverseRules,
    build_universe,
    load_companies,
    load_facts,
    load_shares,
)


def _clone(companies, facts, shares, market, copies: int):
    """Companies x (1 + copies), each clone with its own id, ticker and price column."""
    cs, fs, ss = [companies], [facts], [shares]
    close, volume, divs, sh = market.close, market.volume, market.dividends, market.shares
    ccy = market.currency
    for k in range(1, copies + 1):
        c = companies.assign(
            company_id=companies["company_id"] + f"_c{k}", ticker=companies["ticker"] + f"_C{k}"
        )
        cs.append(c)
        fs.append(
            facts.assign(
                company_id=facts["company_id"] + f"_c{k}", fact_id=facts["fact_id"] + f"_c{k}"
            )
        )
        ss.append(shares.assign(company_id=shares["company_id"] + f"_c{k}"))
        ren = {t: f"{t}_C{k}" for t in market.tickers}
        close = pd.concat([close, market.close.rename(columns=ren)], axis=1)
        volume = pd.concat([volume, market.volume.rename(columns=ren)], axis=1)
        divs = pd.concat([divs, market.dividends.rename(columns=ren)], axis=1)
        sh = pd.concat([sh, market.shares.rename(columns=ren)], axis=1)
        ccy = pd.concat([ccy, market.currency.rename(index=ren)])
    m = replace(market, close=close, volume=volume, dividends=divs, shares=sh, currency=ccy)
    return (
        pd.concat(cs, ignore_index=True),
        pd.concat(fs, ignore_index=True),
        pd.concat(ss, ignore_index=True),
        m,
    )


def main() -> None:
    market = load_market("demo")
    companies = load_companies()
    facts = load_facts(companies=companies)
    shares = load_shares(companies=companies)
    dates = market.dates[300 :: max(1, (len(market.dates) - 300) // 60)][:60]
    rules = UniverseRules()
    print(f"market: {market.label}; {len(market.dates)} days")
    print(
        f"{'companies':>10} {'calls':>6} {'ms/call':>9} {'max ms':>8} {'cpu ms':>8}"
        f" {'prepared cpu ms':>16} {'prepare ms':>11}"
    )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for copies in (0, 1):
        c, f, s, m = _clone(companies, facts, shares, market, copies)
        build_universe(dates[0], rules, m, companies=c, facts=f, shares=s)  # warm up
        times, cpu = [], []
        for d in dates:
            t0, c0 = time.perf_counter(), time.process_time()
            build_universe(d, rules, m, companies=c, facts=f, shares=s)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        c0 = time.process_time()
        inputs = UniverseInputs(m, c, f, s)
        prepare = (time.process_time() - c0) * 1000
        c0 = time.process_time()
        for d in dates:
            build_universe(d, rules, m.asof(d), inputs=inputs)
        prepared = (time.process_time() - c0) * 1000 / len(dates)
        print(
            f"{len(c):>10} {len(times):>6} {sum(times) / len(times):>9.1f} {max(times):>8.1f}"
            f" {sum(cpu) / len(cpu):>8.1f} {prepared:>16.1f} {prepare:>11.1f}"
        )


if __name__ == "__main__":
    main()
