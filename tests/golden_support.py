"""Frozen inputs and outputs that prove a refactor changes no number.

``tests/fixtures/golden/data`` is a copy of the shipped data folder (company master, facts,
shares, events, methodologies) taken before the index layer was restructured, so later data edits
do not move these figures. ``frozen_backtest(name)`` runs a shipped-methodology backtest on the
demo market generated from that copy; ``python tests/golden_support.py`` wrote the expected
weights and levels (``<name>.weights.parquet``, ``<name>.levels.parquet``) with the code of that
time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pandas as pd

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"
DATA = GOLDEN / "data"
METHODOLOGIES = ("flagship", "equal_weight", "min_variance", "remx_like")
END = "2026-06-30"


@contextmanager
def frozen_data() -> Iterator[None]:
    """The shipped data folder replaced by the frozen copy (every ``data_file`` lookup)."""
    with mock.patch("exchina.core.paths.data_dir", return_value=DATA):
        yield


def frozen_backtest(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(weights, levels) of ``name``'s demo backtest on the frozen data."""
    from exchina.backtest import run_backtest
    from exchina.core.demo import demo_market
    from exchina.index import load_methodology
    from exchina.index.optimizer import clear_cache
    from exchina.universe import load_companies, load_facts
    from exchina.universe.loaders import load_shares

    clear_cache()  # recorded from a cold start: compile every problem afresh here too
    with frozen_data():
        market = demo_market()
        companies = load_companies(DATA / "companies.csv")
        facts = load_facts(DATA / "exposure_facts.csv", companies=companies)
        shares = load_shares(DATA / "shares.csv", companies=companies)
        m = load_methodology(DATA / "methodologies" / f"{name}.toml")
        kwargs = _data_kwargs(companies, facts, shares)
        result = run_backtest(m, market, end=END, **kwargs)
    return result.weights, result.levels[["level_pr", "level_tr"]]


def _data_kwargs(companies: pd.DataFrame, facts: pd.DataFrame, shares: pd.DataFrame) -> dict:
    """Pass the frozen frames where ``run_backtest`` takes them (the patched data folder covers
    the code that predates those arguments)."""
    import inspect

    from exchina.backtest import run_backtest

    params = inspect.signature(run_backtest).parameters
    given = {"companies": companies, "facts": facts, "shares": shares}
    return {k: v for k, v in given.items() if k in params}


if __name__ == "__main__":
    for name in METHODOLOGIES:
        weights, levels = frozen_backtest(name)
        weights.to_parquet(GOLDEN / f"{name}.weights.parquet")
        levels.to_parquet(GOLDEN / f"{name}.levels.parquet")
        print(name, weights.shape, levels.shape, float(levels["level_tr"].iloc[-1]))
