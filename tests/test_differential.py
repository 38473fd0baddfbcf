"""Differential tests: market40.vietqr against vietnam-qr-pay.

vietnam-qr-pay (PyPI 1.0.0, pinned in the ``test`` extra) is an independent implementation
whose output matches the most-used npm library byte for byte on ASCII input. For the NAPAS
spec examples and for generated valid inputs, each library must read the other's payloads
to the same fields: BIN, account/card, service code, point of initiation, amount, purpose,
bill number, reference label.

Where the two disagree, the spec (``vietqr-spec.md``, section cited at each test) decides:
the test asserts market40's behaviour and pins vietnam-qr-pay's as documented, so a change
on either side shows up here.

It is imported normally, not with ``pytest.importorskip``: a missing test dependency must
fail loudly. It emits no warnings on import, so no filter is needed.
"""
from __future__ import annotations

from binascii import crc_hqx
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vietnam_qr_pay import QRPay, VietQRService

from market40 import banks, vietqr
from market40.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

FIELDS = ("bin", "account", "service", "initiation", "amount", "purpose", "bill_number",
          "reference_label")

# database=None: no .hypothesis/ directory in the working tree; deadline=None: the CI and
# dev machines are shared, timing is benchmarks/bench_payload.py's job.
SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- adapters

def ours(qr: vietqr.VietQR) -> dict[str, Any]:
    return {name: getattr(qr, name) for name in FIELDS}


def theirs(payload: str) -> dict[str, Any]:
    """vietnam-qr-pay's reading of a payload, in market40's terms (fails if it says invalid)."""
    qr = QRPay(payload)
    assert qr.is_valid, f"vietnam-qr-pay rejects {payload!r}"
    # Both must have found the NAPAS template (tag 38, GUID A000000727: NAPAS-VN §5.2.3.2).
    assert qr.provider.field_id == "38" and qr.provider.guid == vietqr.NAPAS_GUID
    assert (qr.currency, qr.nation) == ("704", "VN")
    return {
        "bin": qr.consumer.bank_bin,
        "account": qr.consumer.bank_number,
        "service": qr.provider.service,
        "initiation": {"11": vietqr.STATIC, "12": vietqr.DYNAMIC}.get(qr.init_method, qr.init_method),
        "amount": None if qr.amount is None else int(qr.amount),
        "purpose": qr.additional_data.purpose,
        "bill_number": qr.additional_data.bill_number,
        "reference_label": qr.additional_data.reference,
    }


def their_payload(*, bin: str, ident: str, card: bool = False, amount: int | None = None,
                  purpose: str | None = None, bill_number: str | None = None,
                  reference_label: str | None = None) -> str:
    """vietnam-qr-pay's encoder (its init_viet_qr + the additional-data attributes)."""
    qr = QRPay.init_viet_qr(bin, ident, None if amount is None else str(amount), purpose,
                            VietQRService.BY_CARD_NUMBER if card else VietQRService.BY_ACCOUNT_NUMBER)
    qr.additional_data.bill_number = bill_number
    qr.additional_data.reference = reference_label
    return qr.build()


def _tlv(tag: str, value: str) -> str:
    # Written here rather than borrowed from market40.emv, so the inputs stay independent.
    return f"{tag}{len(value):02d}{value}"


def _with_crc(body: str) -> str:
    body += "6304"
    return body + "%04X" % crc_hqx(body.encode("utf-8"), 0xFFFF)


# --------------------------------------------------------------------------- NAPAS examples

ACCOUNT_611 = {"bin": "970403", "account": "0011012345678", "service": "QRIBFTTA",
               "initiation": "static", "amount": None, "purpose": None, "bill_number": None,
               "reference_label": None}
CARD_612 = dict(ACCOUNT_611, account="9704031101234567", service="QRIBFTTC")
DYNAMIC = {"initiation": "dynamic", "amount": 180000, "purpose": "thanh toan don hang",
           "bill_number": "NPS6869"}

