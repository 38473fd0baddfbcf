"""VietQR: the NAPAS 247 transfer QR on EMVCo merchant-presented mode.

Build strictly, parse leniently and judge strictly (`vietqr-spec.md` §15, design.md §3.2):

* :func:`build` refuses anything out of spec with a :class:`~market40.exceptions.ValidationError`
  naming the field, the limit and the value, and reports every wrong field at once;
* :func:`parse` accepts what real bank apps emit (lower-case CRC, any tag order, unknown
  tags, surrounding white space, long purposes) and tells apart: not EMV TLV at all,
  EMV but not a VietQR transfer (:class:`~market40.exceptions.NotVietQR`, saying what it
  is), a bad CRC (:class:`~market40.exceptions.InvalidChecksum`, fields still exposed),
  and a valid transfer payload.

This module does not know the bank directory (BIN membership is checked by
:mod:`market40.banks`), so the payload core stays pure.

>>> qr = build(bin="970403", account="0011012345678")
>>> qr.payload
'00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F'
>>> parse(qr.payload) == qr
True
>>> qr = build(bin="970436", account="1234567890", amount="150.000", purpose="Chợ HL1 sạp A-12")
>>> qr.amount, qr.purpose, qr.initiation
(150000, 'CHO HL1 SAP A-12', 'dynamic')

Standard library only.
"""
from __future__ import annotations

import re
from binascii import crc_hqx
from decimal import Decimal
from typing import Any, Iterable, NamedTuple

from . import emv
from .exceptions import (InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength,
                         NotVietQR, ValidationError)
from .text import emv_text, first_non_ans, is_ans

__all__ = [
    "VietQR", "OtherQR", "build", "parse", "is_valid", "parse_amount",
    "NAPAS_GUID", "SERVICE_ACCOUNT", "SERVICE_CARD", "STATIC", "DYNAMIC", "MAX_AMOUNT",
]

# NAPAS-VN §5.2.3.2: the NAPAS AID in sub-tag 00 of tag 38.
NAPAS_GUID = "A000000727"
# NAPAS-VN §5.2.3.2.3: fast transfer to an account / to a card.
SERVICE_ACCOUNT = "QRIBFTTA"
SERVICE_CARD = "QRIBFTTC"
# NAPAS-VN §5.2.2: point of initiation 11 = static (reusable), 12 = dynamic (one payment).
STATIC, DYNAMIC = "static", "dynamic"
_POI = {"11": STATIC, "12": DYNAMIC}
_POI_CODE = {STATIC: "11", DYNAMIC: "12"}
# NAPAS-VN §8.1.1: a single NAPAS 247 transfer is under 500 million đồng.
MAX_AMOUNT = 500_000_000
# Tags this module reads into named fields; anything else is kept as read in ``extra``.
_KNOWN_ROOT = frozenset({"00", "01", "38", "53", "54", "58", "59", "60", "62", "63"})
_KNOWN_62 = frozenset({"01", "05", "08"})
# EMV ANS fields: 59 ≤ 25, 60 ≤ 15, every 62.xx ≤ 25, template 62 ≤ 99 (NAPAS-VN Table 1, 8).
_TEXT_LIMITS = {"purpose": 25, "bill_number": 25, "reference_label": 25,
                "merchant_name": 25, "merchant_city": 15}
_TEXT_TAGS = {"bill_number": "01", "reference_label": "05", "purpose": "08"}

_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
_CARD = re.compile(r"[0-9]{16,19}")
_GROUPED = re.compile(r"[0-9]{1,3}(?:([.,  ])[0-9]{3})(?:\1[0-9]{3})*")
_EMV_AMOUNT = re.compile(r"([0-9]+)\.?")

# Other schemes recognised by the GUID of their merchant-account template (`vietqr-spec.md` §9–10).
_OTHER_SCHEMES = {
    "A000000775": "VNPAY-QR merchant payment",
    "vn.airpay.www": "ShopeePay merchant QR",
    "vn.zalopay": "ZaloPay merchant QR",
    "vn.momo": "MoMo merchant QR",
}
_NAPAS_NON_TRANSFER = {
    "QRPUSH": "NAPAS QR merchant payment (QRPUSH), not a transfer",
    "QRCASH": "NAPAS ATM cash withdrawal QR (QRCASH), not a transfer",
}


