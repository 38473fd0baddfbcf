"""EMV TLV and CRC primitives (NAPAS-VN §5.1, §5.2.15; vietqr-spec.md §1, §6)."""
import binascii

import pytest
from hypothesis import given, strategies as st

from market40 import emv
from market40.exceptions import InvalidFormat, InvalidLength


@pytest.mark.parametrize("data, crc", [
    ("123456789", "29B1"),  # CRC-16/CCITT-FALSE check value
    # NAPAS-VN §6 examples (vietqr-spec.md §14 errata): CRC over everything through "6304"
    ("00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA53037045802VN6304", "F4E5"),
    ("00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN6304", "9E6F"),
    ("00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045802VN6304", "4F52"),
])
def test_crc_matches_spec_examples(data, crc):
    assert emv.crc16(data) == crc


def test_crc_is_zero_padded_upper_case():
    # find an input whose CRC is below 0x1000: it must still be 4 characters
    for i in range(100000):
        value = emv.crc16(str(i))
        if int(value, 16) < 0x1000:
            assert len(value) == 4 and value.startswith("0") and value == value.upper()
            return
    pytest.fail("no small CRC found")


def test_crc_is_over_utf8_bytes():
    assert emv.crc16("Lê Anh Tú") == "%04X" % binascii.crc_hqx("Lê Anh Tú".encode(), 0xFFFF)


def test_tlv_writes_two_digit_length():
    assert emv.tlv("08", "HL1 A12") == "0807HL1 A12"
    assert emv.tlv("62", "x" * 99).startswith("6299")


@pytest.mark.parametrize("tag, value, error", [
    ("8", "x", InvalidFormat), ("ab", "x", InvalidFormat), ("08", "", InvalidLength),
    ("08", "x" * 100, InvalidLength),
])
def test_tlv_refuses_what_cannot_be_written(tag, value, error):
    with pytest.raises(error):
        emv.tlv(tag, value)


def test_parse_reports_positions_and_nested_offsets():
    assert emv.parse("0002010102110803abc") == [("00", "01", 0), ("01", "11", 6), ("08", "abc", 12)]
    assert emv.parse("0803abc", offset=40) == [("08", "abc", 40)]


@pytest.mark.parametrize("text, offset, kind", [
    ("hello", 0, InvalidFormat),            # not TLV at all
    ("000201zz", 6, InvalidFormat),         # garbage after a good object
    ("0002010", 6, InvalidFormat),          # truncated header
    ("000201 01", 6, InvalidFormat),        # a space where the tag should be
    ("0000", 0, InvalidLength),             # zero-length value
    ("000501", 0, InvalidLength),           # runs past the end
])
def test_parse_names_the_offset(text, offset, kind):
    with pytest.raises(kind) as info:
        emv.parse(text)
    assert f"character {offset}" in str(info.value)


def test_parse_rejects_non_ascii_digits_in_headers():
    # "²" and Arabic-Indic digits are str.isdigit() but not EMV digits
    for text in ("0²0201", "٠٠0201"):
        with pytest.raises(InvalidFormat):
            emv.parse(text)


@given(st.lists(st.tuples(st.from_regex(r"[0-9]{2}", fullmatch=True),
                          st.text(min_size=1, max_size=99)), max_size=8))
def test_encode_parse_round_trip(objects):
    encoded = emv.encode(objects)
    assert [(t, v) for t, v, _ in emv.parse(encoded)] == objects


def test_split_crc():
    assert emv.split_crc("0002016304ABCD") == ("0002016304", "ABCD")
    assert emv.split_crc("000201") is None
