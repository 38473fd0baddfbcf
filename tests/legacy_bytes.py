"""Bytes the way older Vietnamese Windows programs write them, for the importers' tests."""
import unicodedata

TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below


def cp1258(text: str) -> bytes:
    """Windows-1258 as Excel writes it: the base letter (ư, ơ, ă, â, ê, ô, đ are in the code page), then its tone."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
        out += base.encode("cp1258") + "".join(c for c in parts if c in TONES).encode("cp1258")
    return bytes(out)
