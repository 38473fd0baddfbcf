"""VietQR payloads: strict build, lenient parse (vietqr-spec.md; NAPAS-VN v1.0 09/2021)."""
import random
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings, strategies as st

from market40 import emv
from market40.exceptions import (InvalidChecksum, InvalidFormat, InvalidLength, Market40Error,
                                 NotVietQR, ValidationError)
from market40.vietqr import MAX_AMOUNT, VietQR, build, is_valid, parse, parse_amount


def with_crc(body):
    return emv.with_crc(body)


# --------------------------------------------------------------- spec vectors

# NAPAS-VN §6.1 examples as published, with the corrections of vietqr-spec.md §14.
STATIC_ACCOUNT = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"
STATIC_CARD = "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045802VN63044F52"
DYNAMIC_ACCOUNT = ("00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA53037045406180000"
                   "5802VN62340107NPS68690819thanh toan don hang63042E2E")
DYNAMIC_CARD = ("00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045406180000"
                "5802VN62340107NPS68690819thanh toan don hang6304A203")
# §6.1.1 one-liner as printed: "0112" announces 12 characters for a 13-character id (typo).
STATIC_ACCOUNT_TYPO = "00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA53037045802VN6304F4E5"


@pytest.mark.parametrize("payload, fields", [
    (STATIC_ACCOUNT, dict(bin="970403", account="0011012345678", service="QRIBFTTA", initiation="static",
                          amount=None, purpose=None)),
    (STATIC_CARD, dict(bin="970403", account="9704031101234567", service="QRIBFTTC", initiation="static")),
    (DYNAMIC_ACCOUNT, dict(bin="970403", account="0011012345678", initiation="dynamic", amount=180000,
                           bill_number="NPS6869", purpose="thanh toan don hang")),
    (DYNAMIC_CARD, dict(account="9704031101234567", service="QRIBFTTC", amount=180000)),
])
def test_spec_examples_parse(payload, fields):
    qr = parse(payload)
    assert qr.crc_ok and qr.payload == payload
    for name, value in fields.items():
        assert getattr(qr, name) == value, name


@pytest.mark.parametrize("payload", [STATIC_ACCOUNT, STATIC_CARD, DYNAMIC_ACCOUNT, DYNAMIC_CARD])
def test_spec_examples_rebuild_byte_for_byte(payload):
    assert build(**parse(payload).build_kwargs()).payload == payload


def test_spec_examples_are_what_build_makes():
    assert build(bin="970403", account="0011012345678").payload == STATIC_ACCOUNT
    assert build(bin="970403", card="9704031101234567").payload == STATIC_CARD
    assert build(bin="970403", account="0011012345678", amount=180000, bill_number="NPS6869",
                 purpose="thanh toan don hang", upper=False).payload == DYNAMIC_ACCOUNT


def test_spec_typo_example_is_rejected_as_nested_length_error():
    with pytest.raises(InvalidFormat, match=r"template 38\.01: not EMV TLV at character 60"):
        parse(STATIC_ACCOUNT_TYPO)


def test_napas_worked_example_with_mafc_alternate_bin():
    # NAPAS-VN §5.2.3.2.4: 38 57 | 0010A000000727 | 0127 [0006 970468][0113 0011009950446] | 0208QRIBFTTA
    qr = parse(with_crc("000201010211385700" "10A00000072701270006970468011300110099504460208QRIBFTTA"
                        "53037045802VN"))
    assert (qr.bin, qr.account) == ("970468", "0011009950446")


# --------------------------------------------------------------- build: what it emits

def test_stall_qr_is_static_ascii_upper_case():
    qr = build(bin="970436", account="1234567890", purpose="Chợ HL1 – sạp A-12")
    assert qr.initiation == "static" and qr.amount is None
    assert qr.purpose == "CHO HL1 - SAP A-12"
    assert qr.payload.isascii()
    assert "0818CHO HL1 - SAP A-12" in qr.payload
    assert qr.payload.endswith(emv.crc16(qr.payload[:-4]))


def test_amount_makes_it_dynamic_unless_told():
    assert build(bin="970436", account="1", amount=5000).initiation == "dynamic"
    assert build(bin="970436", account="1", amount=5000, dynamic=False).initiation == "static"
    assert "54045000" in build(bin="970436", account="1", amount="5.000").payload


