"""Run the whole benchmark suite and print one table: the machine, then every target and its figure.

Each ``bench_*.py`` script runs in its own process (so a crash or a slow peer cannot take the
others down and each gets its own peak RSS); its full output follows the summary table. The
summary picks each target's figure out of the script's printed table; a figure the script did not
print reads ``see output``.

    .venv/bin/python bench/run.py [--only simulate sweep ...] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUM = r"([-+]?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?)"


@dataclass
class Section:
    """One benchmark script and the figures its output must show."""

    name: str
    script: str
    title: str
    args: list[str] = field(default_factory=list)
    figures: list[tuple[str, Callable[[str], tuple[str, str]]]] = field(default_factory=list)


def _f(text: str) -> float:
    return float(text.replace(",", ""))


def _lines(text: str, pattern: str) -> list[re.Match]:
    return [m for m in (re.match(pattern, ln.strip()) for ln in text.splitlines()) if m]


def simulate_figures() -> list[tuple[str, Callable[[str], tuple[str, str]]]]:
    """``names days exchina pandas bt Nx Nx diff`` rows of bench_simulate.py."""
    row = rf"^(\d+)\s+(\d+)\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}x\s+{NUM}x\s+{NUM}"

    def one(n: int) -> Callable[[str], tuple[str, str]]:
        def get(text: str) -> tuple[str, str]:
            for m in _lines(text, row):
                if int(m.group(1)) == n:
                    ours, x_bt, diff = _f(m.group(3)), _f(m.group(7)), _f(m.group(8))
                    met = x_bt >= 300 and diff <= 1e-9
                    return (
                        f"{ours * 1e3:.1f} ms; {x_bt:.0f}x bt, {_f(m.group(6)):.0f}x pandas; "
                        f"levels diff {diff:.1e}",
                        "yes" if met else "NO",
                    )
            return "see output", "?"

        return get

    return [(f"simulate {n} names x 20y: >=300x bt, diff <=1e-9", one(n)) for n in (50, 150, 1000)]


def _labelled(label: str, unit: str = "s") -> Callable[[str], tuple[str, str]]:
    """A ``label .... value unit`` line."""

    def get(text: str) -> tuple[str, str]:
        for ln in text.splitlines():
            if ln.strip().lower().startswith(label.lower()):
                m = re.search(rf"{NUM}\s*{unit}(?!\w)", ln.strip()[len(label) :])
                if m:
                    return f"{_f(m.group(1)):g} {unit}", "-"
        return "see output", "?"

    return get


def _matching(pattern: str, fmt: Callable[[re.Match], tuple[str, str]]) -> Callable:
    def get(text: str) -> tuple[str, str]:
        found = _lines(text, pattern)
        return fmt(found[-1]) if found else ("see output", "?")

    return get


def _optimizer_row(n: int) -> Callable[[str], tuple[str, str]]:
    """``names fresh_ms resolve_ms variance pypfopt_diff skfolio_diff`` rows."""
    pattern = rf"^{n}\s+{NUM}\s+{NUM}\s+{NUM}\s+(.+?)\s{{2,}}(.+)$"

    def fmt(m: re.Match) -> tuple[str, str]:
        diffs = [m.group(4).strip(), m.group(5).strip()]
        text = f"fresh {m.group(1)} ms, DPP re-solve {m.group(2)} ms; variance - peers: " + (
            ", ".join(f"{p} {d}" for p, d in zip(("PyPortfolioOpt", "skfolio"), diffs, strict=True))
        )
        try:
            met = all(abs(_f(d)) <= 1e-6 for d in diffs)
        except ValueError:
            return text, "peers: next section"
        return text, "yes" if met else "NO"

    return _matching(pattern, fmt)


def _backtest_total(text: str) -> tuple[str, str]:
    for m in _lines(text, rf"^run_backtest.*?{NUM}\s*s\s*/\s*{NUM}\s*s"):
        return f"{_f(m.group(1)):g} s wall, {_f(m.group(2)):g} s CPU", "-"
    return "see output", "?"


def _sweep_row(workers: int) -> Callable[[str], tuple[str, str]]:
    pattern = rf"^{workers}\s+(\d+)\s+(\d+)\s+{NUM}\s+{NUM}\s+(\S+)\s+{NUM}x\s+{NUM}\s+min"

    def fmt(m: re.Match) -> tuple[str, str]:
        per_s, speedup, thousand = _f(m.group(4)), _f(m.group(6)), _f(m.group(7))
        text = f"{per_s:.3f} variants/s ({m.group(2)}/{m.group(1)} ok), {speedup:.2f}x"
        if workers > 1:
            text += f"; 1,000 variants ~{thousand:.0f} min (extrapolated)"
            return text, "yes" if speedup >= 0.8 * workers else "NO"
        return text, "-"

    return _matching(pattern, fmt)


def optimizer_peers(n: int) -> None:
    """The optimizer row that ``bench_optimizer.py`` leaves out: min variance at ``n`` names
    against PyPortfolioOpt and skfolio on the same dense covariance (its inputs and peers)."""
    import warnings

    sys.path.insert(0, str(HERE))
    from bench_optimizer import METHOD, peers, risk, universe

    from exchina.index import optimize
    from exchina.index.optimizer import clear_cache

    warnings.simplefilter("ignore")
    uni, rm = universe(n), risk(n, 0)
    clear_cache()
    t = time.perf_counter()
    ours = optimize(uni, None, METHOD, risk=rm)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    p = peers(uni, rm)
    t_peers = time.perf_counter() - t
    print(f"names {n}: exchina fresh {t_ours:.2f} s, both peers {t_peers:.1f} s")
    print(
        f"{n} peers diff {p['pypfopt'] - ours.objective:+.2e} {p['skfolio'] - ours.objective:+.2e}"
    )


def _peers_row(text: str) -> tuple[str, str]:
    m = _lines(text, rf"^names (\d+): exchina fresh {NUM} s, both peers {NUM} s")
    d = _lines(text, rf"^\d+ peers diff {NUM} {NUM}")
    if not (m and d):
        return "see output", "?"
    diffs = (_f(d[0].group(1)), _f(d[0].group(2)))
    text = (
        f"exchina {_f(m[0].group(2)):.2f} s fresh vs {_f(m[0].group(3)):.0f} s for both peers; "
        f"variance - peers: PyPortfolioOpt {diffs[0]:+.1e}, skfolio {diffs[1]:+.1e}"
    )
    return text, "yes" if max(abs(x) for x in diffs) <= 1e-6 else "NO"


SECTIONS = [
    Section(
        "simulate",
        "bench_simulate.py",
        "backtest core: simulate vs bt and plain pandas",
        figures=simulate_figures(),
    ),
    Section(
        "backtest",
        "bench_backtest.py",
        "full run_backtest (demo market, flagship, quarterly) and peak RSS",
        figures=[
            ("run_backtest total", _backtest_total),
            ("  share in rebalances (universe + optimizer)", _labelled("index layer", "%")),
            ("  share in simulation + data", _labelled("simulation + data", "%")),
            ("peak RSS of the full demo backtest", _labelled("peak RSS", "MB")),
        ],
    ),
    Section(
        "optimizer",
        "bench_optimizer.py",
        "optimizer: min variance with caps and group bounds vs PyPortfolioOpt and skfolio",
        figures=[
            (f"min variance {n} names: objective = peers to 1e-6", _optimizer_row(n))
            for n in (50, 500, 2000)
        ],
    ),
    Section(
        "optimizer2000",
        "run.py",
        "optimizer at 2,000 names vs PyPortfolioOpt and skfolio (dense covariance)",
        args=["--optimizer-peers", "2000"],
        figures=[("min variance 2000 names vs peers (dense): equal to 1e-6", _peers_row)],
    ),
    Section(
        "store",
        "bench_store.py",
        "store: 20 years x 2,000 tickers",
        figures=[
            ("store: read all prices", _labelled("read all prices")),
            ("store: append one day for every ticker", _labelled("append one new day")),
        ],
    ),
    Section(
        "sweep",
        "bench_sweep.py",
        "sweep: variants per second on 1 and 2 local Dask workers",
        figures=[
            ("sweep, 1 worker", _sweep_row(1)),
            ("sweep, 2 workers: near-linear (>=0.8 x workers)", _sweep_row(2)),
        ],
    ),
]


def _cpu_model() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def _version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "-"


def machine() -> list[tuple[str, str]]:
    """The rows that say what the figures were measured on."""
    libs = (
        "numpy",
        "pandas",
        "cvxpy",
        "clarabel",
        "distributed",
        "bt",
        "pyportfolioopt",
        "skfolio",
    )
    return [
        ("date", dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("RAM", f"{_ram_gb():.1f} GB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        *[(lib, _version(lib)) for lib in libs],
        ("load average at start", f"{os.getloadavg()[0]:.1f}"),
    ]


def run_script(section: Section, timeout: float) -> dict:
    """Run one script in a child process; its output, exit code, wall time and peak RSS."""
    with tempfile.TemporaryFile("w+") as out:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(HERE / section.script), *section.args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=HERE.parent,
            env={**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"},
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - t
        out.seek(0)
        text = out.read()
    code = os.waitstatus_to_exitcode(status)
    return {
        "text": text,
        "code": code,
        "wall_s": wall,
        "rss_mb": usage.ru_maxrss / 1024,
        "timed_out": wall >= timeout,
    }


def _table(rows: list[tuple[str, ...]], head: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    return "\n".join([line, sep, *body])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=[s.name for s in SECTIONS])
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per script")
    ap.add_argument("--optimizer-peers", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.optimizer_peers:
        optimizer_peers(args.optimizer_peers)
        return 0
    chosen = [s for s in SECTIONS if not args.only or s.name in args.only]
    print(_table(machine(), ("machine", "")))
    results: dict[str, dict] = {}
    for s in chosen:
        if not (HERE / s.script).is_file():
            results[s.name] = {"text": f"{s.script} is missing", "code": -1, "wall_s": 0.0}
            continue
        print(f"running {s.script} ...", file=sys.stderr, flush=True)
        results[s.name] = run_script(s, args.timeout)
    rows: list[tuple[str, ...]] = []
    for s in chosen:
        r = results[s.name]
        state = (
            "ok" if r["code"] == 0 else ("timed out" if r.get("timed_out") else f"exit {r['code']}")
        )
        rss = f"{r['rss_mb']:.0f} MB" if "rss_mb" in r else "-"
        name = " ".join([s.script, *s.args])
        rows.append((name, f"{state}; {r['wall_s']:.0f} s wall; peak RSS {rss}", ""))
        for label, get in s.figures:
            value, met = get(r["text"]) if r["code"] == 0 else ("-", "?")
            rows.append((f"  {label}", value, met))
    print()
    print(_table(rows, ("benchmark", "figure", "target met")))
    for s in chosen:
        print(f"\n## {s.title} ({s.script})\n")
        print(results[s.name]["text"].rstrip())
    return 0 if all(r["code"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