# Payloads quoted in vietqr-spec.md §6 and §14 (NAPAS-VN §6.1.1–§6.1.4, and a real MB app QR).
SPEC_SAMPLES = {
    # §6.1.1 static to account, as corrected in §14 (the table's 0113; CRC 9E6F).
    "6.1.1-static-account-errata-9E6F": (
        "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F",
        ACCOUNT_611),
    # §6.1.2 static to card (CRC 4F52).
    "6.1.2-static-card-4F52": (
        "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045802VN63044F52",
        CARD_612),
    # §6.1.3 dynamic to *account* (CRC 2E2E). Note: 2E2E is this one, not the card one.
    "6.1.3-dynamic-account-2E2E": (
        "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA5303704"
        "54061800005802VN62340107NPS68690819thanh toan don hang63042E2E",
        dict(ACCOUNT_611, **DYNAMIC)),
    # §6.1.4 dynamic to card: the table's string, whose CRC is A203 (§14).
    "6.1.4-dynamic-card-A203": (
        "00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC5303704"
        "54061800005802VN62340107NPS68690819thanh toan don hang6304A203",
        dict(CARD_612, **DYNAMIC)),
    # §6: real bank apps emit lower-case CRC hex (MB app, XN test "MBBank QR with lowercase CRC").
    "MB-app-lowercase-crc-79db": (
        "00020101021138540010A00000072701240006970422011003523509170208QRIBFTTA53037045802VN630479db",
        dict(ACCOUNT_611, bin="970422", account="0352350917")),
    # §6: "verify case-insensitively" – the errata string with its CRC in lower case.
    "6.1.1-errata-lowercase-crc-9e6f": (
        "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049e6f",
        ACCOUNT_611),
}


@pytest.mark.parametrize("payload, fields", SPEC_SAMPLES.values(), ids=SPEC_SAMPLES.keys())
def test_spec_samples_decode_the_same_in_both(payload: str, fields: dict[str, Any]) -> None:
    qr = vietqr.parse(payload)
    assert qr.crc_ok
    assert ours(qr) == fields
    assert theirs(payload) == fields


@pytest.mark.parametrize("payload, fields", SPEC_SAMPLES.values(), ids=SPEC_SAMPLES.keys())
def test_spec_samples_encode_byte_for_byte_in_both(payload: str, fields: dict[str, Any]) -> None:
    # Both generators write ascending tags and upper-case CRC (§6, §15.1), so each
    # reproduces the spec string exactly (CRC upper-cased for the lower-case samples).
    canonical = payload[:-4] + payload[-4:].upper()
    ident = {"card" if fields["service"] == vietqr.SERVICE_CARD else "account": fields["account"]}
    # upper=False: the NAPAS purpose "thanh toan don hang" is lower case.
    mine = vietqr.build(bin=fields["bin"], amount=fields["amount"], purpose=fields["purpose"],
                        bill_number=fields["bill_number"], upper=False, **ident)
    assert mine.payload == canonical
    assert their_payload(bin=fields["bin"], ident=fields["account"],
                         card=fields["service"] == vietqr.SERVICE_CARD, amount=fields["amount"],
                         purpose=fields["purpose"], bill_number=fields["bill_number"]) == canonical


def test_napas_611_as_printed_is_rejected_by_us_and_misread_by_them() -> None:
    # NAPAS-VN §6.1.1's one-liner says 38.01.01 is 12 long ("0112") but carries 13 digits; its
    # printed CRC F4E5 matches that typo (vietqr-spec.md §14). A nested length that leaves a
    # stray character is malformed and must be rejected (§3, last paragraph; §1 TLV).
    printed = ("00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA"
               "53037045802VN6304F4E5")
    assert "%04X" % crc_hqx(printed[:-4].encode(), 0xFFFF) == "F4E5"
    with pytest.raises(InvalidFormat, match="template 38.01"):
        vietqr.parse(printed)
    # vietnam-qr-pay does not check nested lengths: it calls this valid and silently drops the
    # last digit of the account (money would go to account 001101234567).
    qr = QRPay(printed)
    assert qr.is_valid and qr.consumer.bank_number == "001101234567"


def test_napas_614_oneliner_as_printed_fails_the_crc_in_both() -> None:
    # NAPAS-VN §6.1.4's one-liner is the static card string (POI 11, no 54, no 62) printed with
    # the dynamic string's CRC A203; its real CRC is 4F52 (vietqr-spec.md §14).
    printed = ("00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC"
               "53037045802VN6304A203")
    with pytest.raises(InvalidChecksum) as caught:
        vietqr.parse(printed)
    assert (caught.value.expected, caught.value.found) == ("4F52", "A203")
    assert ours(caught.value.parsed) == CARD_612
    assert QRPay(printed).is_valid is False


# --------------------------------------------------------------------------- generated inputs

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))  # EMV ANS (vietqr-spec.md §1)


