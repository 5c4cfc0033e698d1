"""Every source_url of the shipped data: well formed, no tracking parameters, no fact recorded
twice, and no source counted for two companies (the same award, stake or contract with the same
value attributed to both)."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
import pytest

from exchina.core.paths import data_file

TRACKING_PREFIXES = ("utm_", "mc_", "_hs", "pk_", "vero_")
TRACKING_KEYS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ref_src", "cmpid", "sc_cid"}
)
COUNTED_ONCE = (
    "allied_backing",
    "chinese_ownership_pct",
    "chinese_state_holder_pct",
    "chinese_largest_holder",
    "offtake_revenue_china",
)
PLACEHOLDER_HOSTS = ("example.com", "example.org", "localhost")


def _sources() -> pd.DataFrame:
    """file, row (header = 1), company_id, factor, value, counterparty, effective_from, url."""
    parts = []
    for name in ("exposure_facts.csv", "stage_facts.csv", "shares.csv", "events.csv"):
        path = data_file(name)
        if not path.is_file():
            continue
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "factor" not in df and "stage" in df:
            # an entry row and a position row on one date are two statements
            df = df.assign(factor="stage:" + df["stage"] + "/" + df["basis"], value=df["share"])
        df = df.reindex(
            columns=["company_id", "factor", "value", "counterparty", "effective_from"],
            fill_value="",
        ).assign(file=name, row=range(2, len(df) + 2), url=df["source_url"].str.strip())
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def _tracking(url: str) -> list[str]:
    keys = [k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    return [
        k for k in keys if k.lower() in TRACKING_KEYS or k.lower().startswith(TRACKING_PREFIXES)
    ]


def normalise(url: str) -> str:
    """One spelling per page: lower-case host without www, no fragment, no tracking parameters,
    no trailing slash, http and https alike."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_KEYS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit(("https", host, parts.path.rstrip("/"), urlencode(query), ""))


def test_normalise_and_tracking_known_answers() -> None:
    url = "http://www.Example.net/a/b/?utm_source=x&id=3&fbclid=abc#top"
    assert normalise(url) == "https://example.net/a/b?id=3"
    assert _tracking(url) == ["utm_source", "fbclid"]
    assert _tracking("https://sec.gov/x?CIK=1&type=13G") == []


@pytest.fixture(scope="module")
def sources() -> pd.DataFrame:
    return _sources()


def test_every_source_url_is_a_real_looking_web_address(sources: pd.DataFrame) -> None:
    bad = []
    for r in sources.itertuples():
        if not r.url:
            if r.file == "shares.csv":  # shares.csv allows an empty URL (source_title names it)
                continue
            bad.append(f"{r.file} row {r.row}: empty source_url")
            continue
        p = urlsplit(r.url)
        host = p.netloc.lower()
        if p.scheme not in ("http", "https") or "." not in host or any(c.isspace() for c in r.url):
            bad.append(f"{r.file} row {r.row}: not an http(s) address: {r.url}")
        elif host.removeprefix("www.") in PLACEHOLDER_HOSTS or "..." in r.url or "%2525" in r.url:
            bad.append(f"{r.file} row {r.row}: placeholder or mangled address: {r.url}")
    assert not bad, "\n".join(bad)


def test_no_tracking_parameters(sources: pd.DataFrame) -> None:
    bad = [
        f"{r.file} row {r.row}: {', '.join(_tracking(r.url))} in {r.url}"
        for r in sources.itertuples()
        if r.url and _tracking(r.url)
    ]
    assert not bad, "\n".join(bad)


def test_no_fact_recorded_twice(sources: pd.DataFrame) -> None:
    facts = sources.loc[sources["file"].isin(["exposure_facts.csv", "stage_facts.csv"])]
    seen: dict[tuple, str] = {}
    bad = []
    for r in facts.itertuples():
        key = (r.company_id, r.factor, r.value, r.counterparty, r.effective_from, normalise(r.url))
        where = f"{r.file} row {r.row}"
        if key in seen:
            bad.append(f"{where} repeats {seen[key]}: {key}")
        seen.setdefault(key, where)
    assert not bad, "\n".join(bad)


def test_no_source_counted_for_two_companies(sources: pd.DataFrame) -> None:
    """One page may describe several companies (a DoD release naming two awards; a market-wide
    pricing note behind several estimated pricing facts), but one award, stake or contract
    (allied backing, ownership, offtake: the same factor, value and counterparty from one page)
    belongs to one company: an EXIM letter counted for both a parent and its partner is counted
    twice."""
    facts = sources.loc[
        (sources["file"] == "exposure_facts.csv")
        & (sources["value"] != "")
        & sources["factor"].isin(COUNTED_ONCE)
    ]
    facts = facts.loc[pd.to_numeric(facts["value"], errors="coerce").fillna(0.0) != 0.0]
    owners: dict[tuple, set[str]] = defaultdict(set)
    rows: dict[tuple, list[str]] = defaultdict(list)
    for r in facts.itertuples():
        key = (normalise(r.url), r.factor, float(r.value), r.counterparty.strip().lower())
        owners[key].add(r.company_id)
        rows[key].append(f"row {r.row} ({r.company_id})")
    bad = [
        f"{k[1]} {k[2]:g} {k[3]!r} from {k[0]}: {', '.join(rows[k])}"
        for k, who in owners.items()
        if len(who) > 1
    ]
    assert not bad, "exposure_facts.csv counts one source for two companies:\n" + "\n".join(bad)