def test_tags_are_in_ascending_order():
    qr = build(bin="970436", account="1234567890", amount=1, purpose="X", bill_number="B",
               reference_label="MOMOW2W1", merchant_name="Bà Lan", merchant_city="Hạ Long",
               extra=[("52", "5411"), ("99", "00")])
    tags = [tag for tag, _, _ in emv.parse(qr.payload)]
    # ascending, except that 63 (CRC) is always last (NAPAS-VN §5.1)
    assert tags[:-1] == sorted(tags[:-1]) and tags[0] == "00" and tags[-1] == "63" and "99" in tags
    sub62 = [tag for tag, _, _ in emv.parse(dict((t, v) for t, v, _ in emv.parse(qr.payload))["62"])]
    assert sub62 == ["01", "05", "08"]


def test_momo_reference_label_goes_to_62_05():
    qr = build(bin="971025", account="PSP123456789012345", reference_label="MOMOW2W12345678")
    assert "0515MOMOW2W12345678" in qr.payload
    assert parse(qr.payload).reference_label == "MOMOW2W12345678"


# --------------------------------------------------------------- build: what it refuses

@pytest.mark.parametrize("kwargs, field, words", [
    (dict(bin="97043", account="1"), "bin", ["6 digits", "'97043'"]),
    (dict(bin="97043a", account="1"), "bin", ["6 digits"]),
    (dict(bin="970436", account="1" * 20), "account", ["1–19", "'11111111111111111111'"]),
    (dict(bin="970436", account="1234-5678"), "account", ["[0-9A-Za-z]", "'1234-5678'"]),
    (dict(bin="970436", account=""), "account", ["1–19"]),
    (dict(bin="970436"), "account", ["either an account number or a card number"]),
    (dict(bin="970436", account="1", card="9704031101234567"), "account", ["not both"]),
    (dict(bin="970436", card="970403110123456"), "card", ["16–19 digits", "'970403110123456'"]),
    (dict(bin="970436", card="97040311012345678901"), "card", ["16–19 digits"]),
    (dict(bin="970436", account="1", purpose="x" * 26), "purpose", ["at most 25", "got 26"]),
    (dict(bin="970436", account="1", purpose="Giá 5€"), "purpose", ["printable ASCII", "'€'"]),
    (dict(bin="970436", account="1", bill_number="B" * 26), "bill_number", ["at most 25"]),
    (dict(bin="970436", account="1", reference_label="R" * 26), "reference_label", ["at most 25"]),
    (dict(bin="970436", account="1", merchant_name="N" * 26), "merchant_name", ["at most 25"]),
    (dict(bin="970436", account="1", merchant_city="Thành phố Hạ Long"), "merchant_city", ["at most 15", "got 17"]),
    (dict(bin="970436", account="1", purpose=123), "purpose", ["must be text"]),
    (dict(bin="970436", account="1", amount=0), "amount", ["from 1 to 499,999,999"]),
    (dict(bin="970436", account="1", amount=MAX_AMOUNT), "amount", ["499,999,999", "500,000,000"]),
    (dict(bin="970436", account="1", amount=1.5), "amount", ["not a float"]),
    (dict(bin="970436", account="1", dynamic="yes"), "dynamic", ["True or False"]),
    (dict(bin="970436", account="1", extra=[("38", "x")]), "extra", ["not a free 2-digit tag"]),
])
def test_build_refusals_name_field_limit_and_value(kwargs, field, words):
    with pytest.raises(ValidationError) as info:
        build(**kwargs)
    error = info.value
    assert error.field == field
    assert error.limit
    for word in words:
        assert word in str(error), (word, str(error))


def test_build_reports_every_wrong_field_at_once():
    with pytest.raises(ValidationError) as info:
        build(bin="12", account="x" * 30, amount="-5", purpose="y" * 40, merchant_city="z" * 20)
    fields = [e.field for e in info.value.errors]
    assert fields == ["bin", "account", "amount", "purpose", "merchant_city"]
    assert str(info.value).startswith("5 problems:")
    assert info.value.as_dict()["problems"][0]["field"] == "bin"


