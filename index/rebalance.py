"""One rebalance end to end: universe at the cut-off, optimised weights, constituents, trades, report.

``rebalance`` selects on data up to the review cut-off (``schedule.cutoff_business_days``
sessions before the effective date) and prices the new constituents at the effective close (or
the last close before it, reported as ``price_date``). ``write_rebalance`` writes
``constituents.csv``/``.parquet``, ``trades.csv`` and ``report.json`` into a temporary folder and
moves them into place, so a failed run writes nothing. The files hold no wall-clock time: the same
inputs give byte-identical files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from exchina.core.atomic import write_outputs
from exchina.core.csvsafe import to_csv_safe
from exchina.core.errors import MissingDataError, StaleDataError
from exchina.core.market import Closes, LastCloses, Market
from exchina.index.coverage import require_coverage, require_eligible_data
from exchina.index.exposures import (
    CHINA_BANDS,
    china_band,
    country_exposure,
    stage_exposure,
    weights_by,
)
from exchina.index.methodology import Methodology, load_methodology, resolve_methodology
from exchina.index.schedule import is_rebalance_date, review_date
from exchina.universe.rules import STAGES
from exchina.universe.screening import exclusion_counts

if TYPE_CHECKING:  # cvxpy (seconds to import) loads when a rebalance is solved
    from exchina.index.optimizer import WeightsResult
    from exchina.index.relaxation import Relaxation
    from exchina.universe.inputs import UniverseInputs

TRADE_MIN = 1e-8  # smaller weight changes are solver noise, not trades

CONSTITUENT_COLUMNS = [
    "ticker",
    "name",
    "stage",
    "country",
    "china_score",
    "basis_weight",
    "weight",
    "shares_per_unit",
    "price",
    "currency",
    "price_usd",
    "price_date",
    "data_source",
]


@dataclass(frozen=True)
class RebalanceResult:
    """Everything a rebalance decided, ready for ``write_rebalance``. The ``constituents`` and
    ``trades`` tables are built when first read: a backtest reads only the weights."""

    date: pd.Timestamp
    cutoff: pd.Timestamp
    methodology: Methodology
    universe: pd.DataFrame
    optimized: WeightsResult
    weights: pd.Series  # final weights of the held names (ticker -> weight), heaviest first
    prices: Closes  # the held names' prices at the effective date, in ``weights`` order
    basis: np.ndarray  # their basis weights (0 when none), in ``weights`` order
    previous: pd.Series | None  # the holdings before, for the trades
    label: str  # the market's provenance line, stamped on every row
    report: dict[str, Any] = field(default_factory=dict)  # empty when not asked for
    relaxations: list[Relaxation] = field(default_factory=list)  # rules that gave way, by name

    @cached_property
    def constituents(self) -> pd.DataFrame:
        """The held names, heaviest first (``CONSTITUENT_COLUMNS``)."""
        return _constituents(
            self.methodology.base_level,
            self.universe,
            self.weights,
            self.prices,
            self.basis,
            self.label,
        )

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Every name held before or after, its weight change and side (buy, sell, hold)."""
        return _trades(self.weights, self.previous, self.universe, self.label)


def _previous_index(previous: pd.Series | None) -> list[str]:
    if previous is None:
        return []
    return [str(t) for t, w in previous.items() if w > 0]


def _parent_weights(
    methodology: Methodology,
    source: Path | None,
    date: pd.Timestamp,
    market: Market,
    companies: pd.DataFrame | None,
    facts: pd.DataFrame | None,
) -> pd.Series | None:
    if methodology.weighting.scheme != "tracking":
        return None
    path = resolve_methodology(methodology.weighting.parent or "", relative_to=source)
    parent = rebalance(date, path, market, companies=companies, facts=facts)
    return parent.weights


