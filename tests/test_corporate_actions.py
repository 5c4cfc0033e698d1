"""Corporate actions by written rules, each a worked example with levels computed by hand.

Every example holds index shares ``q = w x 1e9 / P`` at the first close (divisor 1e6, base
1000), so the levels below are checked with pencil arithmetic in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchina.core.errors import InputError, MissingDataError
from exchina.index.corporate_actions import (
    CorporateActionRules,
    actions_for,
    load_corporate_actions,
)
from exchina.index.daily_calc import calculate_daily
from exchina.index.withholding import load_withholding, withholding_rates

DAYS = pd.bdate_range("2025-09-22", periods=4, name="date")
COLS = ["action_id", "ticker", "type", "date", "ratio", "amount", "currency"]


def _prices(**cols: list[float]) -> pd.DataFrame:
    return pd.DataFrame(cols, index=DAYS[: len(next(iter(cols.values())))], dtype="float64")


def _weights(**w: float) -> pd.DataFrame:
    return pd.DataFrame([w], index=DAYS[:1])


def _actions(*rows: tuple) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLS)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_reverse_split_one_for_four_moves_no_level() -> None:
    # A 10, 11, then 1:4 reverse split: trades at 44 (= 11 x 4), then 48; B 20, 20, 22, 22.
    # q_A = 5e7, q_B = 2.5e7; day 1: 5.5e8 + 5e8 = 1050; day 2: q_A = 1.25e7,
    # 1.25e7 x 44 + 2.5e7 x 22 = 1100; day 3: 1.25e7 x 48 + 5.5e8 = 1150.
    raw = _prices(A=[10, 11, 44, 48], B=[20, 20, 22, 22])
    split = _actions(("a-rs", "A", "split", DAYS[2], 0.25, None, ""))
    calc = calculate_daily(_weights(A=0.5, B=0.5), raw, actions=split, split_adjusted=False)
    np.testing.assert_allclose(calc.levels["level_pr"], [1000, 1050, 1100, 1150], rtol=1e-12)
    assert (calc.levels["divisor"] == 1e6).all()
    row = calc.actions.iloc[0]
    assert (row["type"], row["shares_before"], row["shares_after"]) == ("split", 5e7, 1.25e7)
    assert row["divisor_before"] == row["divisor_after"] == 1e6
    # the same index on split-adjusted closes (as Yahoo and Market hold them): same levels
    adjusted = raw.assign(A=[40.0, 44.0, 44.0, 48.0])
    again = calculate_daily(_weights(A=0.5, B=0.5), adjusted, actions=split)
    pd.testing.assert_frame_equal(again.levels, calc.levels)
    assert calc.holdings["shares"].tolist() == [5e7, 2.5e7]


def test_cash_takeover_at_the_offer_reinvested_pro_rata() -> None:
    # A 10, 11, 11, 12.1; B 20, 20, suspended, gone (offer 24 at the close of day 2); C 40,40,44,44
    # q = 5e7, 1.25e7, 6.25e6. Day 1: 5.5e8 + 2.5e8 + 2.5e8 = 1050.
    # Day 2: 5.5e8 + 1.25e7 x 24 + 6.25e6 x 44 = 5.5e8 + 3e8 + 2.75e8 = 1125; proceeds 3e8 go
    # pro rata to A and C (8.25e8): shares x 15/11 -> q_A = 6.8182e7, q_C = 8.5227e6.
    # Day 3: 6.8182e7 x 12.1 + 8.5227e6 x 44 = 8.25e8 + 3.75e8 = 1200.
    px = _prices(A=[10, 11, 11, 12.1], B=[20, 20, np.nan, np.nan], C=[40, 40, 44, 44])
    take = _actions(("b-cash", "B", "takeover_cash", DAYS[2], None, 24.0, "USD"))
    calc = calculate_daily(_weights(A=0.5, B=0.25, C=0.25), px, actions=take)
    np.testing.assert_allclose(calc.levels["level_pr"], [1000, 1050, 1125, 1200], rtol=1e-12)
    assert calc.levels["constituents"].tolist() == [3, 3, 2, 2]
    row = calc.actions.iloc[0]
    assert (row["ticker"], row["price_local"], row["shares_after"]) == ("B", 24.0, 0.0)
    assert row["divisor_before"] == row["divisor_after"]
    assert "pro rata in 2" in row["detail"]


def test_shenghe_takeover_of_peak_from_the_shipped_table() -> None:
    # The real event: A$0.443 a share paid 2025-09-30 (suspended from the close of 2025-09-19).
    # PEK.AX last traded at A$0.44; AUDUSD 0.65; LYC.AX A$10 then A$10.5.
    # Weights 0.2 / 0.8 on 2025-09-26: q_PEK = 2e8 / (0.44 x 0.65), q_LYC = 8e8 / 6.5.
    # 2025-09-29: unchanged, 1000. 2025-09-30: PEK at the offer: 2e8 x 0.443 / 0.44
    # = 2.013636e8, LYC 8e8 x 1.05 = 8.4e8 -> 1041.3636...; 2025-10-01: LYC 10.5 -> 11.0:
    # value 1.0413636e9 x (11/10.5) = 1090.952...
    table = actions_for(load_corporate_actions(), synthetic=False)
    days = pd.DatetimeIndex(["2025-09-26", "2025-09-29", "2025-09-30", "2025-10-01"], name="date")
    px = pd.DataFrame(
        {"PEK.AX": [0.44, np.nan, np.nan, np.nan], "LYC.AX": [10.0, 10.0, 10.5, 11.0]}, index=days
    )
    fx = pd.DataFrame(0.65, index=days, columns=px.columns)
    w = pd.DataFrame([{"PEK.AX": 0.2, "LYC.AX": 0.8}], index=days[:1])
    calc = calculate_daily(w, px, fx=fx, actions=table)
    after = (2e8 * 0.443 / 0.44 + 8.4e8) / 1e6
    np.testing.assert_allclose(
        calc.levels["level_pr"], [1000, 1000, after, after * 11 / 10.5], rtol=1e-12
    )
    (row,) = calc.actions.itertuples(index=False)
    assert (row.action_id, row.price_local) == ("pek-shenghe-scheme", 0.443)


def test_delisting_between_reviews_at_the_last_price() -> None:
    # C last trades at 40 on day 1 and is delisted at the close of day 2 at that price.
    # q = 5e7 (A), 1.25e7 (B), 6.25e6 (C). Day 1: A 11 -> 1050. Day 2: A 11, B 22:
    # 5.5e8 + 2.75e8 + 2.5e8 = 1075; 2.5e8 reinvested pro rata in A, B (8.25e8): x 43/33.
    # Day 3: A 12.1, B 22 -> (6.05e8 + 2.75e8) x 43/33 = 8.8e8 x 43/33 = 1146.666...
    px = _prices(A=[10, 11, 11, 12.1], B=[20, 20, 22, 22], C=[40, 40, np.nan, np.nan])
    gone = _actions(("c-del", "C", "delisting", DAYS[2], None, None, ""))
    calc = calculate_daily(_weights(A=0.5, B=0.25, C=0.25), px, actions=gone)
    np.testing.assert_allclose(
        calc.levels["level_pr"], [1000, 1050, 1075, 8.8e8 * 43 / 33 / 1e6], rtol=1e-12
    )
    zero = calculate_daily(
        _weights(A=0.5, B=0.25, C=0.25), px, actions=gone,
        rules=CorporateActionRules(delisting_price="zero"),
    )  # fmt: skip
    # at zero: day 2 = 5.5e8 + 2.75e8 = 825; day 3 = 6.05e8 + 2.75e8 = 880
    np.testing.assert_allclose(zero.levels["level_pr"], [1000, 1050, 825, 880], rtol=1e-12)


def test_long_suspension_removed_after_the_stated_days() -> None:
    # C stops trading after day 0; with suspension_max_days = 2 it leaves at its last price (40)
    # at the close of day 3 (3 business days without a price), proceeds pro rata to A.
    days = pd.bdate_range("2025-09-22", periods=6, name="date")
    px = pd.DataFrame({"A": [10.0, 10, 10, 10, 11, 11], "C": [40.0] + [np.nan] * 5}, index=days)
    w = pd.DataFrame([{"A": 0.5, "C": 0.5}], index=days[:1])
    calc = calculate_daily(w, px, rules=CorporateActionRules(suspension_max_days=2))
    (row,) = calc.actions.itertuples(index=False)
    assert (row.type, row.date, row.price_local) == ("suspension", days[3], 40.0)
    # after removal all 1e9 sits in A (1e8 shares): day 4 at 11 -> 1100
    np.testing.assert_allclose(calc.levels["level_pr"], [1000, 1000, 1000, 1000, 1100, 1100])


def test_dividend_with_withholding_tax_gross_and_net() -> None:
    # A (Australia, 30%) goes ex 1.00 on day 1 and trades 10 -> 9.5; B (UK, 0%) 20, 20, 22.
    # q_A = 5e7, q_B = 2.5e7. Day 1: PR = (4.75e8 + 5e8)/1e6 = 975; gross points 5e7 x 1 / 1e6
    # = 50 -> TR 1025; net points 35 -> NTR 1010. Day 2: PR 1025; TR = 1025 x 1025/975
    # = 1077.5641...; NTR = 1010 x 1025/975 = 1061.7948...
    px = _prices(A=[10, 9.5, 9.5], B=[20, 20, 22])
    div = pd.DataFrame({"A": [0.0, 1.0, 0.0], "B": 0.0}, index=px.index)
    wht = withholding_rates(pd.Series({"A": "AU", "B": "GB"}))
    calc = calculate_daily(_weights(A=0.5, B=0.5), px, dividends=div, withholding=wht)
    lv = calc.levels
    np.testing.assert_allclose(lv["level_pr"], [1000, 975, 1025], rtol=1e-12)
    np.testing.assert_allclose(lv["level_tr"], [1000, 1025, 1050625 / 975], rtol=1e-12)
    np.testing.assert_allclose(lv["level_ntr"], [1000, 1010, 1035250 / 975], rtol=1e-12)
    # a methodology override (Australian franked dividends carry no withholding) wins
    franked = withholding_rates(pd.Series({"A": "AU", "B": "GB"}), overrides={"AU": 0.0})
    same = calculate_daily(_weights(A=0.5, B=0.5), px, dividends=div, withholding=franked)
    np.testing.assert_allclose(same.levels["level_ntr"], same.levels["level_tr"], rtol=1e-12)


def test_special_dividend_offset_by_the_divisor() -> None:
    # A pays a special 2.00 on day 1 and trades 10 -> 8. D = 1e6 x (1e9 - 5e7 x 2) / 1e9 = 9e5;
    # PR = (4e8 + 5e8) / 9e5 = 1000, TR = 1000; NTR = 1000 - 5e7 x 2 x 0.3 / 9e5 = 966.666...
    px = _prices(A=[10, 8], B=[20, 20])
    special = _actions(("a-sp", "A", "special_dividend", DAYS[1], None, 2.0, "USD"))
    wht = pd.Series({"A": 0.3, "B": 0.0})
    calc = calculate_daily(_weights(A=0.5, B=0.5), px, actions=special, withholding=wht)
    np.testing.assert_allclose(calc.levels["divisor"], [1e6, 9e5])
    np.testing.assert_allclose(calc.levels["level_pr"], [1000, 1000])
    np.testing.assert_allclose(calc.levels["level_tr"], [1000, 1000])
    np.testing.assert_allclose(calc.levels["level_ntr"], [1000, 1000 - 3e7 / 9e5])


def test_replacement_only_below_the_minimum_count() -> None:
    px = _prices(A=[10, 11, 11, 12.1], B=[20, 20, np.nan, np.nan], C=[40, 40, 44, 44],
                 R=[5.0, 5, 5, 6])  # fmt: skip
    take = _actions(("b-cash", "B", "takeover_cash", DAYS[2], None, 24.0, "USD"))
    rules = CorporateActionRules(removal_proceeds="replacement", min_constituents=3)
    calc = calculate_daily(
        _weights(A=0.5, B=0.25, C=0.25, R=0.0), px, actions=take, rules=rules,
        reserves={DAYS[0]: ["R"]},
    )  # fmt: skip
    # day 2 = 1125 as before; 3e8 buys 6e7 shares of R at 5; day 3: 8.25e8 ... A 12.1 -> 6.05e8,
    # C 2.75e8, R 6e7 x 6 = 3.6e8 -> 1240
    np.testing.assert_allclose(calc.levels["level_pr"], [1000, 1050, 1125, 1240], rtol=1e-12)
    assert "replacement R" in calc.actions.iloc[0]["detail"]


def test_shipped_tables_load_with_sources() -> None:
    acts = load_corporate_actions()
    real = acts[~acts["synthetic"]]
    assert len(real) and real["source_url"].str.startswith("http").all()
    fake = acts[acts["synthetic"]]
    assert set(fake["type"]) == {"split", "special_dividend", "cash_dividend", "takeover_cash",
                                 "delisting"}  # fmt: skip
    assert fake["description"].str.startswith("GENERATED for the SYNTHETIC demo market").all()
    wht = load_withholding()
    assert wht["AU"] == 0.30 and wht["GB"] == 0.0 and wht["JP"] == pytest.approx(0.15315)
    from exchina.universe import load_companies

    countries = set(load_companies()["country"])
    assert countries <= set(wht.index), countries - set(wht.index)


def test_bad_action_rows_name_file_row_and_field(tmp_path) -> None:
    head = ",".join(
        ["action_id", "ticker", "type", "date", "ratio", "amount", "currency", "announced",
         "description", "source_title", "source_url", "source_date", "synthetic"]
    )  # fmt: skip
    bad = tmp_path / "ca.csv"
    bad.write_text(head + "\nx,A,split,2025-01-02,,,,,,t,https://x,2025-01-01,false\n")
    with pytest.raises(InputError, match=r"row 2, field 'ratio'"):
        load_corporate_actions(bad)
    bad.write_text(head + "\nx,A,merger,2025-01-02,,,,,,t,https://x,2025-01-01,false\n")
    with pytest.raises(InputError, match=r"row 2, field 'type'"):
        load_corporate_actions(bad)


def test_unknown_country_has_no_guessed_rate() -> None:
    with pytest.raises(MissingDataError, match="ZZ"):
        withholding_rates(pd.Series({"A": "ZZ"}))
