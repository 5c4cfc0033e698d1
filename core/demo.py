"""The synthetic demo market: deterministic, labelled, and shaped like real data.

Used when no real prices are stored, so every command runs end to end offline. Every number here
is invented: the ``Market`` it returns has ``synthetic=True``, its source says so, and rows written
to the store carry the source ``synthetic-demo``.

Model (daily log returns, business days ``DEMO_START`` .. ``DEMO_END``)::

    r[i,t] = b_world[i] * world[t] + b_metal[i] * metal[t] + b_policy[i] * policy[t]
             + sum_s stage_weight[i,s] * stage_s[t] + sigma_idio[size[i]] * eps[i,t]

- ``world``: global equity, Student-t(4) shocks, 16 % a year, 7 % drift.
- ``metal``: rare-earth / strategic-metals factor, Student-t(3), 30 % a year; loading by stage
  (mining highest, magnets lowest) times a size multiplier.
- ``policy``: China-policy factor, quiet except at the real dates of China's export-control
  announcements (``data/events.csv`` if shipped, else ``EVENT_DATES``): a +4..+10 % shock on the
  day and a further +0.5 %/day for four days. Ex-China names load +1 (juniors more), Chinese
  (CN/HK/MO) names -0.6: controls help ex-China supply and hurt Chinese exporters' peers.
- five stage factors (mining, separation_refining, metal_alloy, magnet, recycling), 13 % a year.
- idiosyncratic Student-t(3) noise by size: large 19 %, mid 32 %, small 51 %, micro 79 % a year,
  on a slowly mean-reverting level (``IDIO_REVERSION``) so juniors neither vanish nor explode.

Real-data features: listings that start late (``listed_from``), a delisting (``delisted_on``, or
``DEFAULT_DELISTING`` for a ``delisted`` company without a date; prices drift down in its last
year), one trading halt (the first small or micro ticker in alphabetical order that is listed from
2010 and not delisted, halted ``HALT_START`` .. ``HALT_END`` and reopening 25 % lower), no-trade
days for micro caps (2 %), semi-annual dividends of producers (large 3 %, mid 2 % a year, ex-dates
the first business days of March and September), FX to USD for every listing currency
(random walks from 2010 levels), shares outstanding for plausible market caps by size (small and
micro caps issue 8 % more each January; the count is set so the market cap on the last
listed day is the size's typical one: large 20 bn, mid 3 bn, small 500 m, micro 60 m USD),
and ``REMX``, a cap-weighted USD blend of all demo names
(Chinese comparators included) with annual distributions, as the benchmark.

Deterministic: factors come from ``seed``, each ticker's own noise from ``(seed, ticker)``, so the
same seed gives the same numbers and adding a company does not change the others' noise.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from exchina.core.errors import InputError, MissingDataError
from exchina.core.market import Market
from exchina.core.paths import data_file

DEMO_SOURCE = "synthetic-demo"
DEMO_SEED = 7
DEMO_START = "2010-01-04"
# fixed (not "today") so the same seed gives the same numbers on any day; before the release date
DEMO_END = "2026-10-30"
BENCHMARK = "REMX"
DEFAULT_DELISTING = "2020-03-31"
HALT_START, HALT_END = "2016-05-02", "2016-07-29"
INSTRUMENT_COLUMNS = (
    "ticker",
    "currency",
    "stages",
    "status",
    "size",
    "listed_from",
    "delisted_on",
    "country",
)
# Fallback when data/events.csv is absent: export-control dates from shared/reference/anchors.md.
EVENT_DATES = (
    "2010-09-21",
    "2019-05-20",
    "2023-07-03",
    "2023-10-20",
    "2023-12-21",
    "2024-08-15",
    "2024-12-03",
    "2025-02-04",
    "2025-04-04",
    "2025-10-09",
    "2025-10-30",
    "2025-11-07",
)
STAGES = ("mining", "separation_refining", "metal_alloy", "magnet", "recycling")
STAGE_METAL_BETA = {
    "mining": 1.2,
    "separation_refining": 1.0,
    "metal_alloy": 0.8,
    "magnet": 0.7,
    "recycling": 0.9,
}
# size -> (idiosyncratic daily vol, factor multiplier, median market cap USD, daily turnover,
#          median starting price USD, annual dividend yield of producers)
SIZES = {
    "large": (0.012, 0.8, 2.0e10, 0.004, 40.0, 0.03),
    "mid": (0.020, 1.0, 3.0e9, 0.006, 15.0, 0.02),
    "small": (0.032, 1.3, 5.0e8, 0.008, 3.0, 0.0),
    "micro": (0.050, 1.6, 6.0e7, 0.010, 0.4, 0.0),
}
# USD per unit in January 2010 (approximate) and daily FX volatility.
FX_START = {
    "AUD": 0.89, "CAD": 0.96, "GBP": 1.61, "EUR": 1.43, "JPY": 0.0108, "CNY": 0.1465,
    "HKD": 0.129, "KRW": 0.00087, "PLN": 0.35, "CHF": 0.97, "SEK": 0.14, "NOK": 0.17,
    "DKK": 0.19, "NZD": 0.72, "SGD": 0.71, "ZAR": 0.135, "INR": 0.0216, "BRL": 0.57,
    "TWD": 0.031, "ILS": 0.27, "MYR": 0.29, "IDR": 0.000107, "THB": 0.030, "CLP": 0.002,
    "MXN": 0.077, "KZT": 0.0068, "MNT": 0.0007, "TRY": 0.67, "VND": 0.000054, "PHP": 0.0215,
}  # fmt: skip
FX_VOL = {"HKD": 0.0003, "CNY": 0.0015}
# Daily pull of the idiosyncratic log level and of FX back to their start (half-lives ~0.7 and
# ~2.7 years), so 17 years of juniors' noise leave plausible prices, market caps and rates.
IDIO_REVERSION = 1 / 250
FX_REVERSION = 1 / 1000
CHINA = ("CN", "HK", "MO")


def load_demo_instruments(path: str | Path | None = None) -> pd.DataFrame:
    """The demo's instrument list: ``INSTRUMENT_COLUMNS`` of ``data/companies.csv``.

    A minimal read (core never imports ``exchina.universe``): absent optional columns take
    neutral defaults (size mid, stage mining, status producer, listed throughout).
    """
    path = Path(path) if path else data_file("companies.csv")
    if not path.is_file():
        raise MissingDataError(f"the demo market needs {path} (the company list); it is missing")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("ticker", "currency"):
        if col not in frame.columns:
            raise InputError("column missing", file=path, row=1, field=col)
    return _with_defaults(frame)


def _with_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    defaults = {"stages": "mining", "status": "producer", "size": "mid", "country": "US"}
    out = pd.DataFrame(index=frame.index)
    for col in INSTRUMENT_COLUMNS:
        values = frame[col].astype(str) if col in frame.columns else pd.Series("", frame.index)
        values = values.fillna("").str.strip()
        out[col] = values.replace("", defaults[col]) if col in defaults else values
    out = out[out["ticker"] != ""].drop_duplicates("ticker").reset_index(drop=True)
    bad = ~out["size"].isin(list(SIZES))
    if bad.any():
        raise InputError(
            f"size {out['size'][bad].iloc[0]!r} not one of {list(SIZES)}",
            row=int(np.flatnonzero(bad)[0]) + 2,
            field="size",
        )
    return out


def event_dates(path: str | Path | None = None) -> list[pd.Timestamp]:
    """China export-control announcement dates: ``data/events.csv`` if present, else the list."""
    path = Path(path) if path else data_file("events.csv")
    if path.is_file():
        dates = pd.read_csv(path, usecols=["date"], dtype=str)["date"]
        return sorted(pd.to_datetime(dates, format="%Y-%m-%d").tolist())
    return [pd.Timestamp(d) for d in EVENT_DATES]


def parse_stages(text: str) -> dict[str, float]:
    """``mining:0.7;magnet:0.3`` -> weights summing to 1 (``mining;magnet`` -> equal weights)."""
    parts = [p.strip() for p in str(text).split(";") if p.strip()]
    weights: dict[str, float] = {}
    for p in parts:
        name, _, share = p.partition(":")
        weights[name.strip()] = float(share) if share else 1.0
    total = sum(weights.values()) or 1.0
    return {k: v / total for k, v in weights.items() if k in STAGES} or {"mining": 1.0}


def _tdist(rng: np.random.Generator, df: float, shape) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, size=shape) / np.sqrt(df / (df - 2.0))


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def demo_market(
    seed: int = DEMO_SEED,
    instruments: pd.DataFrame | None = None,
    start: str = DEMO_START,
    end: str = DEMO_END,
) -> Market:
    """The synthetic demo market for ``instruments`` (default: ``data/companies.csv``).

    Cached in-process per (seed, instruments, start, end): the same seed returns the same frames.
    """
    frame = load_demo_instruments() if instruments is None else _with_defaults(instruments)
    records = tuple(tuple(r) for r in frame[list(INSTRUMENT_COLUMNS)].itertuples(index=False))
    events = tuple(event_dates())
    return _generate(int(seed), records, str(start), str(end), events)


@lru_cache(maxsize=8)
def _generate(
    seed: int, records: tuple, start: str, end: str, events: tuple[pd.Timestamp, ...]
) -> Market:
    inst = pd.DataFrame(list(records), columns=list(INSTRUMENT_COLUMNS))
    dates = pd.bdate_range(start, end, name="date").as_unit("ns")
    n, k = len(dates), len(inst)
    rng = _rng(seed, "factors")
    world = 0.07 / 252 + 0.01 * _tdist(rng, 4, n)
    metal = 0.02 / 252 + 0.019 * _tdist(rng, 3, n)
    policy = 0.002 * rng.standard_normal(n)
    for ev in events:
        i = dates.searchsorted(pd.Timestamp(ev))
        if i < n:
            policy[i] += rng.uniform(0.04, 0.10)
            policy[i + 1 : i + 5] += 0.005
    stage_f = 0.008 * _tdist(rng, 4, (n, len(STAGES)))

    close = np.full((n, k), np.nan)
    volume = np.full((n, k), np.nan)
    dividends = np.zeros((n, k))
    shares = np.full((n, k), np.nan)
    fx = _fx(seed, sorted(set(inst["currency"]) | {"USD"}), n)
    halt_ticker = _halt_ticker(inst)
    march_sept = _first_bdays(dates, (3, 9))
    years = dates.year.to_numpy()
    notes = {}
    for j, (_, row) in enumerate(inst.iterrows()):
        idio_vol, mult, mcap, turnover, px_usd, yld = SIZES[row["size"]]
        r_t = _rng(seed, row["ticker"])
        stages = parse_stages(row["stages"])
        b_metal = mult * sum(STAGE_METAL_BETA[s] * w for s, w in stages.items())
        b_policy = -0.6 if row["country"] in CHINA else 1.0 * mult
        b_stage = np.array([stages.get(s, 0.0) for s in STAGES])
        r = (
            r_t.uniform(0.7, 1.2) * world
            + b_metal * metal
            + b_policy * policy
            + stage_f @ b_stage
            + np.diff(_mean_reverting(idio_vol * _tdist(r_t, 3, n), IDIO_REVERSION), prepend=0.0)
        )
        first = dates.searchsorted(pd.Timestamp(row["listed_from"])) if row["listed_from"] else 0
        delist = row["delisted_on"] or (DEFAULT_DELISTING if row["status"] == "delisted" else "")
        last = dates.searchsorted(pd.Timestamp(delist), side="right") if delist else n
        if delist:
            r[max(first, last - 250) : last] -= 0.003
            notes[row["ticker"]] = f"delisted {pd.Timestamp(delist):%Y-%m-%d}"
        halted = np.zeros(n, dtype=bool)
        if row["ticker"] == halt_ticker:
            h0, h1 = (
                dates.searchsorted(pd.Timestamp(HALT_START)),
                dates.searchsorted(pd.Timestamp(HALT_END), side="right"),
            )
            halted[h0:h1] = True
            r[h1] += np.log(0.75)
        pays = yld > 0 and row["status"] == "producer"
        cut = np.where(march_sept & pays, yld / 2, 0.0)
        growth = np.exp(r) - cut
        growth[first] = 1.0
        level = np.cumprod(growth[first:last])
        fx0 = fx[row["currency"]][first]
        start_px = px_usd * np.exp(0.5 * r_t.standard_normal()) / fx0
        px = start_px * level
        prev = np.concatenate([[np.nan], px[:-1]])
        div = np.nan_to_num(cut[first:last] * prev)
        no_trade = halted[first:last].copy()
        if row["size"] == "micro":
            no_trade |= r_t.random(last - first) < 0.02
        dilution = 1.08 if row["size"] in ("small", "micro") else 1.0
        # Shares set so the market cap on the last listed day is the size's typical one.
        n_sh = mcap * np.exp(0.4 * r_t.standard_normal()) / (px[-1] * fx[row["currency"]][last - 1])
        sh = n_sh * dilution ** (years[first:last] - years[last - 1])
        vol = sh * turnover * np.exp(0.5 * r_t.standard_normal(last - first))
        vol *= 1 + 20 * np.abs(r[first:last])
        close[first:last, j] = np.where(no_trade, np.nan, px)
        volume[first:last, j] = np.where(no_trade, 0.0, np.round(vol))
        dividends[first:last, j] = div
        shares[first:last, j] = sh
    tickers = pd.Index(inst["ticker"], name="ticker")
    frames = {
        name: pd.DataFrame(a, index=dates, columns=tickers)
        for name, a in (
            ("close", close),
            ("volume", volume),
            ("dividends", dividends),
            ("shares", shares),
        )
    }
    currency = pd.Series(inst["currency"].to_numpy(), index=tickers, name="currency")
    fx_frame = pd.DataFrame(fx, index=dates).rename_axis(columns="currency")
    if BENCHMARK not in tickers:
        frames, currency = _add_benchmark(frames, currency, fx_frame)
    meta = {
        "seed": str(seed),
        "model": "factor model (world, metals, China policy, stages, fat-tailed noise)",
        "benchmark": BENCHMARK,
        "halt": f"{halt_ticker} {HALT_START}..{HALT_END}" if halt_ticker else "",
        "delisted": "; ".join(f"{t} {v}" for t, v in notes.items()),
        "events": ";".join(f"{pd.Timestamp(e):%Y-%m-%d}" for e in events),
    }
    return Market(
        close=frames["close"],
        volume=frames["volume"],
        dividends=frames["dividends"],
        currency=currency,
        fx=fx_frame,
        shares=frames["shares"],
        source=f"synthetic demo market (seed {seed})",
        synthetic=True,
        meta=meta,
    )


def _mean_reverting(shocks: np.ndarray, kappa: float) -> np.ndarray:
    """AR(1) level ``x[t] = (1 - kappa) x[t-1] + shock[t]``: same daily moves, bounded drift."""
    from scipy.signal import lfilter  # 1 s to import: only when a demo market is generated

    return np.asarray(lfilter([1.0], [1.0, -(1.0 - kappa)], shocks))


def _fx(seed: int, currencies: list[str], n: int) -> dict[str, np.ndarray]:
    out = {}
    for c in currencies:
        if c == "USD":
            out[c] = np.ones(n)
            continue
        r = _rng(seed, f"fx:{c}")
        steps = FX_VOL.get(c, 0.005) * _tdist(r, 5, n)
        steps[0] = 0.0
        out[c] = FX_START.get(c, 1.0) * np.exp(_mean_reverting(steps, FX_REVERSION))
    return out


def _first_bdays(dates: pd.DatetimeIndex, months: tuple[int, ...]) -> np.ndarray:
    """Mask of the first business day of each of ``months`` in every year."""
    s = pd.Series(np.arange(len(dates)), index=dates)
    firsts = s.groupby([dates.year, dates.month]).min()
    mask = np.zeros(len(dates), dtype=bool)
    mask[firsts[firsts.index.get_level_values(1).isin(months)].to_numpy()] = True
    return mask


def _halt_ticker(inst: pd.DataFrame) -> str:
    """The company halted in the demo: first small/micro ticker listed from 2010, not delisted."""
    ok = (
        inst["size"].isin(["small", "micro"])
        & (inst["status"] != "delisted")
        & (inst["delisted_on"] == "")
        & ((inst["listed_from"] == "") | (inst["listed_from"] <= "2010-01-04"))
    )
    return str(sorted(inst.loc[ok, "ticker"])[0]) if ok.any() else ""


def _add_benchmark(
    frames: dict[str, pd.DataFrame], currency: pd.Series, fx: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """Append ``REMX``: a cap-weighted USD blend of all names, distributing yearly."""
    rate = fx[currency.to_numpy()].to_numpy()
    px = frames["close"].ffill().to_numpy() * rate
    listed = ~np.isnan(frames["shares"].to_numpy())
    mcap = np.where(listed, px * frames["shares"].to_numpy(), 0.0)
    mcap = np.nan_to_num(mcap)
    prev_px = np.vstack([np.full(px.shape[1], np.nan), px[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        pr = np.nan_to_num(px / prev_px - 1.0)
        dy = np.nan_to_num(frames["dividends"].to_numpy() * rate / prev_px)
    w_prev = np.vstack([np.zeros(px.shape[1]), mcap[:-1]])
    tot = w_prev.sum(axis=1, keepdims=True)
    w_prev = np.divide(w_prev, tot, out=np.zeros_like(w_prev), where=tot > 0)
    pr_b = (w_prev * pr).sum(axis=1)
    dy_b = (w_prev * dy).sum(axis=1)
    dates = pd.DatetimeIndex(frames["close"].index)
    year_end = np.r_[dates.year[1:] != dates.year[:-1], True]
    level = np.empty(len(dates))
    dist = np.zeros(len(dates))
    level[0], accrued = 30.0, 0.0
    for t in range(1, len(dates)):
        accrued += dy_b[t]
        level[t] = level[t - 1] * (1 + pr_b[t] + dy_b[t])
        if year_end[t]:
            dist[t] = accrued * level[t - 1]
            level[t] -= dist[t]
            accrued = 0.0
    shares = 5.0e8 / level[-1]
    out = dict(frames)
    out["close"] = frames["close"].assign(**{BENCHMARK: level})
    out["dividends"] = frames["dividends"].assign(**{BENCHMARK: dist})
    out["shares"] = frames["shares"].assign(**{BENCHMARK: shares})
    vol = np.round(2.0e5 * np.exp(0.4 * _rng(0, BENCHMARK).standard_normal(len(dates))))
    out["volume"] = frames["volume"].assign(**{BENCHMARK: vol})
    for key in out:
        out[key].columns.name = "ticker"
    return out, pd.concat([currency, pd.Series({BENCHMARK: "USD"})]).rename("currency")


def demo_long_frames(market: Market) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The demo market as the store's long tables ``(prices, fx, shares)``, for writing it
    into a store (labelled ``synthetic-demo`` there)."""
    prices = pd.concat(
        [
            _long(market.close, "close"),
            _long(market.volume, "volume"),
            _long(market.dividends, "dividends"),
        ],
        axis=1,
    ).reset_index()
    prices = prices[prices["close"].notna()].reset_index(drop=True)
    prices["currency"] = prices["ticker"].map(market.currency)
    fx = _long(market.fx.drop(columns="USD"), "usd_per_unit").reset_index()
    shares = _long(market.shares, "shares").dropna().reset_index()
    return prices, fx, shares


def _long(wide: pd.DataFrame, name: str) -> pd.Series:
    """A dates x columns frame as one long Series ``name`` (NaN cells kept)."""
    # one column level stacks to a Series; the stubs allow a frame too
    return cast(pd.Series, wide.stack(future_stack=True)).rename(name)