def rebalance(
    date: str | pd.Timestamp,
    methodology: Methodology | str | Path,
    market: Market,
    previous: pd.Series | None = None,
    companies: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    check_stale: bool = True,
    shares: pd.DataFrame | None = None,
    inputs: UniverseInputs | None = None,
    with_report: bool = True,
) -> RebalanceResult:
    """The rebalance effective after the close of ``date``.

    ``check_stale=False`` skips the market-wide price-age check (the scheduled run checks every
    eligible ticker itself and may be told to accept stale data).

    ``previous``: current holdings (ticker -> weight) for the membership buffer, the turnover
    limit and the trades list. ``companies``, ``facts`` and ``shares``: the company master, the
    exposure facts and the share counts (default: the shipped files, read once and passed down;
    a custom master is screened and weighted as given). ``methodology`` may be a path (needed to resolve a relative
    ``weighting.parent``). Raises ``InfeasibleError``, ``MissingDataError`` (also when the
    market prices too few of the companies the rules consider, or too few are eligible for want
    of data: ``exchina.index.coverage``) or
    ``StaleDataError``. ``inputs``: the universe's inputs prepared once for many rebalances
    (``exchina.universe.UniverseInputs`` of ``market`` or a market it is a cut of; it then
    supplies the master, facts and shares). ``with_report=False`` leaves ``report`` empty (a
    backtest keeps weights, not report.json).
    """
    source: Path | None = None
    if not isinstance(methodology, Methodology):
        source = Path(methodology)
        methodology = load_methodology(source)
    m = methodology
    t = pd.Timestamp(date).normalize()
    cutoff = review_date(m, t)
    cut = market.asof(cutoff)
    as_of = cut.as_of
    if pd.isna(as_of):
        raise MissingDataError(f"no prices on or before the cut-off {cutoff.date()}")
    if check_stale and as_of < cutoff - pd.offsets.BDay(m.schedule.max_price_age_days):
        age = len(pd.bdate_range(as_of, cutoff)) - 1
        raise StaleDataError(
            f"latest price {as_of.date()} is {age} business days before the cut-off "
            f"{cutoff.date()} (max_price_age_days {m.schedule.max_price_age_days}): update the "
            "store",
            tickers=[],
        )
    from exchina.universe import load_companies
    from exchina.universe.screens import screen_universe

    if inputs is not None:
        companies, facts, shares = inputs.companies, inputs.facts, inputs.shares
    companies = load_companies() if companies is None else companies
    require_coverage(cut, m, companies, cutoff, shares, inputs=inputs)
    screened = screen_universe(
        date=cutoff,
        rules=m.universe,
        market=cut,
        previous_members=_previous_index(previous),
        companies=companies,
        facts=facts,
        shares=shares,
        inputs=inputs,
    )
    from exchina.index.optimizer import optimize
    from exchina.index.top_up import top_up_names

    col = screened.columns
    added, topped = top_up_names(
        screened.index,
        col["eligible"],
        col["near_miss"],
        col["float_mcap_usd"],
        np.asarray(col["reasons"], dtype=object),
        m,
    )  # the frame is built once, with the top-up (as ``top_up`` would give it)
    universe = screened.with_columns(eligible=col["eligible"] | added, top_up=added)
    require_eligible_data(universe, screened.failures, m, cutoff, cut.label)
    parent = _parent_weights(m, source, t, market, companies, facts)
    result = optimize(universe, cut, m, previous_weights=previous, parent_weights=parent)

    positive = result.weights.to_numpy(dtype=float) > 0
    w = result.weights[positive]
    held = [str(x) for x in w.index]
    closes = inputs.history.closes if inputs is not None else LastCloses(market, pd.Index(held))
    px = closes.at(market, t, held)
    no_price = [tk for tk, p in zip(held, px.price_usd, strict=True) if not p > 0]
    if no_price:
        raise MissingDataError(f"no price in USD on or before {t.date()} for {no_price}")
    weight = w.to_numpy(dtype=float)
    order = np.lexsort((np.array(held, dtype=str), -weight))  # heaviest first, ties by ticker
    basis = _take(result.basis, _positions(result.basis.index, held)).astype(float)
    out = RebalanceResult(
        date=t,
        cutoff=cutoff,
        methodology=m,
        universe=universe,
        optimized=result,
        weights=pd.Series(
            weight[order],
            index=pd.Index(np.array(held, dtype=object)[order], name="ticker"),
            name="weight",
        ),
        prices=px.take(order),
        basis=np.where(np.isnan(basis), 0.0, basis)[order],
        previous=previous,
        label=market.label,
        relaxations=([topped] if topped is not None else []) + list(result.relaxations),
    )
    if with_report:
        out.report.update(_report(out, source, cut, market, screened.failures))
        out.report["relaxed"] = [r.as_dict() for r in out.relaxations]
    return out


