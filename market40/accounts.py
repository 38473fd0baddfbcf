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
from typing import Any

from .exceptions import InvalidFormat, InvalidLength
from .text import emv_text, search_key

__all__ = ["KIND_LABELS", "STALL_STATUS_LABELS", "mask", "group", "stall_reference", "clean_holder_name",
           "clean_phone", "clean_username", "MAX_USERNAME", "clean_account_kind", "clean_stall_status",
           "clean_stall_code", "clean_market_code", "MAX_REFERENCE", "stall_key", "compact_reference",
           "clean_account_number", "clean_event_time", "event_day", "datetime_of_day", "VN_TZ"]

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
    return re.sub(r"[^0-9A-Z]", "", emv_text(code or ""))


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
    market = re.sub(r"[^0-9A-Z]", "", emv_text(market_code))
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


def clean_holder_name(value: Any) -> str:
    """The account holder name as the bank shows it: upper-case ASCII, 2–50 characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidFormat("holder_name: the account holder name is required", field="holder_name",
                            value=value, limit="2–50 letters")
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
