"""Where things live: the market-data store and the shipped data folder."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import platformdirs

STORE_ENV = "EXCHINA_STORE"


def store_dir(explicit: str | Path | None = None) -> Path:
    """The store folder: ``--store`` if given, else ``$EXCHINA_STORE``, else a per-user data dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("exchina", appauthor=False)) / "store"


def data_dir() -> Path:
    """The shipped, curated data folder (company master, facts, methodologies)."""
    return Path(str(files("exchina.data")))


def data_file(name: str) -> Path:
    """A file in the shipped data folder, e.g. ``data_file("companies.csv")``."""
    return data_dir() / name


def methodology_file(name: str) -> Path:
    """A shipped methodology by file name or stem, e.g. ``"flagship"``."""
    stem = name[:-5] if name.endswith(".toml") else name
    return data_dir() / "methodologies" / f"{stem}.toml"