def _positions(index: pd.Index, tickers: list[str]) -> np.ndarray:
    """Where each of ``tickers`` sits in ``index`` (-1 = absent): a dict lookup, which for a
    few names beats building pandas' hash table of a fresh frame's index."""
    pos = {str(t): i for i, t in enumerate(index.tolist())}
    return np.array([pos.get(t, -1) for t in tickers], dtype=int)


def _take(values: pd.Series, pos: np.ndarray, fill: Any = np.nan) -> np.ndarray:
    """``values`` at positions ``pos`` (``_positions``), ``fill`` where -1: a reindex without
    the reindexed Series."""
    array = values.to_numpy()
    if not (pos < 0).any():
        return array[pos]
    return np.where(pos >= 0, array[np.maximum(pos, 0)] if len(array) else fill, fill)


def _constituents(
    base_level: float,
    universe: pd.DataFrame,
    weights: pd.Series,
    px: Closes,
    basis: np.ndarray,
    label: str,
) -> pd.DataFrame:
    """The held names (``CONSTITUENT_COLUMNS``) in the order of ``weights``, with their
    universe details, prices ``px`` and ``basis`` weights (both in that order)."""
    held = [str(x) for x in weights.index]
    weight = weights.to_numpy(dtype=float)
    at = _positions(universe.index, held)
    columns = {
        "ticker": np.array(held, dtype=object),
        "name": _take(universe["name"], at),
        "stage": _take(universe["primary_stage"], at),
        "country": _take(universe["country"], at),
        "china_score": _take(universe["china_score"], at).astype(float),
        "basis_weight": basis,
        "weight": weight,
        "shares_per_unit": weight * base_level / px.price_usd,
        "price": px.price,
        "currency": px.currency,
        "price_usd": px.price_usd,
        "price_date": np.datetime_as_string(px.price_date, unit="D").astype(object),
        "data_source": label,
    }
    return pd.DataFrame(columns, columns=CONSTITUENT_COLUMNS)


def _trades(
    w: pd.Series, previous: pd.Series | None, universe: pd.DataFrame, label: str
) -> pd.DataFrame:
    prev = (
        {} if previous is None else dict(zip(previous.index, previous.astype(float), strict=True))
    )
    now = dict(zip(w.index, w.to_numpy(dtype=float), strict=True))
    tickers = sorted(set(now) | {t for t, v in prev.items() if v != 0})
    before = np.array([prev.get(t, 0.0) for t in tickers], dtype=float)
    after = np.array([now.get(t, 0.0) for t in tickers], dtype=float)
    before, after = np.where(np.isnan(before), 0.0, before), np.where(np.isnan(after), 0.0, after)
    delta = after - before
    delta = np.where(np.abs(delta) > TRADE_MIN, delta, 0.0)
    side = np.where(delta > 0, "buy", np.where(delta < 0, "sell", "hold"))
    names = dict(zip(universe.index, universe["name"].tolist(), strict=True))
    return pd.DataFrame(
        {
            "ticker": tickers,
            "name": np.array([names.get(t, "") for t in tickers], dtype=object),
            "previous_weight": before,
            "weight": after,
            "trade_weight": delta,
            "side": side,
            "data_source": label,
        }
    )