def test_62_template_total_is_capped_at_99():
    with pytest.raises(InvalidLength, match=r"additional data \(62\).*103 characters"):
        build(bin="970436", account="1", purpose="P" * 25, bill_number="B" * 25, reference_label="R" * 25,
              extra_62=[("07", "T" * 12)])


@pytest.mark.parametrize("value, expected", [
    (150000, 150000), ("150000", 150000), ("150.000", 150000), ("150,000", 150000), ("150 000", 150000),
    ("1.250.000", 1250000), ("1,250,000", 1250000), (" 5000 ", 5000), (Decimal("2000"), 2000),
    ("499.999.999", 499_999_999), ("1", 1),
])
def test_amounts_accepted(value, expected):
    assert parse_amount(value) == expected


@pytest.mark.parametrize("value, words", [
    ("150.5", "no decimals"), ("150,50", "no decimals"), ("1.5", "no decimals"), ("150.000,00", "no decimals"),
    ("1.250,000", "no decimals"),  # mixed separators are not grouping
    ("0", "from 1"), ("-5", "at least 1"), ("-150.000", "at least 1"), (-5, "from 1"),
    (0.0, "float"), (150000.0, "float"), (True, "bool"), ("abc", "not a number"), ("", "not a number"),
    (Decimal("10.5"), "no decimals"), (Decimal("NaN"), "no decimals"), ("500.000.000", "500,000,000"),
    ([1], "integer or text"), ("1e5", "not a number"), ("٣٠٠", "not a number"),
])
def test_amounts_refused(value, words):
    with pytest.raises(ValidationError) as info:
        parse_amount(value)
    assert info.value.field == "amount"
    assert words in str(info.value)


# --------------------------------------------------------------- parse: lenient

def test_parse_accepts_lower_case_crc_and_surrounding_space():
    lower = STATIC_ACCOUNT[:-4] + STATIC_ACCOUNT[-4:].lower()
    assert parse(f"  {lower}\n").account == "0011012345678"


def test_parse_accepts_any_tag_order():
    # MB / TPBank style: 62 before 38, 54 after 58 (vietqr-spec.md §1)
    objects = [(t, v) for t, v, _ in emv.parse(DYNAMIC_ACCOUNT[:-8])]
    shuffled = [objects[0]] + list(reversed(objects[1:]))
    qr = parse(with_crc(emv.encode(shuffled)))
    assert (qr.amount, qr.bill_number, qr.account) == (180000, "NPS6869", "0011012345678")


def test_parse_keeps_unknown_tags_as_read():
    # Techcombank adds 52 and an unreserved tag 83; TPBank a UnionPay tag 15.
    body = STATIC_ACCOUNT[:-8]
    payload = with_crc(body.replace("5303704", "520460115303704") + "5903TCB6005Hanoi8315T06433099944571")
    qr = parse(payload)
    assert dict(qr.extra) == {"52": "6011", "83": "T06433099944571"}
    assert qr.merchant_name == "TCB" and qr.merchant_city == "Hanoi"


def test_parse_accepts_long_purpose_and_amount_with_dot():
    purpose = "THANH TOAN TIEN HANG THANG 10 CHO HA LONG"  # 41 > 25, real apps emit these
    payload = with_crc("00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
                       "5303704540650000.5802VN" + emv.tlv("62", emv.tlv("08", purpose)))
    qr = parse(payload)
    assert qr.purpose == purpose and qr.amount == 50000  # "50000." is valid (NAPAS-VN §5.2.6)


def test_parsed_object_is_immutable_and_json_ready():
    qr = parse(DYNAMIC_ACCOUNT)
    with pytest.raises(AttributeError):
        qr.amount = 1
    data = qr.as_dict()
    assert data["amount"] == 180000 and data["crc_ok"] is True and data["service"] == "QRIBFTTA"


# --------------------------------------------------------------- parse: judged strictly

def test_bad_crc_says_expected_and_found_and_keeps_fields():
    tampered = STATIC_ACCOUNT.replace("0011012345678", "0011012345679")
    with pytest.raises(InvalidChecksum) as info:
        parse(tampered)
    error = info.value
    assert error.found == "9E6F" and error.expected == emv.crc16(tampered[:-4])
    assert f"expected {error.expected}, found 9E6F" in str(error)
    assert error.parsed.account == "0011012345679" and error.parsed.crc_ok is False
    assert not is_valid(tampered)