class VietQR(NamedTuple):
    """A VietQR transfer payload and its fields (immutable).

    ``payload`` is the string itself: canonical when made by :func:`build`, the
    (trimmed) input when read by :func:`parse`. ``crc_ok`` is False only on the
    object carried by an :class:`InvalidChecksum` error. ``extra`` holds root tags
    this type has no field for, and ``extra_62`` sub-tags of 62 likewise, as read.
    ``notes`` flags what is allowed but not canonical (an amount written ``"50000."``, no
    service code, no point of initiation): a payload is never judged valid silently.

    A named tuple, like :func:`urllib.parse.urlsplit`'s result: immutable, cheap to
    make (parsing runs at hundreds of thousands per second), with ``_replace``.
    """

    bin: str
    account: str
    service: str | None = SERVICE_ACCOUNT
    initiation: str | None = STATIC
    amount: int | None = None
    purpose: str | None = None
    bill_number: str | None = None
    reference_label: str | None = None
    merchant_name: str | None = None
    merchant_city: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    extra_62: tuple[tuple[str, str], ...] = ()
    payload: str = ""
    crc_ok: bool = True
    notes: tuple[str, ...] = ()

    @property
    def is_card(self) -> bool:
        """True for a transfer to a card number (QRIBFTTC)."""
        return self.service == SERVICE_CARD

    @property
    def is_dynamic(self) -> bool:
        return self.initiation == DYNAMIC

    def build_kwargs(self) -> dict[str, Any]:
        """Arguments that make :func:`build` produce this payload again."""
        return {
            "bin": self.bin,
            ("card" if self.is_card else "account"): self.account,
            "amount": self.amount,
            "dynamic": self.is_dynamic,
            "purpose": self.purpose,
            "bill_number": self.bill_number,
            "reference_label": self.reference_label,
            "merchant_name": self.merchant_name,
            "merchant_city": self.merchant_city,
            "extra": self.extra,
            "extra_62": self.extra_62,
            "upper": False,
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (the keys of ``market40 qr decode --json``)."""
        return {
            "bin": self.bin,
            "account": self.account,
            "service": self.service,
            "initiation": self.initiation,
            "amount": self.amount,
            "purpose": self.purpose,
            "bill_number": self.bill_number,
            "reference_label": self.reference_label,
            "merchant_name": self.merchant_name,
            "merchant_city": self.merchant_city,
            "extra": {tag: value for tag, value in self.extra},
            "extra_62": {tag: value for tag, value in self.extra_62},
            "crc_ok": self.crc_ok,
            "notes": list(self.notes),
            "payload": self.payload,
        }


class OtherQR(NamedTuple):
    """What could be read from an EMV payload that is not a VietQR transfer.

    Carried by :class:`~market40.exceptions.NotVietQR` as ``parsed``: a NAPAS merchant QR
    (QRPUSH: ``bin`` is the acquirer's BIN, ``merchant_id`` the merchant id the acquirer
    issued), a NAPAS cash-withdrawal QR (QRCASH), a VNPAY-QR sticker (template 26, GUID
    ``A000000775``), a wallet's merchant QR, a card-scheme QR... ``template`` and ``guid``
    name the merchant-account template read; ``amount`` is whole đồng when 54 is a whole
    number (``amount_text`` keeps 54 as written). Fields that are absent are None.
    """

    kind: str
    template: str | None = None
    guid: str | None = None
    service: str | None = None
    bin: str | None = None
    merchant_id: str | None = None
    mcc: str | None = None
    initiation: str | None = None
    currency: str | None = None
    amount: int | None = None
    amount_text: str | None = None
    country: str | None = None
    merchant_name: str | None = None
    merchant_city: str | None = None
    postal_code: str | None = None
    bill_number: str | None = None
    store_label: str | None = None
    reference_label: str | None = None
    terminal_label: str | None = None
    purpose: str | None = None
    crc_ok: bool | None = None
    payload: str = ""

    @property
    def is_napas_merchant(self) -> bool:
        """True for a NAPAS QRPUSH merchant-payment QR (VIETQRPay)."""
        return self.guid == NAPAS_GUID and self.service == "QRPUSH"

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


# Positional construction without the keyword handling of VietQR(...): the hot paths
# below build one of these per call.
_make = VietQR._make


# --------------------------------------------------------------------------- build

def parse_amount(value: Any, *, field: str = "amount") -> int:
    """An amount as an integer number of đồng, 1 ≤ amount < 500,000,000.

    "150.000", "150,000" and "150 000" are thousands grouping (one hundred fifty
    thousand), never 150. Fractions, floats, zero, negatives and non-numbers are refused.

    >>> parse_amount("150.000"), parse_amount("1 250 000"), parse_amount(50000)
    (150000, 1250000, 50000)
    >>> parse_amount("150.5")
    Traceback (most recent call last):
    ...
    market40.exceptions.InvalidFormat: amount: must be a whole number of đồng (VND has no decimals), got '150.5'
    """
    limit = f"whole number of đồng, 1 to {MAX_AMOUNT - 1:,}"
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidFormat(f"{field}: must be a whole number of đồng given as an integer or text, "
                            f"not a {type(value).__name__}, got {value!r}",
                            field=field, value=value, limit=limit)
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise InvalidFormat(f"{field}: must be a whole number of đồng (VND has no decimals), got {value!r}",
                                field=field, value=value, limit=limit)
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii():
            number = int(text)
        elif _GROUPED.fullmatch(text):
            number = int(re.sub(r"[^0-9]", "", text))
        elif re.fullmatch(r"\s*-.*", text):
            raise InvalidLength(f"{field}: must be at least 1 đồng, got {value!r}",
                                field=field, value=value, limit=limit)
        elif re.fullmatch(r"[0-9][0-9.,  ]*", text):
            raise InvalidFormat(f"{field}: must be a whole number of đồng (VND has no decimals), got {value!r}",
                                field=field, value=value, limit=limit)
        else:
            raise InvalidFormat(f"{field}: not a number of đồng, got {value!r}",
                                field=field, value=value, limit=limit)
    else:
        raise InvalidFormat(f"{field}: must be an integer or text, got {type(value).__name__} {value!r}",
                            field=field, value=value, limit=limit)
    if not 1 <= number < MAX_AMOUNT:
        raise InvalidLength(f"{field}: must be from 1 to {MAX_AMOUNT - 1:,} đồng "
                            f"(NAPAS 247 single-transfer cap), got {number:,}",
                            field=field, value=value, limit=limit)
    return number


def _text(name: str, value: Any, upper: bool, errors: list[ValidationError]) -> str | None:
    if not isinstance(value, str):
        errors.append(InvalidFormat(f"{name}: must be text, got {type(value).__name__} {value!r}",
                                    field=name, value=value, limit="text"))
        return None
    if value.isascii():  # the usual case: no folding needed
        text = " ".join(value.split()).upper() if upper else value
    else:
        text = emv_text(value, upper=upper)
    if not text:
        return None
    limit = _TEXT_LIMITS[name]
    if not is_ans(text):
        errors.append(InvalidFormat(
            f"{name}: only printable ASCII is allowed after removing Vietnamese marks, "
            f"found {first_non_ans(text)!r} in {value!r}", field=name, value=value,
            limit="printable ASCII"))
    elif len(text) > limit:
        errors.append(InvalidLength(
            f"{name}: at most {limit} characters, got {len(text)} ({text!r})",
            field=name, value=value, limit=f"≤ {limit} characters"))
    return text


def _extra(name: str, items: Iterable[tuple[str, str]], known: frozenset[str],
           errors: list[ValidationError]) -> list[tuple[str, str]]:
    out = []
    for tag, value in items:
        if not (isinstance(tag, str) and len(tag) == 2 and tag.isdigit() and tag.isascii()) or tag in known:
            errors.append(InvalidComponent(f"{name}: tag {tag!r} is not a free 2-digit tag",
                                           field=name, value=tag, limit="2-digit tag not used by VietQR"))
        elif not isinstance(value, str) or not 1 <= len(value) <= 99:
            errors.append(InvalidLength(f"{name}: tag {tag} value must be 1–99 characters, got {value!r}",
                                        field=name, value=value, limit="1–99 characters"))
        else:
            out.append((tag, value))
    return out


def build(
    *,
    bin: str,
    account: str | None = None,
    card: str | None = None,
    amount: Any = None,
    purpose: str | None = None,
    bill_number: str | None = None,
    reference_label: str | None = None,
    merchant_name: str | None = None,
    merchant_city: str | None = None,
    dynamic: bool | None = None,
    upper: bool = True,
    extra: Iterable[tuple[str, str]] = (),
    extra_62: Iterable[tuple[str, str]] = (),
) -> VietQR:
    """Build a VietQR transfer payload, strictly.

    Give ``account`` (service QRIBFTTA, 1–19 of ``[0-9A-Za-z]``) or ``card``
    (QRIBFTTC, 16–19 digits). ``dynamic`` defaults to "an amount is given". Text is
    folded to ASCII (Đ→D, every tone mark) and, unless ``upper=False``, upper-cased
    before its length is checked (``upper=False`` keeps ASCII text exactly as given,
    to re-encode what was read). Tags are emitted in ascending order.
    """
    # The usual stall QR (an account, maybe an amount, maybe an ASCII purpose) takes this
    # path; it applies the same rules as _build and leaves every other case, and every
    # doubt, to _build, which also words the errors (a test checks the two agree).
    if (card is None and dynamic is None and upper and bill_number is None and reference_label is None
            and merchant_name is None and merchant_city is None and not extra and not extra_62
            and type(bin) is str and type(account) is str and len(bin) == 6 and bin.isdigit() and bin.isascii()):
        ident = account.strip()
        if 0 < len(ident) <= 19 and ident.isalnum() and ident.isascii() and (
                amount is None or (type(amount) is int and 0 < amount < MAX_AMOUNT)):
            template_62 = ""
            if purpose is not None:
                if type(purpose) is not str:
                    return _build(**_arguments(locals()))
                text = " ".join(purpose.split()).upper() if purpose.isascii() else emv_text(purpose)
                if len(text) > 25 or not (text.isascii() and text.isprintable()):
                    return _build(**_arguments(locals()))
                purpose = text or None
                if text:
                    template_62 = f"62{len(text) + 4:02d}08{len(text):02d}{text}"
            beneficiary = f"0006{bin}01{len(ident):02d}{ident}"
            merchant = f"0010A00000072701{len(beneficiary):02d}{beneficiary}0208QRIBFTTA"
            if amount is None:
                body = f"00020101021138{len(merchant):02d}{merchant}53037045802VN{template_62}6304"
            else:
                digits = str(amount)
                body = (f"00020101021238{len(merchant):02d}{merchant}530370454{len(digits):02d}{digits}"
                        f"5802VN{template_62}6304")
            return _new(VietQR, (bin, ident, SERVICE_ACCOUNT, DYNAMIC if amount is not None else STATIC, amount,
                                 purpose, None, None, None, None, (), (),
                                 body + "%04X" % crc_hqx(body.encode(), 0xFFFF), True, ()))
    return _build(bin=bin, account=account, card=card, amount=amount, purpose=purpose, bill_number=bill_number,
                  reference_label=reference_label, merchant_name=merchant_name, merchant_city=merchant_city,
                  dynamic=dynamic, upper=upper, extra=extra, extra_62=extra_62)


_new = tuple.__new__
_BUILD_ARGUMENTS = ("bin", "account", "card", "amount", "purpose", "bill_number", "reference_label",
                    "merchant_name", "merchant_city", "dynamic", "upper", "extra", "extra_62")


def _arguments(scope: dict[str, Any]) -> dict[str, Any]:
    return {name: scope[name] for name in _BUILD_ARGUMENTS}


def _build(
    *,
    bin: str,
    account: str | None = None,
    card: str | None = None,
    amount: Any = None,
    purpose: str | None = None,
    bill_number: str | None = None,
    reference_label: str | None = None,
    merchant_name: str | None = None,
    merchant_city: str | None = None,
    dynamic: bool | None = None,
    upper: bool = True,
    extra: Iterable[tuple[str, str]] = (),
    extra_62: Iterable[tuple[str, str]] = (),
) -> VietQR:
    """:func:`build` for every case: each rule checked, every problem reported at once."""
    errors: list[ValidationError] = []
    # str methods rather than regular expressions: this runs ~10^5 times a second, and on
    # ASCII text isdigit()/isalnum() are exactly [0-9] and [0-9A-Za-z].
    if not (isinstance(bin, str) and len(bin) == 6 and bin.isascii() and bin.isdigit()):
        errors.append(InvalidFormat(f"bin: must be 6 digits, got {bin!r}",
                                    field="bin", value=bin, limit="6 digits"))
    if (account is None) == (card is None):
        errors.append(ValidationError("account: give either an account number or a card number"
                                      + (", not both" if account is not None else ""),
                                      field="account", value=account, limit="exactly one of account, card"))
        ident = ""
    elif account is not None:
        ident = account.strip() if isinstance(account, str) else account
        if not (isinstance(ident, str) and 0 < len(ident) <= 19 and ident.isascii() and ident.isalnum()):
            cls = InvalidLength if isinstance(ident, str) and len(ident) > 19 and ident.isalnum() else InvalidFormat
            errors.append(cls(f"account: must be 1–19 letters or digits [0-9A-Za-z], got {account!r}",
                              field="account", value=account, limit="1–19 of [0-9A-Za-z]"))
    else:
        ident = card.strip() if isinstance(card, str) else card
        if not (isinstance(ident, str) and 16 <= len(ident) <= 19 and ident.isascii() and ident.isdigit()):
            errors.append(InvalidFormat(f"card: must be 16–19 digits, got {card!r}",
                                        field="card", value=card, limit="16–19 digits"))
    number = None
    if type(amount) is int and 1 <= amount < MAX_AMOUNT:
        number = amount
    elif amount is not None and amount != "":
        try:
            number = parse_amount(amount)
        except ValidationError as error:
            errors.append(error)
    if dynamic is None:
        dynamic = amount is not None and amount != ""
    elif not isinstance(dynamic, bool):
        errors.append(InvalidFormat(f"dynamic: must be True or False, got {dynamic!r}",
                                    field="dynamic", value=dynamic, limit="bool"))
    # Each text field is checked only when given (this function runs ~10^5 times a second).
    purpose = None if purpose is None else _text("purpose", purpose, upper, errors)
    bill_number = None if bill_number is None else _text("bill_number", bill_number, upper, errors)
    reference_label = (None if reference_label is None
                       else _text("reference_label", reference_label, upper, errors))
    merchant_name = None if merchant_name is None else _text("merchant_name", merchant_name, upper, errors)
    merchant_city = None if merchant_city is None else _text("merchant_city", merchant_city, upper, errors)
    extra = _extra("extra", extra, _KNOWN_ROOT, errors) if extra else []
    extra_62 = _extra("extra_62", extra_62, _KNOWN_62, errors) if extra_62 else []

    if bill_number or reference_label:
        template_62 = "".join((
            f"01{len(bill_number):02d}{bill_number}" if bill_number else "",
            f"05{len(reference_label):02d}{reference_label}" if reference_label else "",
            f"08{len(purpose):02d}{purpose}" if purpose else "",
        ))
    else:  # the usual stall QR: a purpose at most
        template_62 = f"08{len(purpose):02d}{purpose}" if purpose else ""
    if extra_62:
        additional = [(tag, value) for tag, value in (("01", bill_number), ("05", reference_label),
                                                      ("08", purpose)) if value] + extra_62
        template_62 = "".join([f"{tag}{len(value):02d}{value}" for tag, value in sorted(additional)])
    if len(template_62) > 99:
        errors.append(InvalidLength(
            f"additional data (62): bill number, reference label and purpose together take "
            f"{len(template_62)} characters, at most 99 fit", field="62", value=template_62,
            limit="≤ 99 characters"))
    if errors:
        raise ValidationError.combine(errors)

    service = SERVICE_CARD if card is not None else SERVICE_ACCOUNT
    beneficiary = f"0006{bin}01{len(ident):02d}{ident}"
    merchant = f"0010A00000072701{len(beneficiary):02d}{beneficiary}0208{service}"  # NAPAS_GUID
    if extra:  # unknown tags go where their number puts them
        objects = [("38", merchant), ("53", "704"), ("58", "VN")] + extra
        for tag, value in (("54", number and str(number)), ("59", merchant_name),
                           ("60", merchant_city), ("62", template_62)):
            if value:
                objects.append((tag, value))
        objects.sort()
        body = "".join([f"{tag}{len(value):02d}{value}" for tag, value in objects])
    else:  # the usual case, written out in tag order (ascending, NAPAS-VN §5.1 advice)
        amount_text = "" if number is None else str(number)
        body = "".join((
            f"38{len(merchant):02d}{merchant}5303704",
            f"54{len(amount_text):02d}{amount_text}" if amount_text else "",
            "5802VN",
            f"59{len(merchant_name):02d}{merchant_name}" if merchant_name else "",
            f"60{len(merchant_city):02d}{merchant_city}" if merchant_city else "",
            f"62{len(template_62):02d}{template_62}" if template_62 else "",
        ))
    body = ("000201010212" if dynamic else "000201010211") + body + "6304"
    return _make((bin, ident, service, DYNAMIC if dynamic else STATIC, number, purpose or None,
                  bill_number or None, reference_label or None, merchant_name or None,
                  merchant_city or None, tuple(extra) if extra else (), tuple(extra_62) if extra_62 else (),
                  body + "%04X" % crc_hqx(body.encode(), 0xFFFF), True, ()))


# --------------------------------------------------------------------------- parse

def _describe_other(root: dict[str, str], templates: dict[str, str | None]) -> tuple[str, str | None]:
    """What a non-VietQR EMV payload is, and which merchant-account template says so."""
    for tag, guid in sorted(templates.items()):
        if guid in _OTHER_SCHEMES:
            return _OTHER_SCHEMES[guid], tag
    for tag, guid in sorted(templates.items()):
        if guid is not None:
            return f"EMV merchant QR of another scheme (tag {tag}, GUID {guid!r})", tag
    if root.get("01") == "10":
        return "VNPAY wallet personal QR (point of initiation 10)", None
    if any("02" <= tag <= "25" for tag in root):
        return "card-scheme EMV QR (tags 02–25: Visa, Mastercard, UnionPay, JCB…)", None
    return "EMV QR without a NAPAS account template (tag 38)", None


def _amount_value(raw: str | None) -> int | None:
    match = _EMV_AMOUNT.fullmatch(raw) if raw else None
    return int(match.group(1)) if match else None


def _read_other(kind: str, root: dict[str, str], tag: str | None, sub: dict[str, str] | None,
                service: str | None, payload: str, crc_ok: bool) -> OtherQR:
    """The fields of a non-transfer EMV payload, read leniently (nothing here raises)."""
    bank = merchant_id = None
    sub = sub or {}
    if sub.get("00") == NAPAS_GUID and "01" in sub:  # NAPAS 38.01: 00 acquirer BIN, 01 merchant id
        try:
            inner = {t: v for t, v, _ in emv.parse(sub["01"])}
        except ValidationError:
            inner = {}
        bank, merchant_id = inner.get("00"), inner.get("01")
    elif sub:
        merchant_id = sub.get("01")
    extra: dict[str, str] = {}
    if "62" in root:
        try:
            extra = {t: v for t, v, _ in emv.parse(root["62"])}
        except ValidationError:
            extra = {}
    amount_text = root.get("54")
    return OtherQR(kind, tag, sub.get("00"), service, bank, merchant_id, root.get("52"),
                   _POI.get(root.get("01", "")), root.get("53"), _amount_value(amount_text), amount_text,
                   root.get("58"), root.get("59"), root.get("60"), root.get("61"), extra.get("01"),
                   extra.get("03"), extra.get("05"), extra.get("07"), extra.get("08"), crc_ok, payload)


# The layout :func:`build` emits (and most bank apps too): tags in ascending order, one
# regular expression. A match is accepted only when every declared length equals the
# length of what the group captured; a TLV split read from the start is unique, so a
# length-consistent match *is* the parse. Anything else (other order, unknown tags,
# errors) goes through the general parser, which also words the errors.
_FAST = re.compile(
    r"000201"
    r"0102(1[12])"
    r"38(\d\d)(0010A00000072701(\d\d)(0006([0-9]{6})01(\d\d)([0-9A-Za-z]{1,19}))0208(QRIBFTT[AC]))"
    r"5303704"
    r"(?:54(\d\d)([1-9][0-9]{0,8}))?"
    r"5802VN"
    r"(?:59(\d\d)([ -~]{1,25}?))?"
    r"(?:60(\d\d)([ -~]{1,15}?))?"
    r"(?:62(\d\d)((?:01(\d\d)([ -~]{1,25}?))?(?:05(\d\d)([ -~]{1,25}?))?(?:08(\d\d)([ -~]{1,25}?))?))?"
    r"6304([0-9A-Fa-f]{4})"
)
# (length group, value group) indexes of optional objects that must agree for a match to stand.
_FAST_LENGTHS_ROOT = ((9, 10), (11, 12), (13, 14))
_FAST_LENGTHS_62 = ((17, 18), (19, 20), (21, 22))


def _swallowed_service(ident: str) -> bool:
    """True when an account id holds ``02 08 QRIBFTT…``: a wrong 38.01 length swallowed the 38.02
    service code (vietqr-spec.md §3, "common generator bug"). An id that merely spells letters
    such as ``QRIBFTT`` is a legal (if odd) id and is read."""
    return "0208QRIBFTT" in ident.upper()


def _parse_fast(payload: str) -> VietQR | None:
    match = _FAST.fullmatch(payload)
    if match is None:
        return None
    groups = match.groups()
    if (int(groups[1]) != len(groups[2]) or int(groups[3]) != len(groups[4])
            or int(groups[6]) != len(groups[7])):
        return None
    if groups[15] is not None:
        if not groups[16] or int(groups[15]) != len(groups[16]):
            return None  # template 62 empty or mis-sized
        for size, value in _FAST_LENGTHS_62:
            if groups[size] is not None and int(groups[size]) != len(groups[value]):
                return None
    for size, value in _FAST_LENGTHS_ROOT:
        if groups[size] is not None and int(groups[size]) != len(groups[value]):
            return None
    amount = groups[10]
    if amount is not None and int(amount) >= MAX_AMOUNT:
        return None  # over the NAPAS 247 cap: refused by the general parser, which words it
    ident = groups[7]
    if (groups[8] == SERVICE_CARD and not (len(ident) >= 16 and ident.isdigit())) or (
            not ident.isdigit() and _swallowed_service(ident)):
        return None  # a card that is not 16–19 digits, or a swallowed service code: refused there
    found = groups[23]
    if "%04X" % crc_hqx(payload[:-4].encode(), 0xFFFF) != found.upper():
        return None  # let the general parser word the CRC error
    return _make((groups[5], ident, groups[8], _POI[groups[0]],
                  None if amount is None else int(amount), groups[22], groups[18], groups[20],
                  groups[12], groups[14], (), (), payload, True, ()))


def parse(text: str) -> VietQR:
    """Read a VietQR transfer payload leniently and judge it strictly.

    Raises :class:`InvalidFormat` / :class:`InvalidLength` for text that is not
    EMV TLV or has malformed fields, :class:`NotVietQR` for EMV payloads of
    another kind (saying which, with the fields it could read in ``parsed``), and
    :class:`InvalidChecksum` for a CRC mismatch (its ``parsed`` attribute holds the
    fields, with ``crc_ok=False``). The same rules hold whatever the tag order: the
    canonical layout takes a fast path that only accepts what the general one accepts.
    """
    if not isinstance(text, str):
        raise InvalidFormat(f"payload: must be text, got {type(text).__name__}",
                            field="payload", value=text, limit="text")
    payload = text.strip()
    qr = _parse_fast(payload)
    if qr is not None:
        return qr
    return _parse_general(payload)


def _parse_general(payload: str) -> VietQR:
    """:func:`parse` for every layout: each rule checked, every problem reported at once."""
    if not payload:
        raise InvalidFormat("payload: empty", field="payload", value=payload, limit="EMV TLV text")
    objects = emv.parse(payload)
    root: dict[str, str] = {}
    at: dict[str, int] = {}
    for tag, value, position in objects:
        if tag in root:
            raise InvalidFormat(f"payload: tag {tag} appears twice (again at character {position})",
                                field=tag, value=value, limit="each tag once")
        root[tag] = value
        at[tag] = position + 4
    if objects[0][0] != "00":
        raise InvalidFormat(f"payload: must start with the payload format indicator (tag 00), "
                            f"starts with tag {objects[0][0]}", field="00", value=payload[:8],
                            limit="000201 first")
    if root["00"] != "01":
        raise InvalidFormat(f"00 payload format indicator: must be '01', got {root['00']!r}",
                            field="00", value=root["00"], limit="'01'")
    found = root.get("63")
    if found is None:
        raise InvalidFormat("payload: no CRC (tag 63) at the end", field="63", value=None,
                            limit="6304 + 4 hex digits last")
    if objects[-1][0] != "63" or len(found) != 4:
        raise InvalidFormat("63 CRC: must be the last object, 4 hex digits", field="63", value=found,
                            limit="6304 + 4 hex digits last")
    try:
        int(found, 16)
    except ValueError:
        raise InvalidFormat(f"63 CRC: must be 4 hex digits, got {found!r}", field="63", value=found,
                            limit="4 hex digits") from None
    expected = emv.crc16(payload[:-4])
    crc_ok = expected == found.upper()

    # Which scheme: a merchant-account template (26–51) whose GUID is the NAPAS AID.
    merchant = root.get("38")
    sub38: dict[str, str] | None = None
    at38: dict[str, int] = {}
    if merchant is not None:
        sub38, at38 = _nested("38", merchant, at["38"])
        if sub38.get("00") != NAPAS_GUID:
            sub38 = None
    templates: dict[str, str | None] = {}
    subs: dict[str, dict[str, str]] = {}
    if sub38 is None:
        for tag, value in root.items():
            if "26" <= tag <= "51":
                try:
                    sub = dict((t, v) for t, v, _ in emv.parse(value))
                except ValidationError:
                    sub = {}
                if sub.get("00") == NAPAS_GUID and sub38 is None:
                    sub38, at38 = _nested(tag, value, at[tag])
                else:
                    templates[tag] = sub.get("00")
                    subs[tag] = sub
    if sub38 is None:
        kind, tag = _describe_other(root, templates)
        raise NotVietQR(f"payload: not a VietQR transfer: {kind}", kind=kind, field="38",
                        value=payload, limit="tag 38 with GUID A000000727",
                        parsed=_read_other(kind, root, tag, subs.get(tag) if tag else None, None,
                                           payload, crc_ok))
    service = sub38.get("02")
    if service in _NAPAS_NON_TRANSFER:
        kind = _NAPAS_NON_TRANSFER[service]
        raise NotVietQR(f"payload: not a VietQR transfer: {kind}", kind=kind, field="38.02", value=service,
                        limit="QRIBFTTA or QRIBFTTC",
                        parsed=_read_other(kind, root, "38", sub38, service, payload, crc_ok))

    errors: list[ValidationError] = []
    notes: list[str] = []
    if service is None:
        notes.append("38.02 service code: absent; read as a transfer to an account (QRIBFTTA), "
                     "as bank apps do")
    elif service not in (SERVICE_ACCOUNT, SERVICE_CARD):
        errors.append(InvalidFormat(f"38.02 service code: must be QRIBFTTA or QRIBFTTC, got {service!r}",
                                    field="38.02", value=service, limit="QRIBFTTA or QRIBFTTC"))
    bank, ident = "", ""
    beneficiary = sub38.get("01")
    if beneficiary is None:
        errors.append(InvalidFormat("38.01 beneficiary: missing (BIN and account)", field="38.01",
                                    value=None, limit="present"))
    else:
        inner, _ = _nested("38.01", beneficiary, at38["01"])
        bank, ident = inner.get("00", ""), inner.get("01", "")
        for sub_tag, sub_value in inner.items():
            if sub_tag in ("00", "01"):
                continue
            if sub_value.startswith("QRIBFTT") or sub_value in _NAPAS_NON_TRANSFER:
                errors.append(InvalidFormat(
                    f"38.01 beneficiary: holds the service code {sub_value!r} (sub-tag {sub_tag}), which "
                    f"belongs in 38.02: a wrong 38.01 length swallowed it (a known generator bug); "
                    f"the payload is malformed", field="38.01", value=beneficiary,
                    limit="38.01 = 00 BIN + 01 account only"))
            else:
                errors.append(InvalidFormat(
                    f"38.01 beneficiary: unexpected sub-tag {sub_tag} ({sub_value!r}); only 00 (BIN) and "
                    f"01 (account) are defined", field="38.01", value=beneficiary,
                    limit="38.01 = 00 BIN + 01 account only"))
        if not _BIN.fullmatch(bank):
            errors.append(InvalidFormat(f"38.01.00 BIN: must be 6 digits, got {bank!r}",
                                        field="bin", value=bank, limit="6 digits"))
        if not ident:
            errors.append(InvalidFormat("38.01.01 account: missing", field="account", value=None,
                                        limit="1–19 characters"))
        elif _swallowed_service(ident):
            errors.append(InvalidFormat(
                f"38.01.01 account: {ident!r} holds a service code: a wrong length swallowed 38.02 "
                f"into the account (a known generator bug); the payload is malformed",
                field="account", value=ident, limit="1–19 of [0-9A-Za-z], no service code"))
        elif len(ident) > 19:
            errors.append(InvalidLength(f"38.01.01 account: at most 19 characters, got {len(ident)}",
                                        field="account", value=ident, limit="≤ 19 characters"))
        elif service == SERVICE_CARD:
            if not (16 <= len(ident) and ident.isascii() and ident.isdigit()):
                errors.append(InvalidFormat(f"38.01.01 card: must be 16–19 digits, got {ident!r}",
                                            field="card", value=ident, limit="16–19 digits"))
        elif not (ident.isascii() and ident.isalnum()):
            errors.append(InvalidFormat(
                f"38.01.01 account: letters and digits only ([0-9A-Za-z]), got {ident!r} "
                f"({_what_is_wrong(ident)}); a bank account number never has them, a payment to it "
                f"would fail or reach someone else", field="account", value=ident,
                limit="1–19 of [0-9A-Za-z]"))
    initiation = None
    if "01" in root:
        initiation = _POI.get(root["01"])
        if initiation is None:
            errors.append(InvalidFormat(f"01 point of initiation: must be 11 (static) or 12 (dynamic), "
                                        f"got {root['01']!r}", field="01", value=root["01"],
                                        limit="11 or 12"))
    else:
        notes.append("01 point of initiation: absent (NAPAS requires 11 static or 12 dynamic)")
    currency = root.get("53")
    if currency != "704":
        errors.append(InvalidFormat(f"53 currency: must be 704 (VND), got {currency!r}",
                                    field="53", value=currency, limit="704"))
    if "58" not in root:
        errors.append(InvalidFormat("58 country: missing; a VietQR transfer carries 5802VN "
                                    "(mandatory, NAPAS-VN Table 1)", field="58", value=None, limit="VN"))
    elif root["58"] != "VN":
        errors.append(InvalidFormat(f"58 country: must be VN, got {root['58']!r}",
                                    field="58", value=root["58"], limit="VN"))
    amount = None
    if "54" in root:
        raw = root["54"]
        match = _EMV_AMOUNT.fullmatch(raw)
        if not match:
            errors.append(InvalidFormat(f"54 amount: digits with no decimals (VND), got {raw!r}",
                                        field="amount", value=raw, limit="whole đồng"))
        else:
            amount = int(match.group(1))
            if not 1 <= amount < MAX_AMOUNT:
                errors.append(InvalidLength(f"54 amount: must be from 1 to {MAX_AMOUNT - 1:,} đồng "
                                            f"(NAPAS 247 single-transfer cap), got {raw!r}",
                                            field="amount", value=raw, limit=f"1 to {MAX_AMOUNT - 1:,}"))
                amount = None
            elif raw.endswith("."):
                notes.append(f"54 amount: {raw!r} ends with a dot; allowed for VND (NAPAS-VN §5.2.6) and read "
                             f"as {amount:,} đồng, but not how market40 or most apps write it")
            elif raw.startswith("0"):
                notes.append(f"54 amount: {raw!r} has leading zeros; read as {amount:,} đồng")
    known62: dict[str, str] = {}
    extra_62: list[tuple[str, str]] = []
    if "62" in root:
        for tag, value in _nested("62", root["62"], at["62"])[0].items():
            if tag in _KNOWN_62:
                known62[tag] = value
            else:
                extra_62.append((tag, value))
    if errors:
        raise ValidationError.combine(errors)

    qr = VietQR(bank, ident, service, initiation, amount, known62.get("08"), known62.get("01"),
                known62.get("05"), root.get("59"), root.get("60"),
                tuple((tag, value) for tag, value in root.items() if tag not in _KNOWN_ROOT),
                tuple(extra_62), payload, crc_ok, tuple(notes))
    if not qr.crc_ok:
        raise InvalidChecksum(f"63 CRC: expected {expected}, found {found}: the payload was altered "
                              f"or badly generated", field="63", value=found, limit=expected,
                              expected=expected, found=found, parsed=qr)
    return qr


def _what_is_wrong(ident: str) -> str:
    """Name what makes an account id unacceptable, for the error message."""
    found = []
    if any(c.isspace() for c in ident):
        found.append("spaces")
    if any(c in "-‐–—_./" for c in ident):
        found.append("dashes or punctuation")
    if any(not c.isascii() and c.isalpha() for c in ident):
        found.append("Vietnamese or other non-ASCII letters")
    return ", ".join(found) or "other characters"


def _nested(where: str, value: str, offset: int) -> tuple[dict[str, str], dict[str, int]]:
    """Parse a template strictly (nested length errors are fatal).

    Returns the sub-tags and, for each, the offset of its value in the whole payload
    (``offset`` is where the template's value starts), so errors point where a person can look.
    """
    out: dict[str, str] = {}
    where_at: dict[str, int] = {}
    for sub, sub_value, position in emv.parse(value, offset=offset, where=f"template {where}"):
        if sub in out:
            raise InvalidFormat(f"template {where}: sub-tag {sub} appears twice (character {position})",
                                field=f"{where}.{sub}", value=sub_value, limit="each sub-tag once")
        out[sub] = sub_value
        where_at[sub] = position + 4
    return out, where_at


def is_valid(text: str) -> bool:
    """True when ``text`` is a valid VietQR transfer payload (CRC included)."""
    try:
        parse(text)
    except ValidationError:
        return False
    return True