def _report(
    res: RebalanceResult,
    source: Path | None,
    cut: Market,
    market: Market,
    failures: pd.DataFrame,
) -> dict[str, Any]:
    """``report.json`` of ``res`` (``cut``: the market at its cut-off); ``failures``: the
    screens' failures (``screen_universe``), counted by key over the companies left out."""
    m, t, cutoff, previous = res.methodology, res.date, res.cutoff, res.previous
    universe, result, constituents, trades = (
        res.universe,
        res.optimized,
        res.constituents,
        res.trades,
    )
    w = pd.Series(
        constituents["weight"].to_numpy(dtype=float),
        index=pd.Index(constituents["ticker"].to_numpy(dtype=object), name="ticker"),
    )
    eligible = universe["eligible"].to_numpy(dtype=bool)
    held = universe.reindex(w.index)
    by_stage = weights_by(w, stage_exposure(held, m.constraints.stage_weighting))
    bands = {f"{lo}-{hi}": 0.0 for lo, hi in CHINA_BANDS}
    for wt, score in zip(w.to_numpy(), held["china_score"].to_numpy(), strict=True):
        band = china_band(float(score))
        bands[band] = bands.get(band, 0.0) + float(wt)
    turnover = float(0.5 * trades["trade_weight"].abs().sum()) if previous is not None else None
    return {
        "index": m.name,
        "methodology": {
            "name": m.name,
            "version": m.version,
            "file": source.name if source is not None else None,
            "hash": m.digest(),
            "scheme": m.weighting.scheme,
        },
        "dates": {
            "effective": t.date().isoformat(),
            "cutoff": cutoff.date().isoformat(),
            "prices_as_of": cut.as_of.date().isoformat(),
            "facts_as_of": cutoff.date().isoformat(),
            "effective_prices_as_of": str(constituents["price_date"].max()),
            "scheduled": is_rebalance_date(m, t),
        },
        "data_source": market.label,
        "store_version": market.meta.get("store_version"),
        "synthetic": bool(market.synthetic),
        "universe": {
            "candidates": len(universe),
            "eligible": int(eligible.sum()),
            "held": len(constituents),
            "exclusions": exclusion_counts(failures, universe.index.to_numpy()[~eligible]),
        },
        "optimizer": {
            "solver": result.solver,
            "status": result.status,
            "objective": result.objective,
            "binding": result.binding,
            "stages": result.diagnostics.get("stages", []),
            "warnings": result.diagnostics.get("warnings", []),
        },
        "weights_by_stage": {s: by_stage.get(s, 0.0) for s in STAGES},
        "stage_weighting": m.constraints.stage_weighting,
        "weights_by_country": dict(sorted(weights_by(w, country_exposure(held)).items())),
        "weights_by_china_band": bands,
        "weighted_china_score": float(held["china_score"].astype(float).to_numpy() @ w.to_numpy()),
        "weighted_confidence": float(held["confidence"].astype(float).to_numpy() @ w.to_numpy()),
        "turnover": turnover,
        "previous_holdings": len(_previous_index(previous)),
        "benchmark": m.benchmark.model_dump(),
    }


def _finite(obj: Any) -> Any:
    """NaN and infinities become None so the report is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


REBALANCE_FILES = ("constituents.csv", "constituents.parquet", "trades.csv", "report.json")
"""The files ``write_rebalance`` owns in its folder (and the only ones it ever replaces)."""


def write_rebalance(result: RebalanceResult, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write the four output files into ``out_dir`` (created if needed), each atomically.

    Nothing else in the folder is touched; a folder holding other files is refused
    (``OutputFolderError``) unless ``force``.
    """
    text = json.dumps(_finite(result.report), indent=2, sort_keys=True, allow_nan=False)
    files = {
        "constituents.csv": lambda p: to_csv_safe(
            result.constituents, p, index=False, lineterminator="\n"
        ),
        "constituents.parquet": lambda p: result.constituents.to_parquet(p, index=False),
        "trades.csv": lambda p: to_csv_safe(result.trades, p, index=False, lineterminator="\n"),
        "report.json": text + "\n",
    }
    write_outputs(out_dir, files, force=force)
    return Path(out_dir)