@pytest.mark.parametrize("payload, kind, words", [
    ("hello world", InvalidFormat, "not EMV TLV at character 0"),
    ("", InvalidFormat, "empty"),
    ("   ", InvalidFormat, "empty"),
    (with_crc("000202010211"), InvalidFormat, "payload format indicator: must be '01'"),
    (with_crc("010211000201"), InvalidFormat, "must start with the payload format indicator"),
    (STATIC_ACCOUNT[:-8], InvalidFormat, "no CRC"),
    (STATIC_ACCOUNT + "0502AB", InvalidFormat, "must be the last object"),
    (STATIC_ACCOUNT[:-4] + "XYZW", InvalidFormat, "4 hex digits"),
    (with_crc(STATIC_ACCOUNT[:-8].replace("5303704", "5303840")), InvalidFormat, "53 currency: must be 704"),
    (with_crc(STATIC_ACCOUNT[:-8].replace("5303704", "")), InvalidFormat, "53 currency: must be 704"),
    (with_crc(STATIC_ACCOUNT[:-8] + "54010"), InvalidLength, "54 amount: must be from 1"),
    (with_crc(STATIC_ACCOUNT[:-8] + "540510.50"), InvalidFormat, "54 amount: digits with no decimals"),
    (with_crc(STATIC_ACCOUNT[:-8] + "540550 00"), InvalidFormat, "54 amount"),
    (with_crc(STATIC_ACCOUNT[:-8] + "54095000000000"[:4] + "500000000"), InvalidLength, "499,999,999"),
    (with_crc(STATIC_ACCOUNT[:-8] + "6200"), InvalidLength, "has length 00"),
    (with_crc(STATIC_ACCOUNT[:-8] + emv.tlv("62", "0809ABC")), InvalidLength,
     "template 62: tag 08 at character 90 declares 9 characters but only 3 remain"),
    (with_crc(STATIC_ACCOUNT[:-8].replace("010211", "010213")), InvalidFormat, "point of initiation"),
    (with_crc(STATIC_ACCOUNT[:-8].replace("5802VN", "5802US")), InvalidFormat, "58 country"),
    (with_crc(STATIC_ACCOUNT[:-8] + "5802VN"), InvalidFormat, "tag 58 appears twice"),
    (with_crc("000201010211" + emv.tlv("38", "0010A000000727" + emv.tlv("01", "0005970400103123")
                                         + "0208QRIBFTTA") + "53037045802VN"), InvalidFormat,
     "38.01.00 BIN: must be 6 digits, got '97040'"),
    (with_crc("000201010211" + emv.tlv("38", "0010A000000727" + emv.tlv("01", "0006970403")
                                         + "0208QRIBFTTA") + "53037045802VN"), InvalidFormat,
     "38.01.01 account: missing"),
    (with_crc("000201010211" + emv.tlv("38", "0010A000000727" + emv.tlv("01", "0006970403010212")
                                         + "0208QRIBFTTX") + "53037045802VN"), InvalidFormat,
     "38.02 service code: must be QRIBFTTA or QRIBFTTC, got 'QRIBFTTX'"),
])
def test_parse_rejections_say_why(payload, kind, words):
    with pytest.raises(kind) as info:
        parse(payload)
    assert words in str(info.value)


def test_parse_reports_several_field_problems_at_once():
    payload = with_crc(STATIC_ACCOUNT[:-8].replace("5303704", "5303840").replace("010211", "010299"))
    with pytest.raises(ValidationError) as info:
        parse(payload)
    assert {e.field for e in info.value.errors} == {"01", "53"}


def test_account_longer_than_19_is_rejected():
    beneficiary = "0006970403" + emv.tlv("01", "1" * 20)
    merchant = "0010A000000727" + emv.tlv("01", beneficiary) + "0208QRIBFTTA"
    with pytest.raises(InvalidLength, match="at most 19"):
        parse(with_crc("000201010211" + emv.tlv("38", merchant) + "53037045802VN"))


def emv_merchant_qr(tag, guid, merchant_id="0105313144"):
    template = emv.tlv("00", guid) + emv.tlv("01", merchant_id)
    return with_crc("000201010212" + emv.tlv(tag, template) + "5204581253037045802VN5907SHOP VN6005HANOI")


