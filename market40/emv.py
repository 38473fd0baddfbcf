"""EMVCo merchant-presented QR primitives: TLV data objects and the CRC.

Every data object is ``ID`` (2 digits) + ``LEN`` (2 digits, "01"–"99") + ``VALUE``;
templates nest the same format inside their value (NAPAS-VN §5.1, `vietqr-spec.md` §1).
LEN counts characters, not bytes. The CRC is ISO/IEC 13239 CRC-16 (poly 0x1021,
init 0xFFFF, not reflected, no xorout: CRC-16/CCITT-FALSE) over the UTF-8 bytes of
everything up to and including ``6304``, written as 4 upper-case hex digits
(NAPAS-VN §5.2.15; `vietqr-spec.md` §6).

>>> crc16("123456789")
'29B1'
>>> tlv("00", "01")
'000201'
>>> parse("000201010211")
[('00', '01', 0), ('01', '11', 6)]

Standard library only.
"""
from __future__ import annotations

from binascii import crc_hqx
from typing import Iterable

from .exceptions import InvalidFormat, InvalidLength

__all__ = ["crc16", "tlv", "encode", "parse", "with_crc", "split_crc", "MAX_VALUE_LENGTH"]

MAX_VALUE_LENGTH = 99  # LEN is two digits and "00" is not allowed (NAPAS-VN §5.1)


def crc16(data: str) -> str:
    """CRC-16/CCITT-FALSE of the UTF-8 bytes of ``data``, as 4 upper-case hex digits."""
    # "surrogatepass": a lone surrogate (from a broken decoder upstream) must give a CRC
    # mismatch, not a UnicodeEncodeError.
    return "%04X" % crc_hqx(data.encode("utf-8", "surrogatepass"), 0xFFFF)


def tlv(tag: str, value: str) -> str:
    """One data object. Refuses what cannot be written as EMV TLV."""
    if len(tag) != 2 or not (tag.isdigit() and tag.isascii()):
        raise InvalidFormat(f"tag: must be 2 digits, got {tag!r}", field="tag", value=tag,
                            limit="2 digits")
    size = len(value)
    if not 1 <= size <= MAX_VALUE_LENGTH:
        raise InvalidLength(f"tag {tag}: value must be 1–99 characters, got {size}",
                            field=tag, value=value, limit="1–99 characters")
    return "%s%02d%s" % (tag, size, value)


def encode(objects: Iterable[tuple[str, str]]) -> str:
    """Concatenate data objects in the order given."""
    return "".join(tlv(tag, value) for tag, value in objects)


def with_crc(body: str) -> str:
    """Append the CRC object (tag 63) to a payload body."""
    body += "6304"
    return body + crc16(body)


def split_crc(payload: str) -> tuple[str, str] | None:
    """``(covered, found)`` when the payload ends with a CRC object, else None.

    ``covered`` is the text the CRC is computed over (it ends with ``6304``).
    """
    if len(payload) >= 8 and payload[-8:-4] == "6304":
        return payload[:-4], payload[-4:]
    return None


def parse(text: str, *, offset: int = 0, where: str = "payload") -> list[tuple[str, str, int]]:
    """Split ``text`` into ``(tag, value, position)`` triples, in the order read.

    ``position`` is the character offset of the object in the outermost payload
    (``offset`` is added, so nested templates report positions a person can find).
    Raises :class:`InvalidFormat` for text that is not TLV, naming the offset, and
    :class:`InvalidLength` for a zero length or a value running past the end.
    """
    objects = []
    i, end = 0, len(text)
    while i < end:
        head = text[i:i + 4]
        if len(head) < 4 or not (head.isdigit() and head.isascii()):
            raise InvalidFormat(
                f"{where}: not EMV TLV at character {offset + i}: expected a 2-digit tag and a "
                f"2-digit length, found {text[i:i + 4]!r}",
                field=where, value=text[i:i + 4], limit="ID(2 digits) LEN(2 digits) VALUE")
        tag, size = head[:2], int(head[2:])
        if size == 0:
            raise InvalidLength(
                f"{where}: tag {tag} at character {offset + i} has length 00; values are 1–99 characters",
                field=tag, value="", limit="1–99 characters")
        stop = i + 4 + size
        if stop > end:
            raise InvalidLength(
                f"{where}: tag {tag} at character {offset + i} declares {size} characters but only "
                f"{end - i - 4} remain",
                field=tag, value=text[i + 4:], limit=f"{size} characters declared")
        objects.append((tag, text[i + 4:stop], offset + i))
        i = stop
    return objects
