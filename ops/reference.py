"""The reference files a run reads beside the market: the company master, the exposure facts
and the shipped share counts, loaded and validated before anything is written, with the path
and SHA-256 of each for the run's manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from exchina.core.paths import data_file


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ReferenceData:
    """The validated master and facts, and ``files``: per input (``companies``, ``facts``,
    ``shares``) its ``file`` and ``sha256``, as recorded in manifests."""

    companies: pd.DataFrame
    facts: pd.DataFrame
    files: dict[str, dict[str, str]]


def load_reference(
    companies: str | Path | None = None, facts: str | Path | None = None
) -> ReferenceData:
    """Load the company master and facts (default: the shipped files). The facts are validated
    against this master, so facts of a company it lacks are an ``InputError`` naming file, row
    and field (a custom master needs facts cut to its companies). The shipped ``shares.csv`` is
    hashed too, as it feeds float market caps."""
    from exchina.universe import load_companies, load_facts

    paths = {
        "companies": Path(companies) if companies else data_file("companies.csv"),
        "facts": Path(facts) if facts else data_file("exposure_facts.csv"),
        "shares": data_file("shares.csv"),
    }
    comp = load_companies(paths["companies"])
    frame = load_facts(paths["facts"], companies=comp)
    info = {k: {"file": str(p), "sha256": sha256_file(p)} for k, p in paths.items()}
    return ReferenceData(comp, frame, info)
