"""Loaders validate every row and across files; a bad row names file, row, field and expectation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from exchina.core.errors import InputError
from exchina.core.paths import data_file
from exchina.universe import load_companies, load_facts, load_shares, load_stage_facts
from exchina.universe.rules import FACTORS, STAGES

FIX = Path(__file__).parent / "fixtures" / "universe"
BAD = FIX / "bad"


@pytest.fixture
def companies() -> pd.DataFrame:
    return load_companies(FIX / "companies.csv")


def test_fixture_files_load_with_typed_columns(companies: pd.DataFrame) -> None:
    facts = load_facts(FIX / "exposure_facts.csv")
    shares = load_shares(FIX / "shares.csv")
    assert list(companies["company_id"]) == ["alpha", "bravo", "cathay", "delta", "echo"]
    assert companies["listed_from"].dtype == "datetime64[ns]"
    assert companies.loc[4, "listed_from"] == pd.Timestamp("2024-03-01")
    assert pd.isna(companies.loc[0, "delisted_on"])
    assert len(facts) == 11
    # empty known_from is filled with source_date (known once the source is public); a given
    # one is kept
    a1 = facts.set_index("fact_id").loc["a1"]
    assert a1["known_from"] == a1["source_date"] == pd.Timestamp("2024-01-01")
    assert facts.set_index("fact_id").loc["a9", "known_from"] == pd.Timestamp("2024-12-01")
    assert facts["value"].dtype == "float64"
    assert shares["free_float"].isna().sum() == 2


@pytest.mark.parametrize(
    ("name", "row", "field", "says"),
    [
        ("companies_missing_field.csv", 3, "name", "missing value"),
        ("companies_unknown_stage.csv", 2, "stages", "unknown stage 'smelting'"),
        ("companies_share_sum.csv", 3, "stages", "sum to 1.2"),
        (
            "companies_bad_date.csv",
            2,
            "listed_from",
            "expected a date YYYY-MM-DD, got '2024-02-30'",
        ),
        ("facts_bad_date.csv", 3, "effective_from", "expected a date YYYY-MM-DD, got '2019-13-01'"),
        ("facts_unknown_factor.csv", 2, "factor", "unknown factor 'chinese_dividends'"),
        ("facts_value_out_of_range.csv", 4, "value", "share in [0, 1], got 1.5"),
        ("facts_unknown_company.csv", 2, "company_id", "unknown company_id 'zulu'"),
        ("facts_end_before_start.csv", 2, "effective_to", "must be after effective_from"),
        ("facts_missing_source.csv", 2, "source_title", "missing value"),
        ("shares_bad_free_float.csv", 2, "free_float", "less than or equal to 1"),
        ("facts_verified_before_source.csv", 2, "verified_on", "cannot predate it"),
        ("facts_known_before_source.csv", 2, "known_from", "cannot be known before its source"),
        ("stages_known_before_source.csv", 2, "known_from", "cannot be known before its source"),
        ("stages_entry_with_share.csv", 2, "share", "leave share empty when basis is entry"),
        ("stages_share_missing.csv", 2, "share", "basis revenue needs a share"),
        ("stages_unknown_stage.csv", 2, "stage", "unknown stage 'smelting'"),
        ("stages_share_sum.csv", 3, "share", "revenue shares of alpha from 2020-01-01 sum to 1.2"),
        ("stages_primary_no_reason.csv", 2, "description", "needs a one-line reason"),
    ],
)
def test_malformed_rows_name_file_row_field(
    companies: pd.DataFrame, name: str, row: int, field: str, says: str
) -> None:
    path = BAD / name
    with pytest.raises(InputError) as info:
        if name.startswith("companies"):
            load_companies(path)
        elif name.startswith("facts"):
            load_facts(path, companies=companies)
        elif name.startswith("stages"):
            load_stage_facts(path, companies=companies)
        else:
            load_shares(path, companies=companies)
    err = info.value
    assert (err.file, err.row, err.field) == (str(path), row, field)
    assert says in err.reason
    assert str(err).startswith(f"{path}, row {row}, field '{field}': ")
    assert err.exit_code == 2


def test_missing_column_is_named_on_the_header_row(tmp_path: Path) -> None:
    p = tmp_path / "companies.csv"
    p.write_text("company_id,name\nalpha,Alpha\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_companies(p)
    assert (info.value.row, info.value.field) == (1, "ticker")


def test_duplicate_ids_and_pct_and_flag_ranges(tmp_path: Path, companies: pd.DataFrame) -> None:
    head = (FIX / "exposure_facts.csv").read_text(encoding="utf-8").splitlines()[0]
    cases = {
        "a1,alpha,chinese_ownership_pct,120,,2020-01-01,,,,T,https://x,2020-01-01,A": "percent in [0, 100]",
        "a1,alpha,domicile_china,0.5,,2020-01-01,,,,T,https://x,2020-01-01,A": "flag, 1 or 0",
        "a1,alpha,allied_backing,10,,2020-01-01,,,,T,https://x,2020-01-01,A": "needs the backer",
        "a1,alpha,facilities_china,0.1,,2020-01-01,,,,T,https://x,2020-01-01,D": "'A', 'B' or 'C'",
    }
    for line, says in cases.items():
        p = tmp_path / "f.csv"
        p.write_text(f"{head}\n{line}\n", encoding="utf-8")
        with pytest.raises(InputError, match="row 2") as info:
            load_facts(p, companies=companies)
        assert says in info.value.reason
    line = "a1,alpha,facilities_china,0.1,,2020-01-01,,,,T,https://x,2020-01-01,A"
    p.write_text(f"{head}\n{line}\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_facts(p, companies=companies)
    assert (info.value.row, info.value.field) == (3, "fact_id")
    assert "first on row 2" in info.value.reason


def test_shipped_master_facts_and_shares_validate() -> None:
    companies = load_companies()
    facts = load_facts(companies=companies)
    assert companies["company_id"].is_unique and companies["ticker"].is_unique
    assert set(facts["company_id"]) <= set(companies["company_id"])
    assert set(facts["factor"]) <= set(FACTORS)
    ended = facts["effective_to"].notna()
    assert (facts.loc[ended, "effective_to"] > facts.loc[ended, "effective_from"]).all()
    stages = {s.split(":")[0] for x in companies["stages"] for s in x.split(";")}
    assert stages <= set(STAGES)
    assert data_file("shares.csv").is_file()
    shares = load_shares(companies=companies)
    assert set(shares["company_id"]) <= set(companies["company_id"])
    assert (shares["shares_outstanding"] > 0).all()
