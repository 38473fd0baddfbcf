"""Amounts read aloud in Vietnamese (Northern usage), and the loa's announcements.

A payment "loa" that says only "hai trăm" for 200 đồng lets a buyer pass 200 đồng off as
200,000 (cafef.vn 188260312140952757, 2026-03: 9,034 đ sent on 9,034,000 đ invoices fifteen
times). So every amount is read in full, every group of three digits with its unit, and ends
with "đồng".

Rules (Northern usage as spoken in Quảng Ninh; sources: Vietnamese grammar of numerals —
Nguyễn Đình-Hoà, *Vietnamese* (1997) §numerals; Wiktionary "Vietnamese numerals"; the rules
gathered in ``field-notes-2026.md`` §6; ``num2words``' Vietnamese does not follow them):

1. Digits: không, một, hai, ba, bốn, năm, sáu, bảy, tám, chín.
2. Groups of three digits from the right, with the units nghìn (10³), triệu (10⁶), tỷ (10⁹);
   beyond a tỷ the count of tỷ is itself read (``nghìn tỷ``).
3. Tens: "mười" for 10–19, "<digit> mươi" from 20.
4. A final 1 after "mươi" (20 and up) is "mốt" (hai mươi mốt); after "mười" it stays "một".
5. A final 5 after a tens word is "lăm" (mười lăm, hai mươi lăm); after "linh" it stays "năm".
6. A final 4 after "mươi" is "tư" (ba mươi tư); after "mười" and "linh" it stays "bốn".
7. A zero tens digit before a non-zero unit is "linh" (một trăm linh năm; the South says "lẻ").
8. A group after a higher non-zero group is read in full: a zero hundreds digit is "không trăm"
   (chín nghìn không trăm ba mươi tư).
9. A group of three zeros is silent at the end (một triệu) but spoken "không <unit>" when a
   non-zero group follows (1,000,500 → một triệu không nghìn năm trăm): said aloud, "một triệu
   năm trăm" is how people say 1,500,000.

Rules 8 and 9 make every reading unambiguous: a test reads the words back to the number.

>>> read_amount(200)
'hai trăm đồng'
>>> read_amount(15_000)
'mười lăm nghìn đồng'
>>> read_amount(21_000)
'hai mươi mốt nghìn đồng'
>>> read_amount(9_034)
'chín nghìn không trăm ba mươi tư đồng'
>>> read_amount(9_034_000)
'chín triệu không trăm ba mươi tư nghìn đồng'
>>> read_amount(1_500_000)
'một triệu năm trăm nghìn đồng'
>>> received(9_034)
'Đã nhận chín nghìn không trăm ba mươi tư đồng'
>>> collected(9_034_000, 9_034)
'Chỉ nhận chín nghìn không trăm ba mươi tư đồng. THIẾU chín triệu không trăm hai mươi tư nghìn chín trăm sáu mươi sáu đồng'

Standard library only.
"""
from __future__ import annotations

from .exceptions import ValidationError

__all__ = ["DIGITS", "MAX_AMOUNT", "read_number", "read_amount", "parse_reading", "received", "collected",
           "Announcement", "announce"]

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_UNITS = ("", "nghìn", "triệu")
#: The largest amount read (just under a million tỷ).
MAX_AMOUNT = 10 ** 18 - 1


def _group(n: int, full: bool) -> list[str]:
    """Three digits (``0 < n < 1000``); ``full``: a higher group was spoken before (rule 8)."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("linh")  # rule 7
            words.append(DIGITS[units])
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else DIGITS[units])  # rules 4–6: một, bốn stay
    else:
        words += [DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(units, DIGITS[units]))
    return words


def _below_billion(n: int, full: bool) -> list[str]:
    """``0 <= n < 10**9`` as groups with nghìn/triệu (rule 9 for the zero groups)."""
    groups = [n // 10 ** 6, n // 1000 % 1000, n % 1000]
    words: list[str] = []
    for position, value in enumerate(groups):
        unit = _UNITS[2 - position]
        rest = any(groups[position + 1:])
        if value:
            words += _group(value, full or bool(words))
            if unit:
                words.append(unit)
        elif (full or words) and rest and unit:
            words += ["không", unit]  # rule 9
    return words


def _words(n: int, full: bool = False) -> list[str]:
    if n >= 10 ** 9:
        high, low = divmod(n, 10 ** 9)
        words = _words(high, full) + ["tỷ"]
        if low:
            words += _below_billion(low, True)
        return words
    return _below_billion(n, full)


def read_number(n: int) -> str:
    """A whole number ``0 <= n <= MAX_AMOUNT`` in Vietnamese words (no unit).

    >>> read_number(0), read_number(105), read_number(1_004), read_number(2_000_000_021)
    ('không', 'một trăm linh năm', 'một nghìn không trăm linh bốn', 'hai tỷ không triệu không nghìn không trăm hai mươi mốt')
    >>> read_number(1_000_000_000), read_number(11), read_number(14), read_number(25), read_number(54)
    ('một tỷ', 'mười một', 'mười bốn', 'hai mươi lăm', 'năm mươi tư')
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValidationError(f"amount: a whole number of đồng, got {n!r}", field="amount", value=n,
                              limit="integer")
    if not 0 <= n <= MAX_AMOUNT:
        raise ValidationError(f"amount: 0 to {MAX_AMOUNT}, got {n}", field="amount", value=n,
                              limit=f"0–{MAX_AMOUNT}")
    return " ".join(_words(n)) if n else DIGITS[0]


