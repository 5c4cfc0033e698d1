"""Changing a methodology from the app: form values in, a validated ``Methodology`` out.

The form never builds a Methodology by hand: it overlays the changed fields on the base
methodology's dump and validates the result with ``parse_methodology``, so the app accepts exactly
what a TOML file would, and an error names the dotted key. Uploaded files are size-limited and go
through the same parser (TOML is data: nothing is evaluated or unpickled).
"""

from __future__ import annotations

import copy
from typing import Any

from exchina.core.errors import InputError
from exchina.core.tomlfile import loads_toml
from exchina.index.methodology import Methodology, parse_methodology

MAX_UPLOAD_BYTES = 256 * 1024
FORM_FILE = "methodology form"


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not k.endswith("_bounds"):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def apply_changes(base: Methodology, changes: dict[str, Any]) -> Methodology:
    """``base`` with ``changes`` (a nested dict shaped like the TOML; ``*_bounds`` tables are
    replaced whole) overlaid, validated. InputError names the offending key."""
    data = _merge(base.model_dump(mode="json"), changes)
    return parse_methodology(data, file=FORM_FILE)


def stage_bounds_from_percent(
    rows: dict[str, tuple[float, float]],
) -> dict[str, tuple[float, float]]:
    """Stage bounds entered in percent -> fractions, leaving out the no-op ``[0, 100]`` rows."""
    return {s: (lo / 100.0, hi / 100.0) for s, (lo, hi) in rows.items() if (lo, hi) != (0.0, 100.0)}


def parse_upload(data: bytes, name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> Methodology:
    """Validate an uploaded methodology TOML: size, UTF-8, TOML syntax, then the schema."""
    if len(data) > max_bytes:
        raise InputError(
            f"file is {len(data) / 1024:.0f} KB; methodology files are limited to "
            f"{max_bytes // 1024} KB",
            file=name,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=name) from None
    return parse_methodology(loads_toml(text, name), file=name)
