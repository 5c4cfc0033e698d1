"""TOML in, with errors that name the file: the one reader for methodologies, grids and uploads."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from exchina.core.errors import InputError


def loads_toml(text: str, file: str | Path) -> dict[str, Any]:
    """Parse TOML text; a syntax error is an ``InputError`` naming ``file`` and the position."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=file) from None


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Read a TOML file; a missing file is an ``InputError`` saying which kind (``what``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} file not found", file=p) from None
    return loads_toml(text, p)