def read_amount(amount: int) -> str:
    """An amount of money in words, ending in "đồng": ``read_amount(21_000)`` → ``hai mươi mốt nghìn đồng``."""
    return f"{read_number(amount)} đồng"


# ----------------------------------------------------------------------------- reading back

_DIGIT_OF = {word: i for i, word in enumerate(DIGITS)} | {"mốt": 1, "tư": 4, "lăm": 5}
_SCALE = {"nghìn": 10 ** 3, "triệu": 10 ** 6}


def parse_reading(text: str) -> int:
    """The number a reading of :func:`read_number` (or :func:`read_amount`) says; the inverse, for tests.

    >>> parse_reading("chín triệu không trăm ba mươi tư nghìn đồng")
    9034000
    """
    words = text.split()
    if words and words[-1] == "đồng":
        words = words[:-1]
    if words == ["không"]:
        return 0

    def small(tokens: list[str]) -> int:
        value, i = 0, 0
        if len(tokens) >= 2 and tokens[1] == "trăm":
            value, i = _DIGIT_OF[tokens[0]] * 100, 2
        rest = tokens[i:]
        if not rest:
            return value
        if rest[0] == "linh":
            return value + _DIGIT_OF[rest[1]]
        if rest[0] == "mười":
            return value + 10 + (_DIGIT_OF[rest[1]] if len(rest) > 1 else 0)
        if len(rest) >= 2 and rest[1] == "mươi":
            return value + _DIGIT_OF[rest[0]] * 10 + (_DIGIT_OF[rest[2]] if len(rest) > 2 else 0)
        if len(rest) != 1:
            raise ValueError(f"not a reading: {text!r}")
        return value + _DIGIT_OF[rest[0]]

    def below_billion(tokens: list[str]) -> int:
        total, current = 0, []
        for token in tokens:
            if token in _SCALE:
                total += small(current) * _SCALE[token]
                current = []
            else:
                current.append(token)
        return total + (small(current) if current else 0)

    if "tỷ" in words:
        cut = len(words) - 1 - words[::-1].index("tỷ")
        return parse_reading(" ".join(words[:cut])) * 10 ** 9 + below_billion(words[cut + 1:])
    return below_billion(words)


# ----------------------------------------------------------------------------- announcements

def received(amount: int) -> str:
    """What the loa says for a payment: ``Đã nhận <amount in words> đồng``."""
    return f"Đã nhận {read_amount(amount)}"


def collected(requested: int, paid: int) -> str:
    """What the loa says when a payment answers an amount the owner asked for.

    The full amount: ``Đã nhận … đồng. Đủ``; less: ``Chỉ nhận … đồng. THIẾU … đồng`` (never
    announced as if it were the full amount); more: ``Đã nhận … đồng. Thừa … đồng``.

    >>> collected(50_000, 50_000)
    'Đã nhận năm mươi nghìn đồng. Đủ'
    >>> collected(200_000, 200)
    'Chỉ nhận hai trăm đồng. THIẾU một trăm chín mươi chín nghìn tám trăm đồng'
    >>> collected(20_000, 25_000)
    'Đã nhận hai mươi lăm nghìn đồng. Thừa năm nghìn đồng'
    """
    if paid == requested:
        return f"{received(paid)}. Đủ"
    if paid < requested:
        return f"Chỉ nhận {read_amount(paid)}. THIẾU {read_amount(requested - paid)}"
    return f"{received(paid)}. Thừa {read_amount(paid - requested)}"


class Announcement(dict):
    """One announcement as the page, the event stream and MQTT carry it (a plain dict)."""


def announce(amount: int, requested: int | None = None) -> Announcement:
    """The announcement of a payment: ``text`` to speak, ``verdict`` (``paid``, ``full``, ``short``, ``over``).

    >>> a = announce(9_034, requested=9_034_000)
    >>> a["verdict"], a["shortfall"]
    ('short', 9024966)
    """
    if requested is None:
        return Announcement(text=received(amount), verdict="paid", amount=amount, requested=None, shortfall=0)
    verdict = "full" if amount == requested else "short" if amount < requested else "over"
    return Announcement(text=collected(requested, amount), verdict=verdict, amount=amount, requested=requested,
                        shortfall=max(requested - amount, 0))