@pytest.mark.parametrize("payload, kind", [
    (emv_merchant_qr("26", "A000000775"), "VNPAY-QR"),
    (emv_merchant_qr("26", "vn.airpay.www"), "ShopeePay"),
    (emv_merchant_qr("26", "vn.zalopay"), "ZaloPay"),
    (emv_merchant_qr("29", "A000000999"), "GUID 'A000000999'"),
    # a tag 38 that carries a foreign GUID is not NAPAS (the "sunary" negative, vietqr-spec.md §10)
    (emv_merchant_qr("38", "A000000775"), "VNPAY-QR"),
    (with_crc("000201010211" + "0216" + "4" * 16 + "53037045802VN"), "card-scheme"),
    # NAPAS-SW QRCASH sample as published (valid CRC): a NAPAS QR, but not a transfer
    ("00020101021238500010A000000727012200069704030108123456780206QRCASH5204601153037045802VN5915NGUYEN HUU "
     "HUAN6005HANOI6237052120190109155714228384707080000111163041009", "QRCASH"),
    (with_crc("000201010212" + emv.tlv("38", "0010A000000727" + emv.tlv("01", "00069704030108MERCH001")
                                         + "0206QRPUSH") + "53037045802VN"), "QRPUSH"),
])
def test_other_emv_payloads_are_named(payload, kind):
    with pytest.raises(NotVietQR) as info:
        parse(payload)
    assert kind in info.value.kind and kind in str(info.value)


def test_a_qr_carrying_several_schemes_is_vietqr_when_napas_is_there():
    # MoMo gateway QRs: 26 vn.momo next to 38 NAPAS (vietqr-spec.md §9)
    body = STATIC_ACCOUNT[:-8].replace("000201010211", "000201010211" + emv.tlv("26", "0007vn.momo0103PMC"))
    qr = parse(with_crc(body))
    assert qr.bin == "970403" and dict(qr.extra)["26"] == "0007vn.momo0103PMC"


# --------------------------------------------------------------- properties

TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -./ạđƯ", max_size=25)


@st.composite
def stall_inputs(draw):
    kwargs = {"bin": draw(st.from_regex(r"[0-9]{6}", fullmatch=True))}
    if draw(st.booleans()):
        kwargs["card"] = draw(st.from_regex(r"[0-9]{16,19}", fullmatch=True))
    else:
        kwargs["account"] = draw(st.from_regex(r"[0-9A-Za-z]{1,19}", fullmatch=True))
    for name in ("purpose", "bill_number", "reference_label"):
        if draw(st.booleans()):
            kwargs[name] = draw(TEXT)
    if draw(st.booleans()):
        kwargs["merchant_name"] = draw(TEXT)
    if draw(st.booleans()):
        kwargs["merchant_city"] = draw(st.text(alphabet="ABCXYZ HẠLONG", max_size=15))
    if draw(st.booleans()):
        kwargs["amount"] = draw(st.integers(1, MAX_AMOUNT - 1))
    return kwargs


@given(stall_inputs())
@settings(max_examples=400)
def test_build_parse_round_trip(kwargs):
    try:
        qr = build(**kwargs)
    except InvalidLength as error:  # only the 62 total (99) may legitimately overflow here
        assume(error.field == "62")
        return
    again = parse(qr.payload)
    assert again == qr
    assert build(**again.build_kwargs()).payload == qr.payload
    assert len(qr.payload) == len(qr.payload.encode())  # pure ASCII: LEN counts bytes too


@given(stall_inputs(), st.randoms(use_true_random=False))
@settings(max_examples=200)
def test_any_tag_order_parses_to_the_same_fields(kwargs, rnd):
    try:
        qr = build(**kwargs)
    except ValidationError:
        return
    objects = [(t, v) for t, v, _ in emv.parse(qr.payload[:-8])]
    rest = objects[1:]
    rnd.shuffle(rest)
    again = parse(with_crc(emv.encode([objects[0]] + rest)))
    assert again._replace(payload="") == qr._replace(payload="")


@given(st.text(max_size=300))
@settings(max_examples=500)
def test_arbitrary_text_only_raises_our_errors(text):
    try:
        parse(text)
    except Market40Error:
        pass


@given(st.lists(st.tuples(st.from_regex(r"[0-9]{2}", fullmatch=True),
                          st.text(alphabet="0123456789AQRIBFTVN", min_size=1, max_size=40)), max_size=10))
