"""market40.reconciliation: the pure rules (no database, no files)."""
from datetime import date, datetime, timezone

import pytest

from market40 import reconciliation as rules
from market40.exceptions import InvalidFormat
from market40.reconciliation import (Activity, Directory, MarketCounts, Period, ReferenceIndex, Registration,
                                     StallInput, Transfer, attribute, classify, content_text, find_anomalies,
                                     names_match, summarise)

VN = rules.VN_TZ


def t(year, month, day, hour=10):
    return datetime(year, month, day, hour, tzinfo=VN)


# --- periods -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2025-06", "2025-06"), ("2025-6", "2025-06"), ("06/2025", "2025-06"), ("6/2025", "2025-06"),
    (" 2025/06 ", "2025-06"), ("2025.12", "2025-12"), (date(2025, 6, 30), "2025-06"),
])
def test_period_parse(text, expected):
    assert str(Period.parse(text)) == expected


@pytest.mark.parametrize("junk", ["", "2025", "2025-13", "13/2025", "June 2025", "1999-12", None, "2025-06-01"])
def test_period_junk_is_refused_naming_the_field(junk):
    with pytest.raises(InvalidFormat) as info:
        Period.parse(junk)
    assert info.value.field == "period"


def test_period_arithmetic_and_snapshot():
    p = Period.parse("2025-01")
    assert str(p.shift(-1)) == "2024-12" and [str(x) for x in p.back(3)] == ["2024-11", "2024-12", "2025-01"]
    assert p.end_utc == datetime(2025, 1, 31, 17, 0, tzinfo=timezone.utc)  # midnight 1 February in Vietnam
    now = datetime(2025, 1, 10, tzinfo=timezone.utc)
    assert p.snapshot(now) == now and p.snapshot(datetime(2026, 1, 1, tzinfo=timezone.utc)) == p.end_utc
    assert Period.of(datetime(2025, 1, 31, 18, 0, tzinfo=timezone.utc)) == Period(2025, 2)  # already February in VN


# --- stall references as banks mangle them ---------------------------------------------------

INDEX = ReferenceIndex([("HL1 A12", "A12"), ("HL1 A1", "A1"), ("HL10 B3", "B3"), ("HL1 B12A", "B12A"),
                        ("HL1 12", "12"), ("CP1 A12", "CP-A12"), ("HL1 C5", "C5"), ("HL1C 5", "C-5 other")])


@pytest.mark.parametrize("content, stall, reason", [
    ("HL1 A12", "A12", None),                                   # as printed in 62.08
    ("hl1 a12", "A12", None),                                   # lower-cased
    ("HL1A12", "A12", None),                                    # spaces removed
    ("HL1-A12", "A12", None), ("HL1.A.12", "A12", None),        # punctuation
    ("MBVCB.3278614981.HL1 A12.CT tu 0011001234567 NGUYEN VAN AN toi 0011", "A12", None),  # bank prefix/suffix
    ("MBVCB3278614981HL1A12CTTU", "A12", None),                 # glued to a prefix, spaces stripped everywhere
    ("Chợ HL1 A12 trả tiền cá", "A12", None),                   # diacritics around it
    ("HL1 A 12", "A12", None),                                  # an extra space
    ("HL10B3", "B3", None), ("HL10 B3 ck", "B3", None),         # the longer market code wins
    ("HL1 B12A", "B12A", None), ("HL1 B12A tien", "B12A", None),  # a stall code ending in a letter
    ("HL1 12", "12", None),                                     # a stall code of digits only
    ("CP1 A12", "CP-A12", None),                                # same stall code, another market
    ("HL1 A1", "A1", None),                                     # short content: not cut
    ("MBVCB.3278614981.HL1 A1 CT tu 001", "A1", None),          # followed by more text: not cut
    ("IBFT TRA TIEN HANG HL1 A1", None, "reference possibly truncated"),  # 25 characters ending mid-reference
    ("Chuyen tien", None, "no stall reference in the content"),
    ("", None, "no stall reference in the content"),
    ("HL1 A12 HL1 A1", None, "several stall references"),
    ("HL1 Z99", None, "unknown stall reference"),
    ("HL1A120912345678", None, "unknown stall reference"),      # digits run on into a phone number
    ("HL1 C5", None, "reference fits several stalls"),          # HL1 C5 and HL1C 5 compact alike
])
def test_reference_matching(content, stall, reason):
    found = INDEX.match(content)
    assert (found.stall, found.reason) == (stall, reason)


def test_reference_owners_limit_who_it_may_be():
    assert INDEX.match("HL1 A12", owners={"A12", "A1"}).stall == "A12"
    assert INDEX.match("HL1 A12", owners={"B3"}).reason == "reference names a stall that does not own this account"


def test_content_text_and_keys():
    assert content_text("  Đ/c sạp HL1 – A12 ") == "D C SAP HL1 A12"
    assert rules.reference_key("hl1 a-12") == "HL1A12" == rules.stall_key("HL1A12")
    assert content_text(None) == ""


def test_index_without_references_matches_nothing():
    assert ReferenceIndex([]).match("HL1 A12").reason == "no stall reference in the content"


