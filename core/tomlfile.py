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
    except RecursionError:
        raise InputError("not valid TOML: nested too deeply", file=file) from None


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Read a TOML file; a missing file is an ``InputError`` saying which kind (``what``)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} file not found", file=p) from None
    except IsADirectoryError:
        raise InputError(f"{what} path is a folder, not a file", file=p) from None
    if b"\x00" in data:
        raise InputError(f"binary data, not a {what} TOML text file", file=p)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8",
            file=p,
            row=line,
        ) from None
    return loads_toml(text, p)
