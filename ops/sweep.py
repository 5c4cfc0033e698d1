"""Research sweeps: every combination of a grid of methodology parameters, backtested on Dask.

A grid TOML names a base methodology (``base = "flagship"``, a shipped name or a path relative to
the grid file) and, under ``[parameters]``, dotted methodology keys mapping to lists of values::

    base = "flagship"
    [parameters]
    "universe.max_china_score" = [20, 35, 50]
    "weighting.scheme" = ["capped_mcap", "equal"]

Each variant is the base with those keys overridden, validated as a ``Methodology``; a combination
the model rejects is recorded as ``invalid`` with the message and the rest still run. The market
is loaded once and scattered to every worker (``client.scatter(..., broadcast=True)``), not
re-read per variant. Runs on a ``LocalCluster`` (processes, one thread each) or a remote scheduler
by address; a variant that raises is recorded with its error and the sweep goes on.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from exchina.core.atomic import write_outputs
from exchina.core.errors import ExchinaError, InputError
from exchina.core.market import Market
from exchina.core.tomlfile import read_toml
from exchina.index.methodology import Methodology, parse_methodology, resolve_methodology

LOWER_IS_BETTER: frozenset[str] = frozenset(
    {
        "volatility",
        "tracking_error",
        "down_capture",
        "turnover_per_rebalance",
        "turnover_annual",
        "cost_total",
        "cost_drag_annual",
        "seconds",
    }
)
STATUSES = ("ok", "error", "invalid")
Task = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Grid:
    """A parsed grid: the base methodology's TOML mapping and the parameter lists to cross."""

    base: str
    base_data: dict[str, Any]
    parameters: dict[str, list[Any]]
    file: str = "<grid>"

    @property
    def size(self) -> int:
        """Number of variants (the product of the list lengths)."""
        return math.prod(len(v) for v in self.parameters.values())


@dataclass(frozen=True)
class Variant:
    """One combination: its id, the overridden values, and the validated methodology (None when
    the combination is invalid, with the reason in ``error``)."""

    variant_id: str
    params: dict[str, Any]
    methodology: Methodology | None
    error: str | None = None


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: one row per variant and the best and worst by ``metric``."""

    table: pd.DataFrame
    metric: str
    best: dict[str, Any] | None
    worst: dict[str, Any] | None
    label: str
    synthetic: bool
    elapsed_s: float
    workers: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def variants_per_second(self) -> float:
        return len(self.table) / self.elapsed_s if self.elapsed_s > 0 else math.nan

    def summary(self) -> dict[str, Any]:
        """The JSON written beside the table: counts, best, worst and provenance."""
        counts = self.table["status"].value_counts()
        return {
            "metric": self.metric,
            "higher_is_better": self.metric not in LOWER_IS_BETTER,
            "variants": len(self.table),
            **{s: int(counts.get(s, 0)) for s in STATUSES},
            "best": self.best,
            "worst": self.worst,
            "workers": self.workers,
            "elapsed_s": round(self.elapsed_s, 3),
            "variants_per_second": round(self.variants_per_second, 4),
            "data_source": self.label,
            "synthetic": self.synthetic,
        }


def _parameter_error(reason: str, file: str, key: str) -> InputError:
    return InputError(reason, file=file, field=f"parameters.{key}" if key else "parameters")


def parse_grid(data: dict[str, Any], *, file: str | Path = "<grid>") -> Grid:
    """Validate a parsed grid mapping: ``base`` (a methodology name or path) and ``[parameters]``
    (dotted key -> non-empty list). Errors name the file and the key."""
    f = str(file)
    unknown = sorted(set(data) - {"base", "parameters"})
    if unknown:
        raise InputError("unknown grid key (expected base, parameters)", file=f, field=unknown[0])
    base = data.get("base")
    if not isinstance(base, str) or not base:
        raise InputError("missing or empty: a methodology name or path", file=f, field="base")
    params = data.get("parameters")
    if not isinstance(params, dict) or not params:
        raise InputError(
            "missing or empty: dotted keys mapping to lists", file=f, field="parameters"
        )
    for key, values in params.items():
        if isinstance(values, dict):
            raise _parameter_error(
                'quote dotted keys ("universe.max_china_score" = [...]) so TOML keeps them whole',
                f,
                key,
            )
        if not isinstance(values, list) or not values:
            raise _parameter_error(f"expected a non-empty list of values, got {values!r}", f, key)
    path = resolve_methodology(base, relative_to=file if Path(f).is_file() else None)
    base_data = read_toml(path, "methodology")
    parse_methodology(base_data, file=path)
    return Grid(base=base, base_data=base_data, parameters=dict(params), file=f)


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid TOML file (a path, or the name of a grid shipped in
    ``data/grids`` such as ``flagship_sensitivity``)."""
    from exchina.core.paths import data_file

    p = Path(path)
    shipped = data_file("grids") / f"{p.stem}.toml"
    if not p.is_file() and p.parent == Path() and shipped.is_file():
        p = shipped
    return parse_grid(read_toml(p, "grid"), file=p)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise KeyError(f"{key}: {part!r} is a value, not a table")
        node = child
    node[parts[-1]] = value


