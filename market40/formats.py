"""How numbers, money, rates and times are written for people: one place for every door.

Vietnamese writes ``1.234.567 đ``, ``82,9%`` and ``dd/mm/yyyy``; English ``1,234,567 đ``,
``82.9%`` and ``yyyy-mm-dd``. Times are Vietnam time (UTC+7, no daylight saving since 1975).
Standard library only, like the payload core.

>>> money(1234567)
'1.234.567 đ'
>>> money(1234567, "en")
'1,234,567 đ'
>>> count(14370), count(14370, "en")
('14.370', '14,370')
>>> percent(0.829), percent(0.829, "en"), percent(None)
('82,9%', '82.9%', '—')
>>> from datetime import datetime, timezone
>>> when(datetime(2025, 6, 30, 17, 5, tzinfo=timezone.utc))
'01/07/2025 00:05'
>>> day(datetime(2025, 6, 30, 17, 5, tzinfo=timezone.utc).date(), "en")
'2025-06-30'
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

__all__ = ["VN_TZ", "LANGUAGES", "count", "decimal", "money", "percent", "when", "day", "to_vietnam"]

#: Vietnam time. A fixed offset is exact (no DST since 1975) and needs no tz database.
VN_TZ = timezone(timedelta(hours=7), "ICT")
LANGUAGES = ("vi", "en")
_MISSING = "—"


def _group(value: int, lang: str) -> str:
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if lang != "en" else grouped


def count(value: int | None, lang: str = "vi") -> str:
    """A whole number with thousands grouped the way ``lang`` reads it."""
    return _MISSING if value is None else _group(int(value), lang)


def decimal(value: float | None, lang: str = "vi", digits: int = 1) -> str:
    """A number with decimals: ``1,5`` (Vietnamese decimal comma) or ``1.5``; thousands grouped.

    >>> decimal(1234.56), decimal(1234.56, "en"), decimal(None)
    ('1.234,6', '1,234.6', '—')
    """
    if value is None:
        return _MISSING
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".") if lang != "en" else text


def money(amount: int | None, lang: str = "vi") -> str:
    """Whole đồng: ``1.234.567 đ`` (Vietnamese) or ``1,234,567 đ`` (English)."""
    return _MISSING if amount is None else f"{_group(int(amount), lang)} đ"


def percent(rate: float | None, lang: str = "vi", digits: int = 1) -> str:
    """A rate (0.829) as ``82,9%`` (Vietnamese decimal comma) or ``82.9%``; ``—`` when unknown."""
    if rate is None:
        return _MISSING
    text = f"{rate * 100:.{digits}f}"
    return (text.replace(".", ",") if lang != "en" else text) + "%"


def to_vietnam(value: datetime) -> datetime:
    """``value`` (naive means UTC, as the registry stores it) in Vietnam time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(VN_TZ)


def when(value: datetime | None, lang: str = "vi") -> str:
    """A moment as Vietnam wall-clock time: ``22/11/2025 14:05`` or ``2025-11-22 14:05``."""
    if value is None:
        return _MISSING
    return to_vietnam(value).strftime("%Y-%m-%d %H:%M" if lang == "en" else "%d/%m/%Y %H:%M")


def day(value: date | None, lang: str = "vi") -> str:
    """A calendar date: ``30/06/2025`` or ``2025-06-30``."""
    if value is None:
        return _MISSING
    return value.strftime("%Y-%m-%d" if lang == "en" else "%d/%m/%Y")