# --- accounts and attribution ------------------------------------------------------------------

def reg(account_id, stall, number, status="verified", created=t(2025, 1, 1), verified=t(2025, 1, 2), revoked=None,
        rejected=None, bin_="970436", holder="NGUYEN THI LAN"):
    return Registration(account_id, stall, bin_, number, status, created, verified if status != "pending" else None,
                        revoked, rejected, holder)


def test_directory_rules():
    d = Directory([
        reg(1, 10, "111"),                                                      # one stall ever
        reg(2, 20, "222", "revoked", revoked=t(2025, 3, 1)), reg(3, 21, "222", created=t(2025, 3, 2)),  # moved
        reg(4, 30, "333"), reg(5, 31, "333"),                                   # shared
        reg(6, 40, "444", "rejected", rejected=t(2025, 1, 3)),                  # rejected: never the stall's
    ])
    at = datetime(2025, 6, 1)
    assert d.owners("970436", "111", at) == {10}
    assert d.owners("970436", "111", datetime(2024, 1, 1)) == {10}  # before registration: still its household
    assert d.owners("970436", "222", datetime(2025, 2, 1)) == {20}
    assert d.owners("970436", "222", at) == {21}
    assert d.owners("970436", "333", at) == {30, 31}
    assert d.owners("970436", "444", at) == frozenset() and ("970436", "444") not in d
    shared = d.shared_at(t(2025, 6, 30))
    assert [(number, [r.stall_id for r in regs]) for _, number, regs in shared] == [("333", [30, 31])]
    rows = {(r.number, r.stall_id): r for r in d.rows()}
    assert rows[("111", 10)].single and not rows[("333", 30)].single
    assert rows[("222", 20)].live_to == datetime(2025, 3, 1, 10)  # naive Vietnam time


def test_registration_state_over_time():
    r = reg(1, 10, "111", created=t(2025, 1, 1), verified=t(2025, 2, 1), status="revoked", revoked=t(2025, 5, 1))
    assert r.state_at(t(2024, 12, 1)) is None
    assert r.state_at(t(2025, 1, 15)) == "pending"
    assert r.state_at(t(2025, 3, 1)) == "verified"
    assert r.state_at(t(2025, 6, 1)) is None
    rejected = reg(2, 10, "222", "rejected", rejected=t(2025, 1, 5))
    assert rejected.state_at(t(2025, 1, 3)) == "pending" and rejected.state_at(t(2025, 1, 6)) is None


def test_attribution_account_first_then_reference():
    d = Directory([reg(1, "A1", "111"), reg(2, "A5", "555"), reg(3, "A6", "555")])
    i = ReferenceIndex([("HL1 A1", "A1"), ("HL1 A5", "A5"), ("HL1 A6", "A6"), ("HL1 A4", "A4")])
    when = datetime(2025, 6, 5)

    def tx(account, content):
        return attribute(Transfer("970436", "T", when, account, 1000, content), d, i)

    assert tx("111", "HL1 A6") == rules.Attribution("A1", "account")  # the account decides, not the text
    assert tx("555", "HL1A6 ck") == rules.Attribution("A6", "reference")
    assert tx("555", "ck").reason == "no stall reference in the content"
    assert tx("555", "HL1 A1").reason == "reference names a stall that does not own this account"
    unknown = tx("999", "HL1 A4 tien ca")
    assert unknown.stall == "A4" and unknown.method == "reference" and not unknown.known_account


# --- states ------------------------------------------------------------------------------------

SNAP = t(2025, 7, 1, 0)


@pytest.mark.parametrize("regs, activity, state, accepting, active", [
    ([], None, "no_qr", False, False),
    ([reg(1, 1, "1", "pending", created=t(2025, 6, 10))], None, "registered", False, False),
    ([reg(1, 1, "1")], None, "accepting", True, False),
    ([reg(1, 1, "1")], Activity(transfers=2, amount=5), "active", True, True),
    ([reg(1, 1, "1", "pending", created=t(2025, 6, 10))], Activity(transfers=1), "active", False, True),
    ([reg(1, 1, "1", "revoked", revoked=t(2025, 6, 20))], None, "no_qr", False, False),   # revoked before the end
    ([reg(1, 1, "1", created=t(2025, 6, 25), verified=t(2025, 7, 2))], None, "registered", False, False),
    ([reg(1, 1, "1", "revoked", revoked=t(2025, 6, 1)), reg(2, 1, "2")], None, "accepting", True, False),
])
def test_classify(regs, activity, state, accepting, active):
    result = classify(StallInput(1, "A-1", 1), regs, activity, SNAP, counted=True,
                      covered_bins=frozenset({"970436"}))
    assert (result.state, result.accepting, result.active) == (state, accepting, active)
    if regs:
        assert result.account_id is not None and result.covered