@settings(max_examples=500)
def test_arbitrary_tlv_only_raises_our_errors(objects):
    for payload in (emv.encode(objects), with_crc("000201" + emv.encode(objects))):
        try:
            parse(payload)
        except Market40Error:
            pass


@given(st.sampled_from([STATIC_ACCOUNT, STATIC_CARD, DYNAMIC_ACCOUNT]), st.integers(0, 200), st.characters())
@settings(max_examples=300)
def test_single_character_corruption_never_passes_silently(payload, position, char):
    position %= len(payload)
    assume(payload[position].upper() != char.upper())
    corrupted = payload[:position] + char + payload[position + 1:]
    try:
        parse(corrupted)
    except Market40Error:
        return
    pytest.fail(f"corruption at {position} ({char!r}) was accepted")


def test_fast_and_general_parsers_agree():
    from market40 import vietqr
    rnd = random.Random(7)
    fast_taken = 0
    for _ in range(300):
        qr = build(bin="9704%02d" % rnd.randrange(100), account=str(rnd.randrange(10**12)),
                   amount=rnd.choice([None, rnd.randrange(1, 10**8)]),
                   purpose=rnd.choice([None, "HL1 A%d" % rnd.randrange(999)]),
                   merchant_name=rnd.choice([None, "BA LAN 6005"]))
        fast = vietqr._parse_fast(qr.payload)
        assert fast is None or fast == qr  # the fast path may decline, never disagree
        fast_taken += fast is not None
        assert vietqr.parse(qr.payload + " ") == qr
        # the general parser on a reordered copy gives the same fields
        objects = [(t, v) for t, v, _ in emv.parse(qr.payload[:-8])]
        reordered = with_crc(emv.encode([objects[0]] + objects[:0:-1]))
        assert vietqr._parse_fast(reordered) is None
        assert parse(reordered)._replace(payload="") == qr._replace(payload="")
    assert fast_taken > 250  # names ending in digits ("BA LAN 6005") may send a few the long way


def test_vietqr_is_a_value():
    a = build(bin="970436", account="1")
    assert a == build(bin="970436", account="1") and hash(a) == hash(build(bin="970436", account="1"))
    assert isinstance(a, VietQR)


@given(st.from_regex(r"[0-9]{6}", fullmatch=True) | st.text(max_size=7),
       st.from_regex(r" ?[0-9A-Za-z]{1,20} ?", fullmatch=True) | st.text(max_size=21),
       st.none() | st.integers(-5, MAX_AMOUNT + 5) | st.booleans(),
       st.none() | st.text(alphabet="ABCxyz 0123-./\t\x01ạĐ€", max_size=30))
@settings(max_examples=1000, deadline=None)  # no timing assertion in a unit test (a busy machine)
def test_fast_build_path_agrees_with_the_general_one(bin, account, amount, purpose):
    """build() takes a shortcut for the usual stall QR; _build() checks everything the long way."""
    from market40 import vietqr as module
    kwargs = dict(bin=bin, account=account, amount=amount, purpose=purpose)
    try:
        fast = build(**kwargs)
    except ValidationError as error:
        with pytest.raises(ValidationError) as general:
            module._build(**kwargs)
        assert [(e.field, e.message) for e in general.value.errors] == [(e.field, e.message) for e in error.errors]
        return
    general = module._build(**kwargs)
    assert fast == general and fast.payload == general.payload


# --------------------------------------------------------------- same rules in every tag order

def napas_payload(*, bin="970403", ident="0011012345678", service="QRIBFTTA", amount=None, country="VN",
                  poi="11", beneficiary=None, purpose=None):
    """A payload written object by object, in canonical (ascending) order, without build()'s checks."""
    beneficiary = beneficiary if beneficiary is not None else emv.tlv("00", bin) + emv.tlv("01", ident)
    template = "0010A000000727" + emv.tlv("01", beneficiary) + (emv.tlv("02", service) if service else "")
    objects = [("00", "01")] + ([("01", poi)] if poi else []) + [("38", template), ("53", "704")]
    if amount is not None:
        objects.append(("54", amount))
    if country is not None:
        objects.append(("58", country))
    if purpose is not None:
        objects.append(("62", emv.tlv("08", purpose)))
    return with_crc(emv.encode(objects))