def expand_grid(grid: Grid) -> list[Variant]:
    """Every combination, in grid order (the last key varies fastest), validated.

    Raises InputError when no combination is valid (a misspelt key fails every variant): the
    message is the first variant's, naming the grid file and the key."""
    keys = list(grid.parameters)
    combos = list(itertools.product(*(grid.parameters[k] for k in keys)))
    width = max(4, len(str(len(combos))))
    out: list[Variant] = []
    for i, combo in enumerate(combos):
        params = dict(zip(keys, combo, strict=True))
        data = copy.deepcopy(grid.base_data)
        vid = f"v{i:0{width}d}"
        try:
            for k, v in params.items():
                _set_dotted(data, k, v)
            out.append(Variant(vid, params, parse_methodology(data, file=grid.file)))
        except (InputError, KeyError) as exc:
            out.append(Variant(vid, params, None, str(exc).strip("'\"")))
    if out and all(v.methodology is None for v in out):
        raise InputError(f"no valid variant; first: {out[0].error}", file=grid.file)
    return out


def backtest_metrics(
    methodology: Methodology,
    market: Market,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> dict[str, Any]:
    """The default sweep task: ``run_backtest`` and its numeric metrics, plus the split of time
    between the rebalances (universe + optimizer) and the simulation.

    Compiled optimizer problems are reused across variants on a worker (the selection step is
    deterministic, so a row does not depend on what its worker ran before)."""
    from exchina.backtest.engine import run_backtest

    res = run_backtest(methodology, market, start, end)
    out: dict[str, Any] = {
        k: v
        for k, v in res.metrics().items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    out.update({f"time_{k}": v for k, v in res.timings.items()})
    out["methodology_digest"] = res.digest
    return out


def backtest_metric_names() -> list[str]:
    """The metrics ``backtest_metrics`` reports (what ``--metric`` may name), found by running
    the metric functions on a small made-up level series rather than kept as a list by hand."""
    from exchina.backtest.metrics import performance_metrics

    idx = pd.bdate_range("2020-01-01", periods=300, name="date")
    up = pd.Series(range(300), index=idx, dtype=float)
    levels = pd.DataFrame({"level_pr": 100 + up % 7 + up / 10, "level_tr": 100 + up % 5 + up / 9})
    flows = pd.Series([0.5, 0.2, 0.1], index=idx[[0, 100, 200]])
    out = performance_metrics(levels, None, None, 0.0, turnover=flows, cost=flows / 100)
    names = {k for k, v in out.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    names |= {"cagr_price_return", "rebalances", "seconds"}
    names |= {"time_rebalance_s", "time_simulate_and_data_s"}
    return sorted(names)


def run_variant(
    variant: Variant,
    market: Market,
    task: Task = backtest_metrics,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> dict[str, Any]:
    """One table row: the variant's id and parameters, the task's metrics, status and error, and
    the warnings it raised (``;``-joined, e.g. a rule relaxed by name). Never raises
    for a failing variant: the error is the row's."""
    from exchina.core.quiet import silence_solver_banner

    silence_solver_banner()  # a Dask worker is its own process: keep HiGHS's banner quiet there
    row: dict[str, Any] = {"variant_id": variant.variant_id, **_param_columns(variant.params)}
    if variant.methodology is None:
        return {**row, "status": "invalid", "error": variant.error, "seconds": 0.0}
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            metrics = task(variant.methodology, market, start, end)
            row.update({**metrics, "status": "ok", "error": None})
        except Exception as exc:
            row.update({"status": "error", "error": f"{type(exc).__name__}: {exc}"})
    row["seconds"] = time.perf_counter() - t
    messages = dict.fromkeys(str(w.message) for w in caught)
    row["warnings"] = "; ".join(messages) if messages else None
    return row


def _param_columns(params: dict[str, Any]) -> dict[str, Any]:
    """Scalar values as they are; lists and tables as JSON text (Parquet needs one type a column)."""
    return {
        k: v if isinstance(v, str | int | float | bool) else json.dumps(v)
        for k, v in params.items()
    }


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask client: connected to ``scheduler`` (an address such as ``tcp://host:8786``) or to a
    new LocalCluster of ``workers`` processes with one thread each (default: CPU count)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExchinaError(
            "sweeps run on Dask, which is not installed: pip install 'exchina[scale]'"
        ) from None

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            # None: no dashboard (distributed's unannotated default ":8787" reads as str)
            dashboard_address=cast(str, None),
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _pick(table: pd.DataFrame, metric: str, lowest: bool) -> dict[str, Any] | None:
    ok = table[(table["status"] == "ok")]
    if metric not in ok.columns:
        return None
    values = pd.to_numeric(ok[metric], errors="coerce")
    values = values[values.notna() & (values.abs() != math.inf)]
    if values.empty:
        return None
    ok = ok.loc[values.index]
    row = ok.iloc[int(values.argmin() if lowest else values.argmax())]
    return {str(k): _jsonable(v) for k, v in row.items() if k != "error"}


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _order(rows: list[dict[str, Any]], variants: list[Variant]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    order = {v.variant_id: i for i, v in enumerate(variants)}
    table = table.sort_values("variant_id", key=lambda s: s.map(order), ignore_index=True)
    head = ["variant_id", *variants[0].params, "status", "error"]
    rest = [c for c in table.columns if c not in head]
    table = table[head + rest]
    for col in ("error", "warnings"):
        table[col] = (table[col] if col in table else pd.Series(pd.NA, index=table.index)).astype(
            "string"
        )
    table["status"] = table["status"].astype("string")
    return table


def run_sweep(
    variants: list[Variant],
    market: Market,
    *,
    task: Task = backtest_metrics,
    metric: str = "sharpe",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run ``task(methodology, market, start, end)`` for every variant on Dask.

    ``client``: an existing ``distributed.Client`` (else one is made from ``scheduler`` or a
    LocalCluster of ``workers`` processes and closed afterwards). The market is scattered to every
    worker once. Returns the table (one row a variant, in grid order) and the best and worst valid
    variants by ``metric`` (lower is better for volatility, tracking error, turnover and costs)."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    if not variants:
        raise InputError("the grid has no variants", field="parameters")
    if task is backtest_metrics and metric not in (names := backtest_metric_names()):
        raise InputError(f"unknown metric {metric!r}; choose one of {names}", field="metric")
    if client is None:
        with dask_client(scheduler, workers) as own:
            return run_sweep(
                variants,
                market,
                task=task,
                metric=metric,
                start=start,
                end=end,
                client=own,
                progress=progress,
            )
    t0 = time.perf_counter()
    # a fresh key per sweep (hash=False): a second sweep on the same client must not reuse a key
    # the first one is releasing, or its tasks are cancelled for "lost dependencies"
    shared = client.scatter(market, broadcast=True, hash=False)
    scattered = time.perf_counter() - t0
    rows = [run_variant(v, market) for v in variants if v.methodology is None]
    runnable = [v for v in variants if v.methodology is not None]
    futures = {
        client.submit(run_variant, v, shared, task, start, end, pure=False): v for v in runnable
    }
    bar = tqdm(total=len(variants), desc="variants", unit="variant", disable=not progress)
    bar.update(len(rows))
    for fut in as_completed(futures):
        try:
            rows.append(fut.result())
        except Exception as exc:  # the worker died or the task could not be sent
            v = futures[fut]
            failed = {"status": "error", "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}
            rows.append({"variant_id": v.variant_id, **_param_columns(v.params), **failed})
        bar.update(1)
    bar.close()
    shared.release()
    elapsed = time.perf_counter() - t0
    table = _order(rows, variants)
    table["data_source"] = market.label
    table["synthetic"] = market.synthetic
    n_workers = len(client.nthreads()) or 1
    lowest = metric in LOWER_IS_BETTER
    return SweepResult(
        table=table,
        metric=metric,
        best=_pick(table, metric, lowest),
        worst=_pick(table, metric, not lowest),
        label=market.label,
        synthetic=market.synthetic,
        elapsed_s=elapsed,
        workers=n_workers,
        timings={"scatter_s": scattered},
    )


SWEEP_FILES = ("variants.parquet", "summary.json")
"""The files ``write_sweep`` owns in its folder (and the only ones it ever replaces)."""


def write_sweep(
    result: SweepResult, out_dir: str | Path, *, force: bool = False
) -> dict[str, Path]:
    """Write ``variants.parquet`` (the table, provenance in its metadata) and ``summary.json``
    (counts, best and worst) to ``out_dir``, each atomically; nothing else in the folder is
    touched, and a folder holding other files is refused unless ``force``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    summary = result.summary()
    table = pa.Table.from_pandas(result.table, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"exchina.data_source"] = result.label.encode()
    meta[b"exchina.synthetic"] = str(result.synthetic).lower().encode()
    table = table.replace_schema_metadata(meta)
    text = json.dumps(summary, indent=2, default=str) + "\n"
    files = {"variants.parquet": lambda p: pq.write_table(table, p), "summary.json": text}
    written = write_outputs(out_dir, files, force=force)
    return {"table": written["variants.parquet"], "summary": written["summary.json"]}
