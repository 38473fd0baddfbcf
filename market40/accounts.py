"""Rules for what a stall registers: account kinds, holder names, phones, stall references.

Pure functions, one place for each rule (the registry services, the importer and the
web forms all call these). python-stdnum style: ``clean_*`` returns the canonical
form or raises a :class:`~market40.exceptions.ValidationError` naming the field.

>>> mask("0011012344418")
'•••• 4418'
>>> group("0011012345678")
'0011 012 345 678'
>>> stall_reference("HL1", "A-12")
'HL1 A12'
>>> clean_holder_name("Nguyễn Thị Thu Hằng")
'NGUYEN THI THU HANG'
>>> clean_phone("+84 912 345 678")
'0912345678'
>>> stall_key("a-12") == stall_key("A 12") == stall_key("A.12") == "A12"
True
>>> compact_reference("HL1", "15") == compact_reference("HL11", "5")
True
>>> clean_account_number(" 0011-0123 4441.8 ")
'0011012344418'
>>> clean_username(" 0912.345.678 "), clean_username(" Staff.HaLong ")
('0912345678', 'staff.halong')
"""
from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple

from stdnum.exceptions import ValidationError as _StdnumError
from stdnum.vn import mst as _mst

from . import banks, formats, vietqr
from .exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, NotVietQR, ValidationError
from .text import emv_text, search_key, unsafe_char

__all__ = ["KIND_LABELS", "STALL_STATUS_LABELS", "mask", "group", "stall_reference", "clean_holder_name",
           "clean_phone", "clean_username", "MAX_USERNAME", "clean_account_kind", "clean_stall_status",
           "clean_stall_code", "clean_market_code", "MAX_REFERENCE", "stall_key", "compact_reference",
           "clean_account_number", "clean_name", "clean_event_time", "event_day", "datetime_of_day", "VN_TZ",
           "HOLDER_TYPE_LABELS", "clean_holder_type", "clean_tax_code", "clean_business_registration",
           "mask_identifier", "ScannedQR", "RefusedQR", "receiving_qr", "merchant_qr"]

#: The stall reference in 62.08: upper-case ASCII, at most 19 characters so that every
#: bank app keeps it (design.md §3.1; api.vietqr.vn caps content at 19).
MAX_REFERENCE = 19

KIND_LABELS = {"bank_account": "Tài khoản ngân hàng", "card": "Thẻ ngân hàng", "ewallet": "Ví điện tử"}
STALL_STATUS_LABELS = {"operating": "Đang kinh doanh", "closed": "Nghỉ kinh doanh"}

# What people write in spreadsheets, folded (search_key) → canonical value.
_KINDS = {
    "bank account": "bank_account", "bank_account": "bank_account", "account": "bank_account",
    "tai khoan": "bank_account", "tai khoan ngan hang": "bank_account", "tk": "bank_account",
    "card": "card", "the": "card", "the ngan hang": "card", "the atm": "card",
    "ewallet": "ewallet", "e wallet": "ewallet", "wallet": "ewallet", "vi": "ewallet",
    "vi dien tu": "ewallet",
}
_STATUSES = {
    "operating": "operating", "open": "operating", "active": "operating", "dang kinh doanh": "operating",
    "dang hoat dong": "operating", "hoat dong": "operating", "kinh doanh": "operating",
    "closed": "closed", "nghi": "closed", "da nghi": "closed", "nghi kinh doanh": "closed",
    "ngung kinh doanh": "closed", "dong cua": "closed",
    # what boards write in their lists: abbreviations and everyday words
    "dang kd": "operating", "dkd": "operating", "kd": "operating", "con kd": "operating",
    "con kinh doanh": "operating", "dang ban": "operating", "con ban": "operating", "hd": "operating",
    "dang hd": "operating",
    "tam nghi": "closed", "tam ngung": "closed", "tam ngung kinh doanh": "closed", "nghi kd": "closed",
    "da nghi kd": "closed", "ngung kd": "closed", "ngung hoat dong": "closed", "da dong cua": "closed",
    "thoi kinh doanh": "closed", "thoi kd": "closed", "nghi han": "closed", "da nghi kinh doanh": "closed",
    "giai the": "closed", "khong kinh doanh": "closed", "khong kd": "closed",
}
_HOLDER = re.compile(r"[A-Z][A-Z .'-]*")
# A household business's registered name as the bank shows it: digits and shop punctuation too
# ("HO KINH DOANH TAP HOA 68", "HKD BANH MI 3/2"); upper-case ASCII.
_BUSINESS_NAME = re.compile(r"[A-Z0-9][A-Z0-9 .,&'/()+-]*")
MAX_BUSINESS_NAME = 100
HOLDER_TYPE_LABELS = {"personal": "Cá nhân", "household": "Hộ kinh doanh"}
_HOLDER_TYPES = {
    "personal": "personal", "person": "personal", "individual": "personal", "ca nhan": "personal",
    "tai khoan ca nhan": "personal", "tk ca nhan": "personal",
    "household": "household", "household business": "household", "business": "household", "hkd": "household",
    "ho kinh doanh": "household", "tai khoan ho kinh doanh": "household", "tk hkd": "household",
    "tk ho kinh doanh": "household",
}
_BUSINESS_REG = re.compile(r"[0-9A-Z][0-9A-Z/.-]{2,31}")
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z ._/-]*")


