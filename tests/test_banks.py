"""The NAPAS participant directory: shipped data integrity and look-ups."""
import csv
import re
from importlib import resources

import pytest

from market40 import banks
from market40.exceptions import InvalidComponent, InvalidFormat, NotFound


def rows():
    with (resources.files("market40") / "data" / "napas-participants.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------ integrity of the shipped data

def test_every_participant_is_loaded():
    assert len(banks.all_banks()) == len(rows()) == 70
    assert len(banks.all_banks("bank")) == 63
    assert {b.bin for b in banks.all_banks("ewallet")} == {"971005", "971011", "971025"}
    assert {b.bin for b in banks.all_banks("other")} == {"970460", "970464", "970470", "977777"}


def test_bins_are_unique_six_digits_and_codes_unique():
    bins = [r["bin"] for r in rows()]
    assert len(set(bins)) == len(bins) and all(re.fullmatch(r"[0-9]{6}", b) for b in bins)
    codes = [r["code"].upper() for r in rows()]
    assert len(set(codes)) == len(codes)


def test_names_present_kinds_known_swift_well_formed():
    for row in rows():
        assert row["code"] and row["short_name"] and row["name"], row
        assert row["kind"] in banks.KINDS
        assert not row["swift_code"] or re.fullmatch(r"[A-Z]{4}[A-Z0-9]{4}([A-Z0-9]{3})?", row["swift_code"])
        assert row["name"] == row["name"].strip()


def test_text_is_nfc():
    # decomposed marks compare unequal, search badly and render badly in some fonts
    import unicodedata
    text = (resources.files("market40") / "data" / "napas-participants.csv").read_text(encoding="utf-8")
    assert unicodedata.normalize("NFC", text) == text


def test_vietnamese_names_keep_their_diacritics():
    assert banks.by_bin("970436").name == "Ngân hàng TMCP Ngoại Thương Việt Nam"
    assert banks.by_bin("970405").name == "Ngân hàng Nông nghiệp và Phát triển Nông thôn Việt Nam"


def test_aliases_point_at_real_participants():
    with (resources.files("market40") / "data" / "bank-aliases.csv").open(encoding="utf-8") as handle:
        aliases = list(csv.DictReader(handle))
    known = {r["bin"] for r in rows()}
    for alias in aliases:
        assert alias["bin"] in known and alias["kind"] in {"former_name", "common_name", "alternate_bin"}
        if alias["kind"] == "alternate_bin":
            assert re.fullmatch(r"[0-9]{6}", alias["alias"]) and alias["alias"] not in known


def test_provenance_is_shipped():
    text = banks.provenance()
    assert "vietqr.io" in text and "1589" in text


# ------------------------------------------------------------ look-ups

@pytest.mark.parametrize("query, bin", [
    ("970436", "970436"), ("vietcombank", "970436"), ("VIETCOMBANK", "970436"), ("ngoai thuong", "970436"),
    ("Ngoại Thương", "970436"), ("VCB", "970436"), ("vcb", "970436"),
    ("Agribank", "970405"), ("nong nghiep", "970405"),
    ("BIDV", "970418"), ("VietinBank", "970415"), ("ICB", "970415"), ("CTG", "970415"),
    ("MB", "970422"), ("MBBank", "970422"), ("Techcombank", "970407"),
    ("MoMo", "971025"), ("Viettel Money", "971005"), ("viettelmoney", "971005"), ("VNPT Money", "971011"),
    # former names (vietqr-spec.md §12)
    ("DongA Bank", "970406"), ("OceanBank", "970414"), ("Viet Capital Bank", "970454"),
    ("LienVietPostBank", "970449"), ("Ban Viet", "970454"),
    # alternate BINs accepted when reading
    ("970459", "422589"), ("970468", "977777"),
])
def test_lookup(query, bin):
    assert banks.lookup(query).bin == bin


def test_by_bin_and_code():
    assert banks.by_bin("970459").code == "CIMB" and banks.by_bin("999999") is None
    assert banks.by_code("icb").short_name == "VietinBank" and banks.by_code("nope") is None


def test_ambiguous_query_lists_the_candidates():
    with pytest.raises(InvalidComponent) as info:
        banks.lookup("cong thuong")  # VietinBank and SaigonBank (Sài Gòn Công Thương)
    assert "VietinBank" in str(info.value) and "SaigonBank" in str(info.value)


def test_unknown_name_suggests_close_ones():
    with pytest.raises(NotFound, match="did you mean Vietcombank"):
        banks.lookup("vietcombnak")


def test_require_bin_refuses_unknown_unless_allowed():
    assert banks.require_bin("970436").short_name == "Vietcombank"
    with pytest.raises(InvalidComponent) as info:
        banks.require_bin("970499")
    assert "970499 is not in the NAPAS participant directory" in str(info.value)
    assert info.value.suggestions and "allow unknown" in str(info.value)
    assert banks.require_bin("970499", allow_unknown=True) is None
    with pytest.raises(InvalidFormat):
        banks.require_bin("97049", allow_unknown=True)


@pytest.mark.parametrize("junk", ["", "   ", "!!!", "\x00", "9" * 50, "ạ" * 30])
def test_search_survives_junk(junk):
    assert isinstance(banks.search(junk), list)
    with pytest.raises((NotFound, InvalidFormat, InvalidComponent)):
        banks.lookup(junk)


# ------------------------------------------------------------ renames and missing participants (2025)

def test_970444_is_vcbneo_and_cbbank_is_its_former_name():
    # CBBank became VCBNeo on 2025-01-17; a wrong BIN registered for "VCBNeo" means lost payments.
    assert banks.lookup("VCBNeo").bin == "970444"
    assert banks.search("VCBNeo")[0].bin == "970444"
    assert banks.lookup("VCB Neo").bin == "970444"
    bank = banks.by_bin("970444")
    assert (bank.short_name, bank.name) == ("VCBNeo", "Ngân hàng Thương mại TNHH MTV Ngoại thương Công nghệ số")
    for old in ("CBBank", "CBB", "Ngan hang Xay dung"):
        assert banks.lookup(old) is bank and banks.former_match(bank, old)
    assert "CBBank" in bank.as_dict()["former_names"]
    # Vietcombank keeps its own names: VCBNeo is a different bank with a different BIN
    assert banks.lookup("vcb").bin == banks.lookup("Vietcombank").bin == "970436"
    assert banks.former_match(banks.by_bin("970436"), "VCBNeo") is None


@pytest.mark.parametrize("bin, name, old", [
    ("970408", "Ngân hàng Thương mại TNHH MTV Kỷ Nguyên Thịnh Vượng", "Dau Khi Toan Cau"),
    ("970430", "Ngân hàng TMCP Thịnh vượng và Phát triển", "Xang dau Petrolimex"),
])
def test_gpbank_and_pgbank_have_their_new_full_names_and_keep_the_old(bin, name, old):
    bank = banks.by_bin(bin)
    assert bank.name == name
    assert banks.lookup(old) is bank and banks.former_match(bank, old)


def test_wallets_without_a_sourced_bin_are_explained_not_invented():
    for query, name in (("ZaloPay", "ZaloPay"), ("shopeepay", "ShopeePay"), ("VNPAY wallet", "VNPAY wallet")):
        assert banks.search(query) == []
        with pytest.raises(NotFound, match=f"{name} is not in the NAPAS participant directory"):
            banks.lookup(query)
    assert "BVBank (970454)" in banks.UNLISTED["ZaloPay"]
    assert banks.unlisted("Vietcombank") == []


def test_provenance_says_as_of_when_and_how_to_update():
    text = banks.provenance()
    assert re.search(r"as of \d{4}-\d{2}-\d{2}", text)
    assert "How the directory is updated" in text and "Missing participants" in text
    for name in banks.UNLISTED:
        assert name in text
