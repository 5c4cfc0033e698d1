"""The persistent result cache: keyed by its inputs and the code version, whole entries or none,
one computation when several processes ask for the same key at once."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from exchina.core.resultcache import CACHE_ENV, ResultCache, cache_dir, code_version


def test_round_trip_and_keys(tmp_path: Path):
    cache = ResultCache(tmp_path)
    calls = []

    def compute(x):
        calls.append(x)
        return pd.Series([x, x + 1.0], name="s")

    a = cache.get_or_compute("kind", ("m1", "data1"), lambda: compute(1.0))
    b = cache.get_or_compute("kind", ("m1", "data1"), lambda: compute(1.0))
    pd.testing.assert_series_equal(a, b)
    assert calls == [1.0]  # second call read the disk
    cache.get_or_compute("kind", ("m1", "data2"), lambda: compute(2.0))  # other data: new entry
    cache.get_or_compute("kind", ("m2", "data1"), lambda: compute(3.0))  # other methodology
    assert calls == [1.0, 2.0, 3.0]
    assert len(list((tmp_path / "kind").glob("*.zip"))) == 3
    assert not list((tmp_path / "kind").glob(".tmp-*"))  # no temporary file left behind


def test_code_version_is_in_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache = ResultCache(tmp_path)
    before = cache.path("kind", "m1")
    assert code_version() in code_version()  # stable within a process (memoised)
    monkeypatch.setattr("exchina.core.resultcache.code_version", lambda: "another-version")
    assert cache.path("kind", "m1") != before


def test_corrupt_entry_is_recomputed(tmp_path: Path):
    cache = ResultCache(tmp_path)
    cache.put("kind", {"a": 1}, "k")
    cache.path("kind", "k").write_bytes(b"\x80\x05truncated")
    assert cache.get("kind", "k") is None and not cache.path("kind", "k").exists()
    assert cache.get_or_compute("kind", ("k",), lambda: {"a": 2}) == {"a": 2}


def test_unwritable_folder_still_computes(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ResultCache(blocker / "cache")
    assert cache.get_or_compute("kind", ("k",), lambda: 42) == 42


def test_cache_folder_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.setenv(CACHE_ENV, "off")
    assert cache_dir() is None
    assert ResultCache.default().get_or_compute("k", ("a",), lambda: 7) == 7
    monkeypatch.delenv(CACHE_ENV)
    assert "exchina" in str(cache_dir())


def _slow_compute(root: str, log: str) -> None:
    def compute():
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        return list(range(1000))

    out = ResultCache(Path(root)).get_or_compute("race", ("same",), compute)
    assert out == list(range(1000))


def test_processes_compute_a_key_once(tmp_path: Path):
    log = tmp_path / "computed.log"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_slow_compute, args=(str(tmp_path), str(log))) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert len(log.read_text().split()) == 1  # one process computed, two read its entry


@pytest.mark.slow
def test_results_round_trip_as_data(tmp_path: Path):
    """The market, a backtest and a rebalance come back from their data files equal."""
    from exchina.backtest import resolve_benchmark, run_backtest
    from exchina.core.resultfile import read_result, write_result
    from exchina.core.sources import load_market
    from exchina.index.methodology import load_methodology, resolve_methodology
    from exchina.index.rebalance import rebalance

    market = load_market("demo")
    m = load_methodology(resolve_methodology("equal_weight"))
    bench, _ = resolve_benchmark(m, market=market)
    res = run_backtest(m, market, start="2022-01-01", benchmark=bench)
    reb = rebalance(res.weights.index[-1], m, market)

    def again(x):
        path = tmp_path / "x.zip"
        with path.open("wb") as f:
            write_result(x, f)
        with path.open("rb") as f:
            return read_result(f)

    mk2, res2, reb2 = again(market), again(res), again(reb)
    pd.testing.assert_frame_equal(mk2.close, market.close)
    pd.testing.assert_frame_equal(mk2.fx, market.fx)
    pd.testing.assert_series_equal(mk2.currency, market.currency)
    assert mk2.label == market.label and mk2.meta == market.meta
    pd.testing.assert_frame_equal(res2.levels, res.levels)
    pd.testing.assert_frame_equal(res2.weights, res.weights)
    pd.testing.assert_frame_equal(res2.universe, res.universe)
    assert res2.metrics() == pytest.approx(res.metrics(), nan_ok=True)
    assert res2.notes == res.notes and res2.benchmark_name == res.benchmark_name
    pd.testing.assert_frame_equal(reb2.constituents, reb.constituents)
    assert reb2.methodology.digest() == reb.methodology.digest()
    assert reb2.report == reb.report
    pd.testing.assert_series_equal(reb2.optimized.weights, reb.optimized.weights)


def test_only_exchina_classes_are_read(tmp_path: Path):
    import io
    import json
    import zipfile

    from exchina.core.resultfile import read_result, write_result

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tree.json", json.dumps({"dataclass": "os:system", "fields": {}}))
    buf.seek(0)
    with pytest.raises(ValueError, match="refusing"):
        read_result(buf)
    with pytest.raises(TypeError):
        write_result(object(), io.BytesIO())
