"""Same inputs, same weights: a fresh compile and a cached DPP re-solve select the same names.

Regression: the UCITS name selection (a MILP) once flipped between equally good sets of names
on relaxed weights that differed in the 17th digit, so a variant gave different weights (3.5
points) depending on what the process had solved before.
"""

from __future__ import annotations

import numpy as np
import pytest

from exchina.backtest import run_backtest
from exchina.core.sources import load_market
from exchina.index import load_methodology, resolve_methodology
from exchina.index.methodology import parse_methodology
from exchina.index.optimizer import clear_cache


@pytest.mark.slow
def test_warm_and_cold_optimizer_caches_give_the_same_backtest() -> None:
    market = load_market("demo")
    spec = load_methodology(resolve_methodology("flagship")).model_dump(mode="json")
    spec["universe"]["max_china_score"] = 25.0
    spec["constraints"]["max_weight"] = 0.08
    meth = parse_methodology(spec)
    clear_cache()
    cold = run_backtest(meth, market, "2019-01-01", None, benchmark=None)
    warm = run_backtest(meth, market, "2019-01-01", None, benchmark=None)
    a = cold.weights.fillna(0.0)
    b = warm.weights.reindex(index=a.index, columns=a.columns).fillna(0.0)
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(
        warm.levels["level_tr"].to_numpy(), cold.levels["level_tr"].to_numpy(), rtol=1e-12
    )
