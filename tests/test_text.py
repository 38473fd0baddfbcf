"""Vietnamese folding: every tone mark, Đ→D, NFC and NFD input alike."""
import unicodedata

import pytest
from hypothesis import given, strategies as st

from market40.text import emv_text, first_non_ans, fold, is_ans, search_key

# Every Vietnamese vowel with every tone mark, both cases, plus đ/Đ.
VOWELS = "aăâeêioôơuưy"
TONES = ["", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"]  # sắc huyền hỏi ngã nặng


def all_vietnamese_letters():
    letters = []
    for vowel in VOWELS + VOWELS.upper():
        for tone in TONES:
            letters.append(unicodedata.normalize("NFC", vowel + tone))
    return letters + ["đ", "Đ"]


@pytest.mark.parametrize("letter", all_vietnamese_letters())
def test_every_vietnamese_letter_folds_to_one_ascii_letter(letter):
    for form in ("NFC", "NFD"):
        folded = fold(unicodedata.normalize(form, letter))
        assert len(folded) == 1 and folded.isascii() and folded.isalpha(), (letter, form, folded)
        assert folded.lower() in "aeiouyd"


@pytest.mark.parametrize("text, expected", [
    ("Đặng Thị Thu Hằng", "DANG THI THU HANG"),
    ("  Nguyễn   Văn\tAn ", "NGUYEN VAN AN"),
    ("Chợ Hạ Long I", "CHO HA LONG I"),
    ("Hải sản – tươi sống", "HAI SAN - TUOI SONG"),
    ("Quầy\u00a0Bà Lan", "QUAY BA LAN"),
])
def test_emv_text(text, expected):
    assert emv_text(text) == expected


def test_emv_text_can_keep_case():
    assert emv_text("thanh toán", upper=False) == "thanh toan"


def test_search_key_ignores_case_marks_and_punctuation():
    assert search_key("Ngân hàng TMCP Ngoại Thương Việt Nam") == "ngan hang tmcp ngoai thuong viet nam"
    assert search_key("MB-Bank") == "mb bank"


def test_ans():
    assert is_ans("HL1 A-12/3.4_5*") and not is_ans("tab\there") and not is_ans("sạp")
    assert first_non_ans("ABC€D") == "€" and first_non_ans("ABC") is None


@given(st.text())
def test_fold_never_adds_marks(text):
    folded = fold(text)
    assert not any(unicodedata.combining(c) for c in folded)
    assert fold(folded) == folded