def reordered(payload):
    objects = [(t, v) for t, v, _ in emv.parse(payload[:-8])]
    return with_crc(emv.encode([objects[0]] + objects[:0:-1]))


# A 38.01 whose length swallowed "0208QRIBFTTA" (binhnguyenduc/vietqr-ts fixtures, vietqr-spec.md §3).
SWALLOWED = napas_payload(service=None, beneficiary="0006970403011300110123456780208QRIBFTTA")
# The same bug one level down: 38.01.01 declares 19 and takes "0208QRIBFTTA" into a 7-digit account.
SWALLOWED_INTO_ACCOUNT = napas_payload(service=None, beneficiary="00069704030119" + "1234567" + "0208QRIBFTTA")


@pytest.mark.parametrize("payload, field, words", [
    (napas_payload(amount="500000000", poi="12"), "amount", "499,999,999"),
    (napas_payload(amount="999999999", poi="12"), "amount", "499,999,999"),
    (napas_payload(ident="0011 012345"), "account", "spaces"),
    (napas_payload(ident="0011-012345"), "account", "dashes"),
    (napas_payload(ident="NGUYỄNVĂNA"), "account", "Vietnamese"),
    (napas_payload(ident="ĐỨC123"), "account", "Vietnamese"),
    (napas_payload(country=None), "58", "58 country: missing"),
    (SWALLOWED, "38.01", "swallowed"),
    (SWALLOWED_INTO_ACCOUNT, "account", "swallowed"),
    (napas_payload(ident="97040311ABCD4567", service="QRIBFTTC"), "card", "16–19 digits"),
    (napas_payload(ident="970403110123", service="QRIBFTTC"), "card", "16–19 digits"),
])
def test_malformed_transfers_are_refused_in_every_tag_order(payload, field, words):
    for layout in (payload, reordered(payload)):
        with pytest.raises(ValidationError) as info:
            parse(layout)
        assert [e.field for e in info.value.errors] == [field], layout
        assert words in str(info.value)
        assert not is_valid(layout)


@pytest.mark.parametrize("payload, amount, words", [
    (napas_payload(amount="50000.", poi="12"), 50000, "ends with a dot"),
    (napas_payload(amount="050000", poi="12"), 50000, "leading zeros"),
])
def test_non_canonical_amounts_are_read_but_flagged(payload, amount, words):
    # "50000." is valid (NAPAS-VN §5.2.6), so it is read, never silently: the note says what was odd.
    for layout in (payload, reordered(payload)):
        qr = parse(layout)
        assert qr.amount == amount and any(words in note for note in qr.notes)


def test_absent_service_code_and_poi_are_flagged_not_silent():
    assert any("38.02 service code: absent" in note for note in parse(napas_payload(service=None)).notes)
    assert any("point of initiation: absent" in note for note in parse(napas_payload(poi=None)).notes)
    assert parse(STATIC_ACCOUNT).notes == () and parse(DYNAMIC_ACCOUNT).notes == ()


def outcome(payload):
    """What parse() concludes, independent of where in the payload things are."""
    try:
        qr = parse(payload)
    except ValidationError as error:
        return type(error).__name__, tuple(sorted(str(e.field) for e in error.errors))
    return "valid", qr._replace(payload="")


@st.composite
def napas_fields(draw):
    """Canonical-order payloads, valid or carrying exactly the defects the decoder must judge."""
    card = draw(st.booleans())
    ident = draw(st.one_of(
        st.from_regex(r"[0-9]{16,19}" if card else r"[0-9A-Za-z]{1,19}", fullmatch=True),
        st.text(alphabet="0123456789ABC -ĐƯạễ", min_size=1, max_size=19),
        st.from_regex(r"[0-9]{1,7}", fullmatch=True).map(lambda d: d + "0208QRIBFTTA")))
    kwargs = dict(bin=draw(st.from_regex(r"9704[0-9]{2}", fullmatch=True)), ident=ident,
                  service="QRIBFTTC" if card else draw(st.sampled_from(["QRIBFTTA", "QRIBFTTA", None])))
    kwargs["amount"] = draw(st.none() | st.integers(1, 10**9 - 1).map(str) | st.sampled_from(
        ["50000.", "499999999", "500000000", "499999999.", "0500000"]))
    kwargs["poi"] = "12" if kwargs["amount"] else "11"
    kwargs["country"] = draw(st.sampled_from(["VN", "VN", None]))
    if draw(st.booleans()):
        kwargs["purpose"] = draw(st.from_regex(r"[A-Z0-9 ]{1,25}", fullmatch=True))
    if draw(st.integers(0, 9)) == 0:  # the 38.01 that swallowed the service code
        kwargs["beneficiary"] = emv.tlv("00", kwargs["bin"]) + emv.tlv("01", "123") + "0208QRIBFTTA"
        kwargs["service"] = None
    return kwargs


