"""No pickle, eval or exec of anything a user supplies: user files are parsed as data only
(CSV, Parquet, TOML, JSON). Scans the package source, the app and the benchmark scripts."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["core", "universe", "index", "backtest", "src/exchina", "data", "bench", "app.py"]
FORBIDDEN = {
    "pickle / marshal / shelve": re.compile(
        r"\b(c?pickle|marshal|shelve|dill|cloudpickle)\s*\.\s*loads?\b|\bimport\s+(c?pickle|marshal|shelve|dill)\b"
    ),
    "pandas read_pickle": re.compile(r"\bread_pickle\s*\("),
    "numpy allow_pickle": re.compile(r"allow_pickle\s*=\s*True"),
    "joblib / torch load": re.compile(r"\b(joblib|torch)\s*\.\s*load\s*\("),
    "yaml.load": re.compile(r"\byaml\s*\.\s*(unsafe_)?load\s*\("),
    "eval(": re.compile(r"(?<![\w.])eval\s*\("),
    "exec(": re.compile(r"(?<![\w.])exec\s*\("),
    "compile(": re.compile(r"(?<![\w.])compile\s*\(\s*[^r'\"]"),
    "__import__": re.compile(r"\b__import__\s*\("),
}


def _files() -> list[Path]:
    out = []
    for name in SOURCES:
        p = REPO / name
        out += [p] if p.is_file() else sorted(p.rglob("*.py"))
    return out


def test_patterns_catch_what_they_should():
    bad = "x = pickle.load(fh)\ny = eval(text)\nexec(code)\nimport pickle\npd.read_pickle(p)\n"
    hits = {k for k, rx in FORBIDDEN.items() for line in bad.splitlines() if rx.search(line)}
    assert hits == {"pickle / marshal / shelve", "eval(", "exec(", "pandas read_pickle"}
    fine = "df.eval('a + b')\nast.literal_eval(s)\nre.compile(r'x')\nself.exec_time = 1\n"
    assert not [k for k, rx in FORBIDDEN.items() for line in fine.splitlines() if rx.search(line)]


def test_package_source_never_unpickles_or_evaluates():
    files = _files()
    assert len(files) > 30  # the scan really covers the package
    hits = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            hits += [
                f"{path.relative_to(REPO)}:{n}: {k}"
                for k, rx in FORBIDDEN.items()
                if rx.search(code)
            ]
    assert hits == []