def test_evidence_is_described_in_vietnamese():
    text = rules.describe_evidence({"stall_id": 1, "state": "accepting", "account_status": "verified",
                                    "verified_at": date(2025, 3, 1), "covered": True}, masked_account="•••• 0001")
    assert text == "TK •••• 0001 xác minh 01/03/2025; không có giao dịch trong kỳ"
    assert "chưa có dữ liệu" in rules.describe_evidence({"stall_id": 1, "state": "accepting",
                                                          "account_status": "verified", "covered": False})


# --- anomalies ----------------------------------------------------------------------------------

def test_find_anomalies_lists_every_kind():
    regs = [reg(1, 1, "0011", holder="TRAN VAN BINH"),            # name differs from the census
            reg(2, 2, "0022"), reg(3, 3, "0022"),                  # shared
            reg(4, 4, "0044"),                                     # stall 4 closed
            reg(5, 5, "0055")]                                     # stall 5 not in the census
    stalls = {1: StallInput(1, "A-1", 1, in_census=True, owner_name="Lê Thị Hoa"),
              2: StallInput(1, "A-2", 2, in_census=True, owner_name="Nguyễn Thị Lan"),
              3: StallInput(1, "A-3", 3, in_census=True, owner_name="Nguyễn Thị Lan"),
              4: StallInput(1, "A-4", 4, status="closed", closed_on=date(2025, 5, 1)),
              5: StallInput(1, "A-5", 5, in_census=False)}
    found = find_anomalies(stalls=stalls, registrations=regs, directory=Directory(regs), snapshot=SNAP,
                           census_markets=frozenset({1}), last_transfer={("970436", "0011"): datetime(2025, 6, 3)},
                           observed_bins=frozenset({"970436"}), idle_since=t(2025, 4, 1, 0),
                           mask=lambda n: "•" + n[-2:])
    kinds = {(a.kind, a.stall_code) for a in found}
    assert ("name_mismatch", "A-1") in kinds and ("shared_account", None) in kinds
    assert ("closed_stall_live_qr", "A-4") in kinds and ("not_in_census_live_qr", "A-5") in kinds
    assert ("idle_account", "A-2") in kinds and ("idle_account", "A-1") not in kinds
    assert all(a.account.startswith("•") for a in found)  # masked


def test_idle_needs_the_bank_watched_and_an_old_enough_account():
    regs = [reg(1, 1, "0011"), reg(2, 2, "0022", created=t(2025, 5, 1), verified=t(2025, 5, 2))]
    stalls = {1: StallInput(1, "A-1", 1), 2: StallInput(1, "A-2", 2)}
    common = dict(stalls=stalls, registrations=regs, directory=Directory(regs), snapshot=SNAP,
                  census_markets=frozenset(), last_transfer={}, idle_since=t(2025, 4, 1, 0), mask=str)
    assert [a.stall_code for a in find_anomalies(observed_bins=frozenset({"970436"}), **common)] == ["A-1"]
    assert find_anomalies(observed_bins=frozenset(), **common) == []  # no data is not "no use"


@pytest.mark.parametrize("a, b, same", [
    ("Nguyễn Thị Lan", "NGUYEN THI LAN", True), ("Đặng Văn Hải", "dang van hai", True),
    ("Lê Thị Hoa", "LE THI  HOA", True), ("Nguyễn Thị Lan", "NGUYEN THI LAM", False), ("", "A", False),
])
def test_names_match(a, b, same):
    assert names_match(a, b) is same


# --- adoption arithmetic -------------------------------------------------------------------------

def test_weighted_rate_and_mean_of_market_rates_differ_and_are_both_given():
    markets = [MarketCounts("HL1", stalls=1200, accepting=1140, active=700, groups={"tier": ("I",)}),
               MarketCounts("CT1", stalls=100, accepting=50, active=10, groups={"tier": ("III",)}),
               MarketCounts("EMPTY", stalls=0, groups={"tier": ("III",)})]
    province = summarise(markets, target=0.9)
    assert province.accepting_rate == pytest.approx(1190 / 1300)  # stall-weighted
    assert province.mean_accepting_rate == pytest.approx((0.95 + 0.5) / 2)  # a market without stalls has no rate
    assert province.markets_at_target == 1 and province.stalls_to_target == 40  # CT1 needs 90 of 100
    tiers = rules.adoption(markets, "tier", target=0.9)
    assert [(f.label, f.markets, f.stalls) for f in tiers] == [("I", 1, 1200), ("III", 2, 100)]


def test_target_rounds_up_to_whole_households():
    assert summarise([MarketCounts("X", stalls=3, accepting=2)], target=0.7).stalls_to_target == 1
    assert summarise([MarketCounts("X", stalls=10, accepting=7)], target=0.7).markets_at_target == 1


def test_a_market_in_two_groups_counts_once_in_the_total():
    shared = MarketCounts("TY1", stalls=10, accepting=5, groups={"locality": ("Tiên Yên", "Bình Liêu")})
    other = MarketCounts("BL1", stalls=10, accepting=10, groups={"locality": ("Bình Liêu",)})
    rows = {f.label: f for f in rules.adoption([shared, other], "locality")}
    assert rows["Bình Liêu"].stalls == 20 and rows["Tiên Yên"].stalls == 10
    assert summarise([shared, other]).stalls == 20
