"""The scheduler examples in ``examples/`` call ``exchina run`` with options that exist, and
their exit-code handling matches ``EXIT_CODES``."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import yaml

from exchina.cli import main
from exchina.core.errors import EXIT_CODES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run_args(command: str, out: Path) -> list[str]:
    """The arguments after ``exchina`` in ``command``, output folder moved to ``out``."""
    command = re.sub(r"\$\{\{.*?\}\}", "", command).replace("\\\n", " ")
    words = shlex.split(command.split(">")[0])
    args = words[next(i for i, w in enumerate(words) if w.endswith("exchina")) + 1 :]
    i = args.index("--out")
    return [*args[: i + 1], str(out), *args[i + 2 :]]


def _accepted(args: list[str], capsys) -> None:
    """Options parse and the run starts: on a non-scheduled day it exits 0 doing nothing (the
    daily calculation, tested in test_daily_run, is left out: this store holds no prices)."""
    assert main([*args, "--date", "2025-12-18", "--no-calc"]) == 0
    assert "not a review or effective date" in capsys.readouterr().out


def test_cron_line(tmp_path, capsys):
    lines = [x for x in (EXAMPLES / "crontab.txt").read_text().splitlines() if x and x[0].isdigit()]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert fields[:5] == ["30", "22", "*", "*", "1-5"]
    args = _run_args(fields[5], tmp_path / "out")
    assert args[:1] == ["run"] and "--log-json" in args
    _accepted(args, capsys)


def test_systemd_units(tmp_path, capsys):
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(EXAMPLES / "systemd" / "exchina-run.service")
    assert service["Service"]["Type"] == "oneshot"
    no_retry = {int(c) for c in service["Service"]["RestartPreventExitStatus"].split()}
    assert no_retry == set(EXIT_CODES) - {0, 1, 7, 130}  # a failed source or a stop is retried
    _accepted(_run_args(service["Service"]["ExecStart"], tmp_path / "out"), capsys)
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(EXAMPLES / "systemd" / "exchina-run.timer")
    assert timer["Timer"]["OnCalendar"].startswith("Mon..Fri")
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_github_actions_workflow(tmp_path, capsys):
    flow = yaml.safe_load((EXAMPLES / "github-actions-rebalance.yml").read_text())
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads `on` as a boolean
    assert triggers["schedule"][0]["cron"] == "30 22 * * 1-5"
    steps = flow["jobs"]["run"]["steps"]
    command = next(s["run"] for s in steps if "exchina run" in s.get("run", ""))
    args = _run_args(command.replace('"$OUT"', "OUT"), tmp_path / "out")
    _accepted(args, capsys)
