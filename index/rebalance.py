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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from exchina.core.atomic import write_outputs
from exchina.core.csvsafe import to_csv_safe
from exchina.core.errors import MissingDataError, StaleDataError
from exchina.core.market import Market
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
    """Everything a rebalance decided, ready for ``write_rebalance``."""

    date: pd.Timestamp
    cutoff: pd.Timestamp
    methodology: Methodology
    universe: pd.DataFrame
    optimized: WeightsResult
    constituents: pd.DataFrame
    trades: pd.DataFrame
    report: dict[str, Any]
    relaxations: list[Relaxation] = field(default_factory=list)  # rules that gave way, by name

    @property
    def weights(self) -> pd.Series:
        """Final weights of the held names (ticker -> weight)."""
        return self.constituents.set_index("ticker")["weight"]


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


def _prices_at(market: Market, date: pd.Timestamp, tickers: list[str]) -> pd.DataFrame:
    """Each name's last close at ``date``, its date, currency and USD value (numpy: one pass)."""
    close = market.close
    n = int(close.index.searchsorted(date, side="right"))
    cols = close.columns.get_indexer(pd.Index(tickers))
    values = close.to_numpy(dtype=float)[:n]
    values = np.where(cols >= 0, values[:, np.maximum(cols, 0)], np.nan) if n else values[:, :0]
    values = values.reshape(n, len(tickers))
    seen = ~np.isnan(values)
    has = seen.any(axis=0)
    last_row = np.where(has, len(values) - 1 - np.argmax(seen[::-1], axis=0), 0)
    cols = np.arange(len(tickers))
    price = np.where(has, values[last_row, cols] if len(values) else np.nan, np.nan)
    none = np.full(len(cols), None)  # an object array, so a never-priced name's date is None
    last_date = np.where(has, close.index.to_numpy()[last_row], none) if len(values) else none
    currency = market.currency.reindex(tickers)
    missing = sorted({str(c) for c in currency.dropna()} - {"USD", *map(str, market.fx.columns)})
    if missing:
        raise MissingDataError(f"no FX series to USD for currencies {missing}")
    fx_rows = market.fx.to_numpy(dtype=float)[: int(market.fx.index.searchsorted(date, "right"))]
    fx_seen = ~np.isnan(fx_rows)
    fx_last = {
        str(c): fx_rows[len(fx_rows) - 1 - int(np.argmax(fx_seen[::-1, j])), j]
        for j, c in enumerate(market.fx.columns)
        if fx_seen[:, j].any()
    }
    fx = np.array(
        [1.0 if c == "USD" else fx_last.get(str(c), np.nan) for c in currency.tolist()],
        dtype=float,
    )
    return pd.DataFrame(
        {
            "price": price,
            "currency": currency,
            "price_usd": price * fx,
            "price_date": pd.to_datetime(pd.Series(last_date, index=tickers)),
        },
        index=pd.Index(tickers, name=close.columns.name),
    )


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
    oldest_ok = cutoff - pd.offsets.BDay(m.schedule.max_price_age_days)
    if check_stale and as_of < oldest_ok:
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
    require_coverage(cut, m, companies, cutoff, shares)
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
    universe = screened.frame
    from exchina.index.optimizer import optimize
    from exchina.index.top_up import top_up

    universe, topped = top_up(universe, m)
    require_eligible_data(universe, screened.failures, m, cutoff, cut.label)
    parent = _parent_weights(m, source, t, market, companies, facts)
    result = optimize(universe, cut, m, previous_weights=previous, parent_weights=parent)

    w = result.weights[result.weights > 0]
    held = list(w.index)
    px = _prices_at(market, t, held)
    price_usd = px["price_usd"].to_numpy(dtype=float)
    no_price = [tk for tk, p in zip(held, price_usd, strict=True) if not p > 0]
    if no_price:
        raise MissingDataError(f"no price in USD on or before {t.date()} for {no_price}")
    info = universe.reindex(index=held, columns=["name", "primary_stage", "country", "china_score"])
    basis = result.basis.reindex(held).fillna(0.0)
    # heaviest first, ties by ticker (stable)
    order = np.lexsort((np.array(held, dtype=str), -w.to_numpy(float)))
    columns = {
        "ticker": np.array(held, dtype=object),
        "name": info["name"].to_numpy(),
        "stage": info["primary_stage"].to_numpy(),
        "country": info["country"].to_numpy(),
        "china_score": info["china_score"].to_numpy(float),
        "basis_weight": basis.to_numpy(float),
        "weight": w.to_numpy(float),
        "shares_per_unit": (w * m.base_level / px["price_usd"]).to_numpy(float),
        "price": px["price"].to_numpy(float),
        "currency": px["currency"].to_numpy(),
        "price_usd": price_usd,
        "price_date": px["price_date"].dt.strftime("%Y-%m-%d").to_numpy(),
    }
    constituents = pd.DataFrame(
        {**{c: v[order] for c, v in columns.items()}, "data_source": market.label},
        columns=CONSTITUENT_COLUMNS,
    )

    trades = _trades(w, previous, universe, market.label)
    relaxations = ([topped] if topped is not None else []) + list(result.relaxations)
    if not with_report:
        return RebalanceResult(
            t, cutoff, m, universe, result, constituents, trades, {}, relaxations
        )
    report = _report(
        m,
        source,
        t,
        cutoff,
        cut,
        market,
        previous,
        universe,
        screened.failures,
        result,
        constituents,
        trades,
    )
    report["relaxed"] = [r.as_dict() for r in relaxations]
    return RebalanceResult(
        t, cutoff, m, universe, result, constituents, trades, report, relaxations
    )


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
    m: Methodology,
    source: Path | None,
    t: pd.Timestamp,
    cutoff: pd.Timestamp,
    cut: Market,
    market: Market,
    previous: pd.Series | None,
    universe: pd.DataFrame,
    failures: pd.DataFrame,
    result: WeightsResult,
    constituents: pd.DataFrame,
    trades: pd.DataFrame,
) -> dict[str, Any]:
    """``report.json``; ``failures``: the screens' failures (``screen_universe``), counted by
    key over the companies left out."""
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
