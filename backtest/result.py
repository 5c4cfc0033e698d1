"""What a backtest produces: levels, every rebalance's weights, trades and costs, and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from exchina.backtest.attribution import attribution, brinson
from exchina.backtest.exposures import china_exposure, exposures
from exchina.backtest.metrics import performance_metrics
from exchina.core.errors import InputError

RELAXATION_COLUMNS = ("date", "rule", "amount", "limit", "breaches", "names")


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest.

    levels:    date x (level_pr, level_tr, benchmark): USD levels from the first rebalance
    weights:   effective date x ticker, target weights set at each rebalance's close
    drifted:   effective date x ticker, weights just before each rebalance's trades
    trades:    effective date x ticker, target minus drifted weight
    costs:     per rebalance: review, effective, turnover (one-way), cost (fraction of value)
    universe:  long frame, one row per (rebalance ``date`` = effective, ``ticker``) as built at
               its review: china_score, primary_stage, country, eligible, ...
    prices_usd: dates x held tickers, USD closes the simulation used (for attribution)
    gaps:      held names with missing prices, held at their last price (see ``simulate``)
    label:     provenance of the market data (``Market.label``); ``synthetic`` flags demo data
    benchmark_name: the benchmark ticker or methodology name (None without one)
    peer_name, peer_weights, peer_universe: a methodology run beside the index (levels column
               ``peer``, or the benchmark itself when that is a methodology), for comparisons
    store_version: the market-data store version read (None for the demo market)
    relaxations: long frame, one row per rule that gave way at a rebalance (``date``, ``rule``,
               ``amount``, ``limit``, ``breaches``, ``names``); ``costs`` counts them per rebalance
    notes:     human-readable notes (names dropped for lack of a price, rebalance statuses, ...)
    """

    methodology: str
    digest: str
    levels: pd.DataFrame
    weights: pd.DataFrame
    drifted: pd.DataFrame
    trades: pd.DataFrame
    costs: pd.DataFrame
    universe: pd.DataFrame
    prices_usd: pd.DataFrame
    gaps: pd.DataFrame
    label: str
    synthetic: bool
    benchmark_name: str | None = None
    peer_name: str | None = None
    peer_weights: pd.DataFrame | None = None
    peer_universe: pd.DataFrame | None = None
    peer_prices_usd: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    store_version: str | None = None
    relaxations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(RELAXATION_COLUMNS))
    )

    @property
    def data_source(self) -> str:
        """The provenance string stamped on every file (``Market.label``)."""
        return self.label

    def metrics(self, periods_per_year: float | None = None, risk_free: float = 0.0) -> dict:
        """``performance_metrics`` on the total-return level (NET of transaction costs) against
        the benchmark, with turnover and cost drag, plus the price-return CAGR and provenance.
        Annualised as everywhere (``exchina.backtest.annualise``): CAGR by calendar time,
        volatility with the series' own periods a year unless ``periods_per_year`` is given."""
        bench = self.levels.get("benchmark")
        if bench is not None and bench.isna().all():
            bench = None
        out = performance_metrics(
            self.levels,
            bench,
            periods_per_year,
            risk_free,
            turnover=self.costs["turnover"],
            cost=self.costs["cost"],
        )
        out["cagr_price_return"] = performance_metrics(
            self.levels, None, periods_per_year, column="level_pr"
        )["cagr"]
        out["rebalances"] = len(self.weights)
        out |= self.relaxation_summary()
        ev = self.evidence()
        for col in ev.columns:
            known = ev[col].dropna()
            out[f"{col}_avg"] = float(known.mean()) if len(known) else None
            out[f"{col}_last"] = float(known.iloc[-1]) if len(known) else None
        out["methodology"] = self.methodology
        out["methodology_digest"] = self.digest
        out["benchmark"] = self.benchmark_name
        out["data_source"] = self.label
        out["synthetic"] = self.synthetic
        return out

    def relaxation_summary(self) -> dict:
        """``rebalances_relaxed`` (how many rebalances relaxed a rule) and ``worst_relaxation``
        (the largest relaxation relative to its limit: rule, amount, limit, date), None if none."""
        r = self.relaxations
        if r.empty:
            return {"rebalances_relaxed": 0, "worst_relaxation": None}
        share = r["amount"].astype(float) / r["limit"].astype(float)
        worst = r.iloc[int(share.to_numpy().argmax())]
        text = (
            f"{worst['rule']} by {float(worst['amount']):.4g} of {float(worst['limit']):g} "
            f"on {pd.Timestamp(worst['date']).date()}"
        )
        return {"rebalances_relaxed": int(r["date"].nunique()), "worst_relaxation": text}

    def exposures(self, by: str = "primary_stage") -> pd.DataFrame:
        """Target weight per group at each rebalance (see ``exchina.backtest.exposures``)."""
        return exposures(self.weights, self.universe, by)

    def china_exposure(self) -> pd.DataFrame:
        """Weighted China score at each rebalance: the index's and, when there is one, the peer
        methodology's (column named after it)."""
        out = china_exposure(self.weights, self.universe).rename("index").to_frame()
        if self.peer_weights is not None and self.peer_universe is not None:
            other = china_exposure(self.peer_weights, self.peer_universe)
            out = out.join(other.rename(str(self.peer_name)), how="outer")
        return out

    def confidence_exposure(self) -> pd.DataFrame:
        """Weight-averaged confidence (0-1) of the China scores at each rebalance, beside
        ``china_exposure``: the index's and, when there is one, the peer methodology's."""
        out = china_exposure(self.weights, self.universe, "confidence").rename("index").to_frame()
        if self.peer_weights is not None and self.peer_universe is not None:
            other = china_exposure(self.peer_weights, self.peer_universe, "confidence")
            out = out.join(other.rename(str(self.peer_name)), how="outer")
        return out

    def evidence(self) -> pd.DataFrame:
        """The index's weighted China score and weighted confidence at each rebalance."""
        return pd.DataFrame(
            {
                "weighted_china_score": china_exposure(self.weights, self.universe),
                "weighted_confidence": china_exposure(self.weights, self.universe, "confidence"),
            }
        )

    def attribution(self, by: str = "primary_stage") -> pd.DataFrame:
        """Contribution to each holding period's price return by group."""
        return attribution(self.prices_usd, self.weights, self.universe, by)

    def brinson(self, by: str = "primary_stage") -> pd.DataFrame:
        """Brinson-Fachler attribution against the peer methodology (allocation, selection,
        interaction per period and group); needs a peer run on the same schedule."""
        if self.peer_weights is None or self.peer_universe is None or self.peer_prices_usd is None:
            raise InputError("no peer methodology was run beside the index", field="peer")
        ours = self.attribution(by)
        theirs = attribution(self.peer_prices_usd, self.peer_weights, self.peer_universe, by)
        return brinson(ours, theirs)