@functools.lru_cache(maxsize=1024)  # a spreadsheet repeats the same few words on every row
def _fold_key(value: str) -> str:
    return search_key(value)


def _vocabulary(words: dict[str, str], value: str) -> str | None:
    return words.get(_fold_key(value))


def mask(number: str | None) -> str:
    """An account or card number as listings show it: only the last 4 characters."""
    if not number:
        return ""
    return "••••" if len(number) <= 4 else f"•••• {number[-4:]}"


def group(number: str) -> str:
    """A number in groups for reading aloud and for posters, never with a lone character.

    The fewest groups of at most four characters, as even as they can be, the longer
    ones first: from 6 to 19 characters every group has 3 or 4 (``8086 205 182 190``,
    not ``8086 2051 8219 0``); 16-digit cards keep their 4 x 4. Nothing is added or dropped.

    >>> [group(n) for n in ("1234", "12345", "1234567890", "8086205182190", "9704361234567890")]
    ['1234', '123 45', '1234 567 890', '8086 205 182 190', '9704 3612 3456 7890']
    """
    count = -(-len(number) // 4)  # ceil: the fewest groups of at most four
    if count <= 1:
        return number
    size, longer = divmod(len(number), count)
    cuts, start = [], 0
    for index in range(count):
        end = start + size + (index < longer)
        cuts.append(number[start:end])
        start = end
    return " ".join(cuts)


def stall_key(code: str) -> str:
    """The canonical key of a stall code within its market: letters and digits, upper-case.

    ``A-12``, ``A12``, ``a 12`` and ``A.12`` are one stall: the registry keeps one stall per
    key and market (a unique constraint), and the census, the imports and the stall
    reference all compare codes by this key.
    """
    return _letters_digits(code or "")


@functools.lru_cache(maxsize=4096)
def _letters_digits(code: str) -> str:
    # Cached: an import asks for the key of every row's code, and codes repeat across markets (A-1 …).
    return _NOT_LETTER_DIGIT.sub("", emv_text(code))


_NOT_LETTER_DIGIT = re.compile(r"[^0-9A-Z]")


def compact_reference(market_code: str, stall_code: str) -> str:
    """A stall reference as it reads once a bank app strips its spaces (``HL1A12``).

    Two stalls of different markets whose compact references are equal (``HL1 15`` and
    ``HL11 5`` both read ``HL115``) cannot be told apart in a transfer's content: the
    registry refuses to create the second one.
    """
    return re.sub(r"[^0-9A-Z]", "", emv_text(market_code or "")) + stall_key(stall_code)


def stall_reference(market_code: str, stall_code: str) -> str:
    """The short reference a stall's QR carries in 62.08 (``HL1 A12``).

    Letters and digits of the market and stall codes, upper-case, one space between:
    it survives every bank app and lets transfers be attributed to the stall.
    """
    market = _letters_digits(market_code) if isinstance(market_code, str) else \
        re.sub(r"[^0-9A-Z]", "", emv_text(market_code))
    stall = stall_key(stall_code)
    reference = f"{market} {stall}"
    if not market or not stall:
        raise InvalidFormat(f"stall reference: market and stall codes need letters or digits, got "
                            f"{market_code!r} and {stall_code!r}", field="stall_code", value=stall_code,
                            limit="letters or digits")
    if len(reference) > MAX_REFERENCE:
        raise InvalidLength(f"stall reference: {reference!r} has {len(reference)} characters, at most "
                            f"{MAX_REFERENCE} fit every bank app; use shorter market or stall codes",
                            field="stall_code", value=stall_code, limit=f"≤ {MAX_REFERENCE} characters")
    return reference


def clean_name(value: Any, *, field: str, limit: int, required: bool = False) -> str | None:
    """A name or other free text people type (owner, shop, market, category): the rule for every door.

    White space is collapsed and trimmed; control characters (ESC, BEL), bidi overrides
    (U+202E) and zero-width characters are refused (:func:`market40.text.unsafe_char`):
    they hide or reorder what staff, posters and reports show. Empty gives None (or an
    error when ``required``).

    >>> clean_name("  Nguyễn   Thị Lan ", field="owner_name", limit=200)
    'Nguyễn Thị Lan'
    >>> clean_name("Lan\u202enaoh", field="owner_name", limit=200)
    Traceback (most recent call last):
    ...
    market40.exceptions.InvalidFormat: owner_name: invisible or control character U+202E is not allowed in 'Lan\u202enaoh'
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        value = str(value)
    bad = unsafe_char(value)
    if bad is not None:
        raise InvalidFormat(f"{field}: invisible or control character U+{ord(bad):04X} is not allowed in {value!r}",
                            field=field, value=value, limit="visible characters only")
    text = " ".join(value.split())
    if len(text) > limit:
        raise InvalidLength(f"{field}: at most {limit} characters, got {len(text)}", field=field, value=value,
                            limit=f"≤ {limit} characters")
    if not text and required:
        raise InvalidFormat(f"{field}: required", field=field, value=value, limit=f"1–{limit} characters")
    return text or None


def clean_holder_name(value: Any, *, household: bool = False) -> str:
    """The account holder name as the bank shows it: upper-case ASCII, 2–50 characters.

    A household business's account (``household=True``, Circular 25/2025) carries its registered
    business name: digits and ``. , & ' / ( ) + -`` are allowed too, up to 100 characters.

    >>> clean_holder_name("Hộ kinh doanh Tạp hóa 68", household=True)
    'HO KINH DOANH TAP HOA 68'
    """
    limit = f"2–{MAX_BUSINESS_NAME} characters" if household else "2–50 letters"
    if not isinstance(value, str) or not value.strip():
        raise InvalidFormat("holder_name: the account holder name is required", field="holder_name",
                            value=value, limit=limit)
    clean_name(value, field="holder_name", limit=len(value))  # the same rule as every other name
    name = " ".join(emv_text(value).split())
    if household:
        if not _BUSINESS_NAME.fullmatch(name):
            bad = next((c for c in name if not (c.isascii() and (c.isalnum() or c in " .,&'/()+-"))), name[:1])
            raise InvalidFormat(f"holder_name: the business name as the bank shows it: letters, digits, spaces "
                                f"and . , & ' / ( ) + -, found {bad!r} in {value!r}", field="holder_name",
                                value=value, limit="letters, digits and . , & ' / ( ) + -")
        if not 2 <= len(name) <= MAX_BUSINESS_NAME:
            raise InvalidLength(f"holder_name: 2–{MAX_BUSINESS_NAME} characters, got {len(name)} ({name!r})",
                                field="holder_name", value=value, limit=limit)
        return name
    if not _HOLDER.fullmatch(name):
        bad = next((c for c in name if not (c.isascii() and (c.isalpha() or c in " .'-"))), name[:1])
        hint = " (a household business's name with digits: register it as a household-business account)" \
            if bad.isdigit() else ""
        raise InvalidFormat(f"holder_name: letters and spaces only (as the bank shows it), found {bad!r} "
                            f"in {value!r}{hint}", field="holder_name", value=value, limit="letters A–Z and spaces")
    if not 2 <= len(name) <= 50:
        raise InvalidLength(f"holder_name: 2–50 characters, got {len(name)} ({name!r})", field="holder_name",
                            value=value, limit="2–50 characters")
    return name


def clean_holder_type(value: Any, *, field: str = "holder_type") -> str:
    """``personal`` or ``household`` (a household business, HKD) from what people write; empty: personal."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "personal"
    kind = _vocabulary(_HOLDER_TYPES, str(value))
    if kind is None:
        raise InvalidFormat(f"{field}: Cá nhân / Hộ kinh doanh (personal / household), got {value!r}",
                            field=field, value=value, limit="personal or household")
    return kind


def clean_tax_code(value: Any, *, field: str = "tax_code") -> str | None:
    """A household's tax code (MST): 10 digits, or 13 (10 + a 3-digit branch), with its check digit.

    Validated by python-stdnum's ``vn.mst``; stored compact (digits only). Empty: None.

    >>> clean_tax_code("0100233488"), clean_tax_code("0100233488-001")
    ('0100233488', '0100233488001')
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidFormat(f"{field}: must be text (leading zeros matter), got {value!r}", field=field,
                            value=value, limit="10 or 13 digits")
    try:
        return _mst.validate(value)
    except _StdnumError as error:
        kind = InvalidChecksum if "checksum" in type(error).__name__.lower() else InvalidFormat
        raise kind(f"{field}: a tax code (MST) is 10 digits, or 13 with the branch, and its check digit must "
                   f"match ({error.message}), got {value!r}", field=field, value=value,
                   limit="10 or 13 digits with a valid check digit") from None


def clean_business_registration(value: Any, *, field: str = "business_reg_no") -> str | None:
    """A household business's registration number (as on its certificate): 3–32 letters, digits, / . -."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = re.sub(r"\s+", "", emv_text(str(value)))
    if not _BUSINESS_REG.fullmatch(text):
        raise InvalidFormat(f"{field}: 3–32 letters, digits, / . or -, as on the registration certificate, "
                            f"got {value!r}", field=field, value=value, limit="3–32 of A–Z 0–9 / . -")
    return text


def mask_identifier(value: str | None) -> str:
    """A registration number or tax code in listings: only the last 3 characters."""
    if not value:
        return ""
    return "•••" + value[-3:]


def clean_phone(value: Any, *, field: str = "owner_phone") -> str:
    """A Vietnamese phone number as ten (or eleven) digits with its leading 0.

    ``+84`` / ``84`` prefixes become ``0``; spaces, dots and dashes are dropped.
    """
    if not isinstance(value, str):
        raise InvalidFormat(f"{field}: must be text (leading zeros matter), got {type(value).__name__} {value!r}",
                            field=field, value=value, limit="0 + 9–10 digits")
    digits = re.sub(r"[\s.()-]", "", value)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0[0-9]{9,10}", digits):
        raise InvalidFormat(f"{field}: a Vietnamese phone number is 0 followed by 9 or 10 digits, got {value!r}",
                            field=field, value=value, limit="0 + 9–10 digits")
    return digits


#: Usernames are stored in 64 characters (``app_user.username``).
MAX_USERNAME = 64


def clean_username(value: Any, *, field: str = "username") -> str:
    """The stored form of a login name: a phone in its canonical form, anything else lower-case.

    The one rule for creating users (CLI, admin page), enrolment (an owner's phone is their
    username), logging in and the login rate limits: whatever spelling someone types,
    ``0912.345.678``, ``+84 912 345 678`` or `` Staff.HL``, names the same account.
    1–64 characters, no spaces, no control or invisible formatting characters.
    """
    if not isinstance(value, str):
        raise InvalidFormat(f"{field}: must be text, got {type(value).__name__}", field=field, value=value,
                            limit=f"1–{MAX_USERNAME} characters, no spaces")
    text = value.strip()
    try:
        return clean_phone(text, field=field)
    except InvalidFormat:
        pass
    name = text.lower()
    if not name or len(name) > MAX_USERNAME or any(c.isspace() or not c.isprintable() for c in name) or \
            any(unicodedata.category(c) == "Cf" for c in name):
        raise InvalidFormat(f"{field}: 1–{MAX_USERNAME} characters without spaces or control characters, "
                            f"got {value[:80]!r}", field=field, value=value[:200],
                            limit=f"1–{MAX_USERNAME} characters, no spaces")
    return name


def clean_account_kind(value: Any, *, bank_kind: str | None = None, field: str = "account_kind") -> str:
    """``bank_account``, ``card`` or ``ewallet`` from what people write (Vietnamese or English).

    Empty means: an e-wallet for an e-wallet participant, otherwise a bank account.
    An e-wallet participant only takes e-wallet accounts, and the reverse.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return "ewallet" if bank_kind == "ewallet" else "bank_account"
    kind = _vocabulary(_KINDS, str(value))
    if kind is None:
        raise InvalidFormat(f"{field}: one of Tài khoản ngân hàng / Thẻ / Ví điện tử "
                            f"(bank_account / card / ewallet), got {value!r}", field=field, value=value,
                            limit="bank_account, card or ewallet")
    if bank_kind is not None and (kind == "ewallet") != (bank_kind == "ewallet"):
        raise InvalidFormat(f"{field}: {value!r} does not fit a participant of kind {bank_kind}",
                            field=field, value=value, limit="ewallet for e-wallets, otherwise bank/card")
    return kind


def clean_stall_status(value: Any, *, field: str = "status") -> str:
    """``operating`` or ``closed`` (empty means operating)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "operating"
    status = _vocabulary(_STATUSES, str(value))
    if status is None:
        raise InvalidFormat(f"{field}: Đang kinh doanh / Nghỉ kinh doanh (operating / closed), got {value!r}",
                            field=field, value=value, limit="operating or closed")
    return status


def clean_stall_code(value: Any, *, field: str = "stall_code") -> str:
    """A stall code as people write it (``A-12``, ``K 03``), trimmed; 1–32 characters."""
    return _code(value, field, 32)


def clean_market_code(value: Any, *, field: str = "market_code") -> str:
    """A market code, upper-case (``HL1``); 1–16 characters."""
    return _code(value, field, 16).upper()


def _code(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidFormat(f"{field}: required", field=field, value=value, limit=f"1–{limit} characters")
    code = " ".join(value.split())
    if not _CODE.fullmatch(code):
        raise InvalidFormat(f"{field}: letters, digits and - . / _ only, got {value!r}", field=field,
                            value=value, limit="letters, digits, - . / _")
    if len(code) > limit:
        raise InvalidLength(f"{field}: at most {limit} characters, got {len(code)}", field=field, value=value,
                            limit=f"≤ {limit} characters")
    return code


_NUMBER_SEPARATORS = re.compile(r"[\s.\-\u00a0\u2010-\u2015]")


def clean_account_number(value: Any, *, field: str = "number") -> str:
    """An account, card or wallet number as the bank keeps it: ASCII letters and digits only.

    People write numbers in groups (``0011 0123 4441 8``, ``0011-0123-44418``); the spaces,
    dashes and dots are dropped. Anything else (a Vietnamese letter, a slash, a number from an
    Excel cell that lost its leading zeros is a matter for the importer) is refused, naming
    the character. Lengths depend on the kind and are checked when the VietQR is built.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        raise InvalidFormat(f"{field}: must be text (leading zeros matter), got the number {value!r}",
                            field=field, value=value, limit="1–19 letters or digits")
    if not isinstance(value, str) or not value.strip():
        raise InvalidFormat(f"{field}: the account number is required", field=field, value=value,
                            limit="1–19 letters or digits")
    number = _NUMBER_SEPARATORS.sub("", value)
    bad = next((c for c in number if not (c.isascii() and c.isalnum())), None)
    if bad is not None:
        raise InvalidFormat(f"{field}: letters A–Z and digits only (spaces and dashes are dropped), found {bad!r} "
                            f"in {value!r}", field=field, value=value, limit="1–19 letters or digits")
    return number


# --------------------------------------------------------------------------- scanned QR codes

class RefusedQR(InvalidFormat):
    """A scanned QR that cannot be registered as a stall's receiving QR; ``reason`` says why.

    Reasons: ``damaged`` (CRC), ``not_vietqr`` (not an EMV/VietQR payload), ``other_scheme``
    (a VNPAY merchant sticker, a wallet's merchant QR…), ``cash`` (NAPAS QRCASH), ``amount``
    (a QR for one payment of a fixed amount), ``dynamic`` (a bill's one-time QR), ``bill``
    (a bill number), ``momo_reference`` (a MoMo QR without its MOMOW2W reference),
    ``merchant`` (a merchant QR where a transfer QR is needed, or the reverse).
    """

    message = "not a receiving QR"

    def __init__(self, message: str | None = None, *, reason: str, kind: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("field", "qr")
        kwargs.setdefault("limit", "the receiving QR of a bank or wallet app (static, no amount)")
        super().__init__(message, **kwargs)
        self.reason = reason
        self.kind = kind


class ScannedQR(NamedTuple):
    """What a stall's own receiving QR says, read by :func:`receiving_qr`.

    ``kind`` is ``transfer`` (a personal VietQR: ``bin`` is the bank's, ``account`` the account,
    card or wallet number) or ``merchant`` (a bank-issued NAPAS QRPUSH merchant QR: ``bin`` is
    the acquirer's, ``merchant_id`` the id it issued; ``account`` is None). ``payload`` is the
    scanned text, trimmed: a merchant QR is stored and printed exactly so.
    """

    kind: str
    bin: str
    account: str | None = None
    is_card: bool = False
    reference_label: str | None = None
    merchant_name: str | None = None
    merchant_city: str | None = None
    merchant_id: str | None = None
    mcc: str | None = None
    payload: str = ""

    @property
    def bank(self) -> "banks.Bank | None":
        return banks.by_bin(self.bin)

    def as_dict(self) -> dict[str, Any]:
        bank = self.bank
        return {**self._asdict(), "bank": bank.short_name if bank else None}


_MOMO_BIN = "971025"


def receiving_qr(text: Any, *, allow_unknown_bin: bool = False) -> ScannedQR:
    """Judge a scanned QR as a stall's receiving QR: the one rule for the web form, the CLI and imports.

    Accepted: the static receiving QR a bank or wallet app shows (a VietQR transfer to an account,
    card or wallet, without an amount or bill; MoMo's with its ``MOMOW2W…`` reference), and a
    bank-issued merchant QR (NAPAS QRPUSH, static, no amount). The BIN must be in the directory
    unless ``allow_unknown_bin``. Anything else raises :class:`RefusedQR` saying what it is.

    >>> qr = receiving_qr(vietqr.build(bin="970436", account="0011012345678").payload)
    >>> qr.kind, qr.bin, qr.account
    ('transfer', '970436', '0011012345678')
    >>> receiving_qr(vietqr.build(bin="970436", account="0011012345678", amount=50000).payload)
    Traceback (most recent call last):
    ...
    market40.accounts.RefusedQR: qr: this QR asks for a fixed amount (50,000 đ): it is made for one payment, not the stall's receiving QR
    """
    if not isinstance(text, str) or not text.strip():
        raise RefusedQR("qr: no QR content", reason="not_vietqr", value=text)
    payload = text.strip()
    try:
        qr = vietqr.parse(payload)
    except InvalidChecksum as error:
        raise RefusedQR(f"qr: the QR's check characters (CRC) do not match: it is damaged or was altered "
                        f"({error})", reason="damaged", value=payload) from None
    except NotVietQR as error:
        other = error.parsed
        if other is not None and other.is_napas_merchant:
            return _merchant(other, payload, allow_unknown_bin)
        reason = "cash" if other is not None and other.service == "QRCASH" else "other_scheme"
        raise RefusedQR(f"qr: this is a {error.kind}: it pays a merchant through another scheme, not into "
                        f"the stall's own account; scan the receiving QR of the owner's bank or wallet app",
                        reason=reason, kind=error.kind, value=payload) from None
    except ValidationError as error:
        raise RefusedQR(f"qr: not a VietQR payment code ({error})", reason="not_vietqr", value=payload) from None
    if qr.amount is not None:
        raise RefusedQR(f"qr: this QR asks for a fixed amount ({formats.money(qr.amount, 'en')}): it is made for one payment, "
                        f"not the stall's receiving QR", reason="amount", value=payload)
    if qr.is_dynamic:
        raise RefusedQR("qr: this is a one-time (dynamic) QR, like a bill's: it is made for one payment, not "
                        "the stall's receiving QR", reason="dynamic", value=payload)
    if qr.bill_number:
        raise RefusedQR(f"qr: this QR pays bill {qr.bill_number!r}, not the stall's receiving QR",
                        reason="bill", value=payload)
    if qr.bin == _MOMO_BIN and not (qr.reference_label or "").upper().startswith("MOMOW2W"):
        raise RefusedQR("qr: a MoMo QR without its MOMOW2W… reference (62.05): scan the receive-money QR in "
                        "the MoMo app", reason="momo_reference", value=payload)
    banks.require_bin(qr.bin, allow_unknown=allow_unknown_bin)
    return ScannedQR("transfer", qr.bin, qr.account, qr.is_card, qr.reference_label, qr.merchant_name,
                     qr.merchant_city, None, None, payload)


def merchant_qr(text: Any, *, allow_unknown_bin: bool = False) -> ScannedQR:
    """A bank-issued merchant QR (NAPAS QRPUSH) to register as issued, or :class:`RefusedQR`."""
    scanned = receiving_qr(text, allow_unknown_bin=allow_unknown_bin)
    if scanned.kind != "merchant":
        raise RefusedQR("merchant_qr: this is a personal transfer QR, not a bank-issued merchant QR (QRPUSH): "
                        "register it as the stall's account", reason="merchant", field="merchant_qr",
                        value=scanned.payload)
    return scanned


def _merchant(other: Any, payload: str, allow_unknown_bin: bool) -> ScannedQR:
    if other.crc_ok is False:
        raise RefusedQR("qr: the merchant QR's check characters (CRC) do not match: it is damaged or was "
                        "altered", reason="damaged", value=payload)
    if other.amount_text:
        raise RefusedQR(f"qr: this merchant QR asks for a fixed amount ({other.amount_text} đ): it is made for "
                        f"one payment, not the stall's QR", reason="amount", value=payload)
    if other.initiation != "static":
        raise RefusedQR("qr: this merchant QR is a one-time (dynamic) code, not the one to hang at the stall",
                        reason="dynamic", value=payload)
    errors: list[ValidationError] = []
    if not other.bin or not re.fullmatch(r"[0-9]{6}", other.bin):
        errors.append(InvalidFormat(f"merchant_qr: the acquirer BIN (38.01.00) must be 6 digits, got {other.bin!r}",
                                    field="bin", value=other.bin, limit="6 digits"))
    else:
        try:
            banks.require_bin(other.bin, allow_unknown=allow_unknown_bin)
        except ValidationError as error:
            errors.extend(error.errors)
    if not other.merchant_id or not re.fullmatch(r"[ -~]{1,19}", other.merchant_id):
        errors.append(InvalidFormat(f"merchant_qr: the merchant id (38.01.01) must be 1–19 characters, got "
                                    f"{other.merchant_id!r}", field="merchant_qr", value=payload,
                                    limit="1–19 characters"))
    if other.currency not in (None, "704"):
        errors.append(InvalidComponent(f"merchant_qr: currency (53) must be 704 (VND), got {other.currency!r}",
                                       field="merchant_qr", value=payload, limit="704"))
    if other.country not in (None, "VN"):
        errors.append(InvalidComponent(f"merchant_qr: country (58) must be VN, got {other.country!r}",
                                       field="merchant_qr", value=payload, limit="VN"))
    if not payload.isascii():
        errors.append(InvalidFormat("merchant_qr: the payload must be ASCII (EMV ANS)", field="merchant_qr",
                                    value=payload, limit="printable ASCII"))
    if errors:
        raise ValidationError.combine(errors)
    return ScannedQR("merchant", other.bin, None, False, other.reference_label, other.merchant_name,
                     other.merchant_city, other.merchant_id, other.mcc, payload)


# --------------------------------------------------------------------------- dated history

#: Vietnam time (UTC+7): the day a board or bank officer writes down is a Vietnamese day.
VN_TZ = timezone(timedelta(hours=7), "ICT")
_DAY_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


def clean_event_time(value: Any, *, field: str = "at", now: datetime | None = None,
                     not_before: datetime | None = None, before_label: str = "") -> datetime:
    """When something happened, as bank staff or a board write it down: an aware UTC datetime.

    Accepts a date (``2025-03-02``, ``02/03/2025``, an Excel date cell) — meaning the start of
    that day in Vietnam — or a date and time (``2025-03-02 14:30``, Vietnam time unless an
    offset is given). Refused, naming the field and the value: junk, a time in the future, and
    a time before ``not_before`` (``before_label`` says what that is, e.g. "registered on").

    >>> clean_event_time("02/03/2025", now=datetime(2025, 6, 1, tzinfo=timezone.utc)).isoformat()
    '2025-03-01T17:00:00+00:00'
    """
    now = now or datetime.now(timezone.utc)
    moment = _event_time(value, field)
    if moment > now:
        raise InvalidFormat(f"{field}: {_shown(value)} is in the future (today is {event_day(now):%d/%m/%Y})",
                            field=field, value=value, limit="today or earlier")
    if not_before is not None and moment < not_before:
        what = f" ({before_label})" if before_label else ""
        raise InvalidFormat(f"{field}: {_shown(value)} is before {event_day(not_before):%d/%m/%Y}{what}",
                            field=field, value=value, limit=f"on or after {event_day(not_before):%d/%m/%Y}")
    return moment


def datetime_of_day(day: date) -> datetime:
    """The moment a Vietnamese calendar day begins, aware (UTC)."""
    return datetime.combine(day, time(), VN_TZ).astimezone(timezone.utc)


def event_day(moment: datetime) -> date:
    """The Vietnamese calendar day of an aware moment."""
    return moment.astimezone(VN_TZ).date()


def _shown(value: Any) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else repr(value)


def _event_time(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=VN_TZ)).astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(), VN_TZ).astimezone(timezone.utc)
    text = " ".join(str(value or "").split())
    if text:
        for fmt in _DAY_FORMATS:
            try:
                return _event_time(datetime.strptime(text, fmt).date(), field)
            except ValueError:
                continue
        try:
            if len(text) == 10:
                return _event_time(date.fromisoformat(text), field)
            return _event_time(datetime.fromisoformat(text.replace(" ", "T", 1)), field)
        except ValueError:
            pass
        for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
            try:
                return _event_time(datetime.strptime(text, fmt), field)
            except ValueError:
                continue
    raise InvalidFormat(f"{field}: a date as DD/MM/YYYY or YYYY-MM-DD (optionally with HH:MM), got {value!r}",
                        field=field, value=value, limit="DD/MM/YYYY or YYYY-MM-DD")