@given(napas_fields())
@settings(max_examples=600, deadline=None)
def test_fast_and_general_paths_judge_every_payload_alike(kwargs):
    """The fast path (canonical layout) and the general path reach the same verdict, and the
    verdict does not depend on the tag order: amount cap, account characters, 58, trailing dot,
    swallowed service code, card digits."""
    from market40 import vietqr as module
    payload = napas_payload(**kwargs)
    fast = module._parse_fast(payload)
    try:
        general = module._parse_general(payload)
    except ValidationError:
        assert fast is None, f"fast path accepted what the general path refuses: {payload}"
    else:
        assert fast is None or fast == general
    assert outcome(payload) == outcome(reordered(payload))


def test_the_fast_path_still_takes_the_usual_stall_qr():
    from market40 import vietqr as module
    for amount in (None, "1", "150000", "499999999"):
        payload = napas_payload(amount=amount, poi="12" if amount else "11", purpose="HL1 A12")
        assert module._parse_fast(payload) is not None


# --------------------------------------------------------------- other EMV codes: read, named

# NAPAS-SW's QRCASH sample as published (valid CRC) and a QRPUSH merchant QR built to NAPAS-SW.
QRCASH_SAMPLE = ("00020101021238500010A000000727012200069704030108123456780206QRCASH5204601153037045802VN5915"
                 "NGUYEN HUU HUAN6005HANOI6237052120190109155714228384707080000111163041009")
QRPUSH = with_crc("000201010212" + emv.tlv("38", "0010A000000727" + emv.tlv("01", "0006970436"
                  + emv.tlv("01", "MC0012345678")) + "0206QRPUSH") + "520454115303704540512000"
                  "5802VN5914TAP HOA CO LAN6007HA LONG" + emv.tlv("62", "0703T01"))


@pytest.mark.parametrize("payload, fields", [
    (QRPUSH, dict(kind="NAPAS QR merchant payment (QRPUSH), not a transfer", service="QRPUSH", bin="970436",
                  merchant_id="MC0012345678", mcc="5411", amount=12000, merchant_name="TAP HOA CO LAN",
                  merchant_city="HA LONG", terminal_label="T01", template="38", guid="A000000727",
                  initiation="dynamic", crc_ok=True)),
    (QRCASH_SAMPLE, dict(service="QRCASH", bin="970403", merchant_id="12345678", mcc="6011",
                         merchant_name="NGUYEN HUU HUAN", merchant_city="HANOI", amount=None,
                         reference_label="201901091557142283847", terminal_label="00001111", crc_ok=True)),
    (emv_merchant_qr("26", "A000000775"), dict(kind="VNPAY-QR merchant payment", template="26", guid="A000000775",
                                               merchant_id="0105313144", mcc="5812", merchant_name="SHOP VN",
                                               merchant_city="HANOI", bin=None, country="VN")),
    (with_crc("000201010211" + "0216" + "4" * 16 + "53037045802VN"), dict(template=None, merchant_id=None,
                                                                          currency="704", crc_ok=True)),
    (QRPUSH[:-4] + "0000", dict(service="QRPUSH", merchant_id="MC0012345678", crc_ok=False)),
])
def test_other_emv_codes_are_read_into_their_fields(payload, fields):
    with pytest.raises(NotVietQR) as info:
        parse(payload)
    other = info.value.parsed
    assert other is not None and other.payload == payload and info.value.kind == other.kind
    for name, value in fields.items():
        assert getattr(other, name) == value, name
    assert set(other.as_dict()) >= {"bin", "merchant_id", "mcc", "merchant_name", "merchant_city", "amount"}
