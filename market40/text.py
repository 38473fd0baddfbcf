"""Vietnamese text → the ASCII that EMV payloads, holder names and search keys need.

VietQR text fields are EMV "ANS" (printable ASCII, `vietqr-spec.md` §1, §8) and every
generator in the ecosystem strips Vietnamese diacritics first (Odoo maps ``đ/Đ`` to
``d/D`` explicitly, because Unicode does not decompose them).

>>> fold("Chợ Hạ Long I – sạp A-12")
'Cho Ha Long I - sap A-12'
>>> emv_text("  Đặng   Thị Thu  ")
'DANG THI THU'
>>> search_key("Ngân hàng TMCP Ngoại Thương")
'ngan hang tmcp ngoai thuong'
>>> unsafe_char("Nguyễn\u202eThị"), unsafe_char("Nguyễn Thị Lan")
('\u202e', None)

Standard library only.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "emv_text", "search_key", "is_ans", "first_non_ans", "unsafe_char"]

# Letters Unicode does not decompose into base + combining mark, and the
# typographic punctuation that spreadsheets and phones slip into names.
_EXTRA_CHARS = {
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
    "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u00a0": " ", "\u202f": " ", "\u2007": " ",
}
_EXTRA = str.maketrans(_EXTRA_CHARS)

def _precomposed_table() -> dict[int, str]:
    # Every precomposed Latin letter (Vietnamese uses U+00C0–U+01B0 and U+1EA0–U+1EF9)
    # mapped to its ASCII base letter: one str.translate instead of NFD + filtering,
    # about ten times faster for the short names and memos folded in bulk.
    table: dict[int, str] = {}
    for start, stop in ((0x00C0, 0x0250), (0x1E00, 0x1F00)):
        for code in range(start, stop):
            base = "".join(c for c in unicodedata.normalize("NFD", chr(code))
                           if not unicodedata.combining(c))
            if base.isascii() and base:
                table[code] = base
    table.update({ord(k): v for k, v in _EXTRA_CHARS.items()})
    return table


_FOLD = _precomposed_table()
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Remove Vietnamese tone and vowel marks (every one of them) and map Đ→D.

    Characters with no ASCII form are kept as they are; callers that need pure
    ASCII check with :func:`is_ans` afterwards and report what is left.
    """
    if text.isascii():
        return text
    folded = text.translate(_FOLD)
    if folded.isascii():
        return folded
    # Decomposed input (NFD, as some Mac and web forms send) or other scripts.
    text = unicodedata.normalize("NFD", folded.translate(_EXTRA))
    return "".join(c for c in text if not unicodedata.combining(c))


def emv_text(text: str, *, upper: bool = True) -> str:
    """Fold, collapse runs of white space, trim, and upper-case (by default)."""
    text = " ".join(fold(text).split())  # split() drops and collapses every kind of space
    return text.upper() if upper else text


def search_key(text: str) -> str:
    """Lower-case ASCII words for matching names typed without diacritics or case."""
    return _NON_ALNUM.sub(" ", fold(text).lower()).strip()


def is_ans(text: str) -> bool:
    """True when every character is printable ASCII (EMV "ANS")."""
    return text.isascii() and text.isprintable()


def first_non_ans(text: str) -> str | None:
    """The first character that is not printable ASCII, or None."""
    for char in text:
        if not " " <= char <= "~":
            return char
    return None


def unsafe_char(text: str) -> str | None:
    """The first character a name must not hold, or None: the one rule for every door.

    Control characters (ESC, BEL, NUL, ...), format characters (bidi overrides and
    isolates such as U+202E, zero-width spaces and joiners, the BOM), line and
    paragraph separators, surrogates, private-use and unassigned code points. Plain
    white space (space, tab, newline) is not refused here: callers collapse it.
    """
    if text.isprintable():  # every unsafe category is non-printable: an ordinary name stops here
        return None
    for char in text:
        if char in " \t\n\r":
            continue
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return char
    return None


# Cc control, Cf format (bidi, zero-width), Zl/Zp separators, Cs surrogates, Co private use, Cn unassigned.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
