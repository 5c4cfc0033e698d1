"""Announcements: the pro-forma constituents published ahead of a rebalance, the final file on
the effective date, and the difference between the two.

The methodology states the lag (``[calculation] announcement_business_days``, sessions of the
methodology's calendar before the effective date; never before the selection cut-off). On the
announcement date the scheduled run's committed rebalance for the coming effective date is
published as ``OUT/announcements/<effective>/proforma.csv`` (weights, and shares per unit at
the prices known that day); on the effective date the committed rebalance is published as
``final.csv`` with ``diff.csv``: per ticker the pro-forma and final weight and shares and whether
the name was added, removed or changed in between (a later revision of the same rebalance,
revised prices, a corporate action). Each file is written atomically; an existing file with the
same bytes is left alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from exchina.core.atomic import write_atomic
from exchina.index.methodology import Methodology
from exchina.index.schedule import sessions_before

FOLDER = "announcements"
KEEP = ["ticker", "name", "weight", "shares_per_unit", "price", "currency", "price_date"]


def announcement_date(methodology: Methodology, effective: str | pd.Timestamp) -> pd.Timestamp:
    """The session ``announcement_business_days`` before ``effective`` on the methodology's
    calendar."""
    return sessions_before(methodology, effective, methodology.announcement_lag())


def _write(path: Path, frame: pd.DataFrame) -> bool:
    data = frame.to_csv(index=False, lineterminator="\n").encode()
    if path.is_file() and path.read_bytes() == data:
        return False
    write_atomic(path, data)
    return True


def write_proforma(out: str | Path, effective: pd.Timestamp, constituents: pd.DataFrame,
                   announced: pd.Timestamp) -> Path:  # fmt: skip
    """Publish the pro-forma constituents of ``effective`` as announced on ``announced``."""
    folder = Path(out) / FOLDER / f"{effective:%Y-%m-%d}"
    cols = [c for c in [*KEEP, "data_source"] if c in constituents.columns]
    frame = constituents[cols].assign(announced=f"{announced:%Y-%m-%d}", status="pro-forma")
    _write(folder / "proforma.csv", frame)
    return folder / "proforma.csv"


def diff_constituents(proforma: pd.DataFrame, final: pd.DataFrame) -> pd.DataFrame:
    """Per ticker: pro-forma and final weight and shares per unit, their changes, and the
    status of the weight (``added`` after the announcement, ``removed``, ``changed`` or
    ``unchanged``; shares per unit move with prices between the two dates)."""
    cols = ["ticker", "name", "weight", "shares_per_unit"]
    both = pd.merge(
        proforma[cols], final[cols], on="ticker", how="outer", suffixes=("_proforma", "_final")
    ).set_index("ticker")
    name = both["name_final"].fillna(both["name_proforma"])
    out = pd.DataFrame(
        {
            "name": name,
            "weight_proforma": both["weight_proforma"].fillna(0.0),
            "weight_final": both["weight_final"].fillna(0.0),
            "shares_per_unit_proforma": both["shares_per_unit_proforma"].fillna(0.0),
            "shares_per_unit_final": both["shares_per_unit_final"].fillna(0.0),
        }
    )
    out["weight_change"] = out["weight_final"] - out["weight_proforma"]
    out["shares_change"] = out["shares_per_unit_final"] - out["shares_per_unit_proforma"]
    status = pd.Series("unchanged", index=out.index)
    status[out["weight_change"].abs() > 1e-12] = "changed"
    status[both["weight_proforma"].isna()] = "added"
    status[both["weight_final"].isna()] = "removed"
    out["status"] = status
    return (
        out.rename_axis("ticker")
        .reset_index()
        .sort_values(["weight_final", "ticker"], ascending=[False, True], kind="stable")
    )


def write_final(out: str | Path, effective: pd.Timestamp, constituents: pd.DataFrame) -> Path:
    """Publish the final constituents of ``effective`` and their difference from the pro-forma
    (every name ``added`` when no pro-forma was published)."""
    folder = Path(out) / FOLDER / f"{effective:%Y-%m-%d}"
    cols = [c for c in [*KEEP, "data_source"] if c in constituents.columns]
    final = constituents[cols].assign(status="final")
    _write(folder / "final.csv", final)
    pro = folder / "proforma.csv"
    proforma = pd.read_csv(pro) if pro.is_file() else final.iloc[0:0]
    _write(folder / "diff.csv", diff_constituents(proforma, final))
    return folder / "final.csv"
