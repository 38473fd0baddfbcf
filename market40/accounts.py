"""Rules for what a stall registers: account kinds, holder names, phones, stall references.

Pure functions, one place for each rule (the registry services, the importer and the
web forms all call these). python-stdnum style: ``clean_*`` returns the canonical
form or raises a :class:`~market40.exceptions.ValidationError` naming the field.

>>> mask("0011012344418")
'•••• 4418'
>>> group("0011012345678")
'0011 0123 4567 8'
>>> stall_reference("HL1", "A-12")
'HL1 A12'
>>> clean_holder_name("Nguyễn Thị Thu Hằng")
'NGUYEN THI THU HANG'
>>> clean_phone("+84 912 345 678")
'0912345678'
"""
from __future__ import annotations

import functools
import re
from typing import Any

from .exceptions import InvalidFormat, InvalidLength
from .text import emv_text, search_key, unsafe_char

__all__ = ["KIND_LABELS", "STALL_STATUS_LABELS", "mask", "group", "stall_reference", "clean_holder_name",
           "clean_phone", "clean_account_kind", "clean_stall_status", "clean_stall_code",
           "clean_market_code", "clean_name", "MAX_REFERENCE"]

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
}
_HOLDER = re.compile(r"[A-Z][A-Z .'-]*")
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
    """A number in groups of four, for reading aloud and for posters."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def stall_reference(market_code: str, stall_code: str) -> str:
    """The short reference a stall's QR carries in 62.08 (``HL1 A12``).

    Letters and digits of the market and stall codes, upper-case, one space between:
    it survives every bank app and lets transfers be attributed to the stall.
    """
    market = re.sub(r"[^0-9A-Z]", "", emv_text(market_code))
    stall = re.sub(r"[^0-9A-Z]", "", emv_text(stall_code))
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


def clean_holder_name(value: Any) -> str:
    """The account holder name as the bank shows it: upper-case ASCII, 2–50 characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidFormat("holder_name: the account holder name is required", field="holder_name",
                            value=value, limit="2–50 letters")
    clean_name(value, field="holder_name", limit=len(value))  # the same rule as every other name
    name = emv_text(value)
    if not _HOLDER.fullmatch(name):
        bad = next((c for c in name if not (c.isascii() and (c.isalpha() or c in " .'-"))), name[:1])
        raise InvalidFormat(f"holder_name: letters and spaces only (as the bank shows it), found {bad!r} "
                            f"in {value!r}", field="holder_name", value=value, limit="letters A–Z and spaces")
    if not 2 <= len(name) <= 50:
        raise InvalidLength(f"holder_name: 2–50 characters, got {len(name)} ({name!r})", field="holder_name",
                            value=value, limit="2–50 characters")
    return name


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
