"""Log lines for scheduled runs: human text, or one JSON object per line for a log collector.

``RunLog(json_lines=True)`` writes ``{"ts": ..., "level": ..., "event": ..., "fields": {...}}``
per line on stderr (UTC ISO timestamps, JSON-safe values), so journald, Loki, CloudWatch or a CI
log viewer can filter on ``event`` and ``level``. The text form is ``level event key=value ...``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")


def _plain(value: Any) -> Any:
    """A JSON-safe version of ``value`` (paths, timestamps and numpy scalars as text/numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_plain(v) for v in items]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return str(value)


class RunLog:
    """Structured events of one run, written as they happen (``stream`` defaults to stderr)."""

    def __init__(self, json_lines: bool = False, stream: TextIO | None = None) -> None:
        self.json_lines = json_lines
        self.stream = stream
        self.events: list[dict[str, Any]] = []

    def __call__(self, level: str, event: str, **fields: Any) -> None:
        """Record and write one event."""
        if level not in LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {LEVELS}")
        record = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "event": event,
            "fields": _plain(fields),
        }
        self.events.append(record)
        out = self.stream if self.stream is not None else sys.stderr
        if self.json_lines:
            line = json.dumps(record, sort_keys=False, allow_nan=False, default=str)
        else:
            kv = " ".join(f"{k}={_text(v)}" for k, v in record["fields"].items())
            line = f"{level}: {event}" + (f" {kv}" if kv else "")
        print(line, file=out, flush=True)

    def info(self, event: str, **fields: Any) -> None:
        self("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self("error", event, **fields)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value else json.dumps(value)
    return json.dumps(value, default=str)