def _text(alphabet: str) -> st.SearchStrategy[str | None]:
    return st.none() | st.text(alphabet, min_size=1, max_size=25).map(str.strip).filter(bool)


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    card = draw(st.booleans())
    if card:  # QRIBFTTC: a 9704 card number, 16–19 digits (vietqr-spec.md §15.3)
        ident = "9704" + draw(st.text("0123456789", min_size=12, max_size=15))
    else:     # QRIBFTTA: 1–19 of [0-9A-Za-z] (§3, §15.3)
        ident = draw(st.text(ALNUM, min_size=1, max_size=19))
    return {
        "bin": draw(st.sampled_from(sorted(b.bin for b in banks.all_banks()))),
        "ident": ident,
        "card": card,
        "amount": draw(st.none() | st.integers(1, vietqr.MAX_AMOUNT - 1)),  # §7
        "purpose": draw(_text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")),
        "bill_number": draw(_text(PRINTABLE)),
        "reference_label": draw(_text(PRINTABLE)),
    }


def _build(case: dict[str, Any], upper: bool) -> vietqr.VietQR:
    ident = {"card" if case["card"] else "account": case["ident"]}
    return vietqr.build(bin=case["bin"], amount=case["amount"], purpose=case["purpose"],
                        bill_number=case["bill_number"], reference_label=case["reference_label"],
                        upper=upper, **ident)


def _expected(case: dict[str, Any], upper: bool) -> dict[str, Any]:
    # market40's text normalisation (a product choice, not a spec rule): with upper=True text is
    # upper-cased and runs of spaces collapse; with upper=False ASCII text is kept as given.
    def norm(text: str | None) -> str | None:
        return text if text is None or not upper else " ".join(text.split()).upper()
    return {
        "bin": case["bin"], "account": case["ident"],
        "service": vietqr.SERVICE_CARD if case["card"] else vietqr.SERVICE_ACCOUNT,
        # §7: NAPAS only defines 11/12; both libraries make a QR with an amount dynamic.
        "initiation": vietqr.STATIC if case["amount"] is None else vietqr.DYNAMIC,
        "amount": case["amount"],
        "purpose": norm(case["purpose"]),
        "bill_number": norm(case["bill_number"]),
        "reference_label": norm(case["reference_label"]),
    }


@SETTINGS
@given(case=inputs(), upper=st.booleans())
def test_our_payloads_read_by_vietnam_qr_pay(case: dict[str, Any], upper: bool) -> None:
    qr = _build(case, upper)
    expected = _expected(case, upper)
    assert ours(qr) == expected
    assert vietqr.parse(qr.payload) == qr
    assert theirs(qr.payload) == expected
    # Same fields in, same bytes out: both emit ascending tags, 62 sub-tags 01 < 05 < 08.
    assert their_payload(bin=expected["bin"], ident=expected["account"], card=case["card"],
                         amount=expected["amount"], purpose=expected["purpose"],
                         bill_number=expected["bill_number"],
                         reference_label=expected["reference_label"]) == qr.payload


@SETTINGS
@given(case=inputs())
def test_vietnam_qr_pay_payloads_read_by_us(case: dict[str, Any]) -> None:
    payload = their_payload(**case)
    qr = vietqr.parse(payload)
    # We read what is there: no normalisation on the way in.
    assert ours(qr) == _expected(case, upper=False)
    assert qr.crc_ok and qr.extra == () and qr.extra_62 == ()


@SETTINGS
@given(case=inputs(), data=st.data())
def test_any_tag_order(case: dict[str, Any], data: st.DataObject) -> None:
    # NAPAS-VN §5.1 (vietqr-spec.md §1): 00 first, 63 last, every other object – at the root
    # *or inside a template* – in any order. Real payloads do reorder (62 before 38, 54 after 58).
    expected = _expected(case, upper=False)
    shuffle = lambda objects: data.draw(st.permutations(objects))  # noqa: E731
    beneficiary = shuffle([("00", case["bin"]), ("01", case["ident"])])
    merchant = shuffle([("00", vietqr.NAPAS_GUID),
                        ("01", "".join(_tlv(*o) for o in beneficiary)),
                        ("02", expected["service"])])
    additional = shuffle([(tag, case[name]) for tag, name in
                          (("01", "bill_number"), ("05", "reference_label"), ("08", "purpose"))
                          if case[name]])
    root = [("01", "12" if case["amount"] else "11"), ("38", "".join(_tlv(*o) for o in merchant)),
            ("53", "704"), ("58", "VN")]
    if case["amount"]:
        root.append(("54", str(case["amount"])))
    if additional:
        root.append(("62", "".join(_tlv(*o) for o in additional)))
    payload = _with_crc("000201" + "".join(_tlv(*o) for o in shuffle(root)))

    assert ours(vietqr.parse(payload)) == expected
    if [tag for tag, _ in merchant].index("01") < [tag for tag, _ in merchant].index("00"):
        # vietnam-qr-pay reads 38.01 only if it has already seen the GUID 38.00, so a
        # beneficiary before the GUID is dropped: it reports a valid QR with no BIN and no
        # account. The spec allows that order (above); market40 reads it.
        qr = QRPay(payload)
        assert qr.is_valid and qr.consumer.bank_bin is None and qr.consumer.bank_number is None
        assert {k: v for k, v in theirs(payload).items() if k not in ("bin", "account")} == \
            {k: v for k, v in expected.items() if k not in ("bin", "account")}
    else:
        assert theirs(payload) == expected


# --------------------------------------------------------------------------- their encoder's gaps

def test_vietnamese_purpose_is_folded_by_us_and_written_raw_by_them() -> None:
    # 62.xx is ANS, printable ASCII (NAPAS-VN Table 1/3; vietqr-spec.md §1, §8): diacritics
    # must be stripped before encoding. market40 folds; vietnam-qr-pay writes the UTF-8 text.
    purpose = "Chợ Hạ Long I sạp A-12"
    mine = vietqr.build(bin="970436", account="1234567890", purpose=purpose)
    assert mine.purpose == "CHO HA LONG I SAP A-12" and mine.payload.isascii()
    assert theirs(mine.payload)["purpose"] == "CHO HA LONG I SAP A-12"
    raw = their_payload(bin="970436", ident="1234567890", purpose=purpose)
    assert not raw.isascii()
    # market40 parses leniently (§11: scanners tolerate what apps emit) and reads it back as is.
    assert vietqr.parse(raw).purpose == purpose


@pytest.mark.parametrize("amount, error", [("0", InvalidLength), ("150000.5", InvalidFormat),
                                           ("1e5", InvalidFormat)])
def test_amounts_they_emit_and_accept_but_the_spec_forbids(amount: str, error: type) -> None:
    # §7: 54 is non-zero, digits with at most one ".", and no fraction digits for VND.
    # vietnam-qr-pay writes whatever text it is given and reads it back as valid.
    payload = QRPay.init_viet_qr("970436", "1234567890", amount).build()
    assert QRPay(payload).is_valid and QRPay(payload).amount == amount
    with pytest.raises(error, match="54 amount"):
        vietqr.parse(payload)
    with pytest.raises(ValidationError):
        vietqr.build(bin="970436", account="1234567890", amount=amount)


def test_missing_account_is_dropped_silently_by_them() -> None:
    # 38.01.01 is mandatory (NAPAS-VN Table 4; vietqr-spec.md §3). vietnam-qr-pay's encoder
    # omits an empty field, and its decoder calls the result valid.
    payload = their_payload(bin="970436", ident="", purpose="HL1 A12")
    assert "0208QRIBFTTA" in payload and QRPay(payload).is_valid
    with pytest.raises(InvalidFormat, match="38.01.01 account: missing"):
        vietqr.parse(payload)
    with pytest.raises(ValidationError):
        vietqr.build(bin="970436", account="", purpose="HL1 A12")


def test_overlong_purpose() -> None:
    # §4: 62.08 is at most 25 characters; §1: LEN is two digits, so no value exceeds 99.
    with pytest.raises(InvalidLength, match="purpose: at most 25"):
        vietqr.build(bin="970436", account="1234567890", purpose="A" * 26)
    # 26–99 characters: vietnam-qr-pay emits it; real apps do too (§4), and we read it.
    long = their_payload(bin="970436", ident="1234567890", purpose="A" * 26)
    assert vietqr.parse(long).purpose == "A" * 26 == theirs(long)["purpose"]
    # 100+: vietnam-qr-pay writes a 3-digit length, a corrupt TLV that its own decoder
    # cannot read (it raises ValueError from int()); we reject it with a located error.
    corrupt = their_payload(bin="970436", ident="1234567890", purpose="A" * 100)
    assert "0810" + "0A" in corrupt
    with pytest.raises(InvalidFormat, match="not EMV TLV"):
        vietqr.parse(corrupt)
    with pytest.raises(ValueError):
        QRPay(corrupt)
