"""Business households (hộ kinh doanh): the unit the province's adoption rate counts.

A household may run several stalls (two kiosks side by side, a stall in two markets). The
province's "83% of households" counts it once, so every stall carries a *household key*:

* the owner's business registration or tax code (mã số thuế / số ĐKKD) where it is known,
  digits and letters only (``0101234567``);
* else the owner's phone number and name, normalised (phone as ``0…``, the name without
  case, diacritics or extra spaces: ``0912345678`` + ``nguyen thi lan``);
* else nothing (None): with neither a code nor a phone, a name alone is too common to join
  stalls on ("Nguyễn Thị Lan"), so such a stall counts as its own household.

The key is a digest (``mst:…`` or ``tel:…`` and 32 hex digits of SHA-256), never the phone or
code itself: it is stored on every stall and copied into the audit trail, which must not hold
a phone number in clear.

>>> household_key(tax_code="0101 234-567") == household_key(tax_code="0101234567")
True
>>> household_key(phone="+84 912 345 678", name="  Nguyễn  Thị LAN ")[:4], len(household_key(tax_code="0101234567"))
('tel:', 36)
>>> household_key(phone="0912345678", name="Nguyen Thi Lan") == household_key(phone="0912.345.678",
...                                                                          name="nguyễn thị lan")
True
>>> household_key(name="Nguyễn Thị Lan") is None
True
"""
from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from .accounts import clean_phone
from .exceptions import InvalidFormat, InvalidLength, ValidationError
from .text import search_key

__all__ = ["MAX_KEY", "MAX_TAX_CODE", "clean_tax_code", "household_key"]

MAX_KEY = 120
MAX_TAX_CODE = 20
_TAX = re.compile(r"[0-9A-Z]{6,20}")


def clean_tax_code(value: Any, *, field: str = "owner_tax_code") -> str | None:
    """A business registration or tax code, upper case without spaces, dots or dashes (None when blank).

    >>> clean_tax_code(" 0101234567-001 "), clean_tax_code("")
    ('0101234567001', None)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = re.sub(r"[\s.\-/]", "", str(value)).upper()
    if len(text) > MAX_TAX_CODE:
        raise InvalidLength(f"{field}: at most {MAX_TAX_CODE} characters, got {len(text)}", field=field,
                            value=value, limit=f"6–{MAX_TAX_CODE} digits or letters")
    if not _TAX.fullmatch(text):
        raise InvalidFormat(f"{field}: a tax or business registration code is 6–{MAX_TAX_CODE} digits or letters, "
                            f"got {value!r}", field=field, value=value, limit=f"6–{MAX_TAX_CODE} digits or letters")
    return text


def household_key(*, tax_code: Any = None, phone: Any = None, name: Any = None) -> str | None:
    """The key that joins the stalls of one household (see the module docstring); None when unknown."""
    if tax_code is not None:
        try:
            code = clean_tax_code(tax_code)
        except ValidationError:
            code = None
        if code:
            return _digest("mst", code)
    if not isinstance(phone, str) or not phone.strip() or not isinstance(name, str) or not name.strip():
        return None
    if _CANONICAL_PHONE.fullmatch(phone):
        digits = phone  # what clean_phone returns for it
    else:
        try:
            digits = clean_phone(phone)
        except ValidationError:
            return None
    folded = _folded_name(name)
    return _digest("tel", f"{digits}:{folded}") if folded else None


_CANONICAL_PHONE = re.compile(r"0[0-9]{9,10}")


@functools.lru_cache(maxsize=4096)  # a list repeats the same few names ("Nguyễn Thị Lan") many times
def _folded_name(name: str) -> str:
    return " ".join(search_key(name).split())


def _digest(kind: str, text: str) -> str:
    return f"{kind}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}"
