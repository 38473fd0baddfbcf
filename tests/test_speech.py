"""Amounts read aloud: the issue's examples, each reading rule, and that readings are unambiguous."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from market40 import speech
from market40.exceptions import ValidationError


@pytest.mark.parametrize("amount, words", [
    # the examples
    (200, "hai trăm đồng"),
    (15_000, "mười lăm nghìn đồng"),
    (21_000, "hai mươi mốt nghìn đồng"),
    (9_034, "chín nghìn không trăm ba mươi tư đồng"),
    (9_034_000, "chín triệu không trăm ba mươi tư nghìn đồng"),
    (1_500_000, "một triệu năm trăm nghìn đồng"),
    # linh (a zero tens digit before a unit), and năm after linh
    (105, "một trăm linh năm đồng"),
    (2_005_000, "hai triệu không trăm linh năm nghìn đồng"),
    (1_004, "một nghìn không trăm linh bốn đồng"),
    # lăm after a tens word
    (25, "hai mươi lăm đồng"),
    (15, "mười lăm đồng"),
    (55_000, "năm mươi lăm nghìn đồng"),
    # mốt after mươi, một after mười
    (31, "ba mươi mốt đồng"),
    (11_000, "mười một nghìn đồng"),
    # tư after mươi, bốn after mười
    (44_000, "bốn mươi tư nghìn đồng"),
    (14, "mười bốn đồng"),
    # mười / mươi
    (10_000, "mười nghìn đồng"),
    (20_000, "hai mươi nghìn đồng"),
    # zero groups: silent at the end, "không <unit>" before a non-zero group
    (1_000_000, "một triệu đồng"),
    (1_000_500, "một triệu không nghìn năm trăm đồng"),
    (100_000_001, "một trăm triệu không nghìn không trăm linh một đồng"),
    # tỷ
    (1_000_000_000, "một tỷ đồng"),
    (2_500_000_000, "hai tỷ năm trăm triệu đồng"),
    (1_000_000_000_000, "một nghìn tỷ đồng"),
    (499_999_999, "bốn trăm chín mươi chín triệu chín trăm chín mươi chín nghìn chín trăm chín mươi chín đồng"),
])
def test_reading(amount: int, words: str) -> None:
    assert speech.read_amount(amount) == words
    assert speech.parse_reading(words) == amount


def test_num2words_mistake_is_not_made() -> None:
    # num2words: 9,034 -> "chín nghìn lẻ ba mươi bốn" (Southern lẻ, no không trăm, bốn after mươi)
    reading = speech.read_amount(9_034)
    assert "lẻ" not in reading and "bốn" not in reading and "không trăm" in reading


def test_every_amount_below_100k_is_distinct_and_reads_back() -> None:
    seen: dict[str, int] = {}
    for n in range(0, 100_000):
        words = speech.read_number(n)
        assert words not in seen, (n, seen.get(words))
        seen[words] = n
        assert speech.parse_reading(words) == n


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=speech.MAX_AMOUNT), st.integers(min_value=0, max_value=speech.MAX_AMOUNT))
def test_distinct_amounts_distinct_words(a: int, b: int) -> None:
    # read_number is inverted by parse_reading: distinct amounts can never share a reading
    assert speech.parse_reading(speech.read_number(a)) == a
    assert (speech.read_number(a) == speech.read_number(b)) == (a == b)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=6))
def test_sparse_amounts_read_back(groups: list[int]) -> None:
    # amounts made of groups with many zeros: where "không trăm" and "không nghìn" matter
    n = 0
    for g in groups:
        n = n * 1000 + (g if g % 7 else 0)
    assert speech.parse_reading(speech.read_amount(n)) == n


def test_announcements() -> None:
    assert speech.received(200) == "Đã nhận hai trăm đồng"
    assert speech.collected(200_000, 200_000) == "Đã nhận hai trăm nghìn đồng. Đủ"
    short = speech.collected(200_000, 200)
    assert short.startswith("Chỉ nhận hai trăm đồng. THIẾU ")
    assert short.endswith("một trăm chín mươi chín nghìn tám trăm đồng")
    assert speech.announce(200, 200_000)["verdict"] == "short"
    assert speech.announce(200_000, 200_000)["verdict"] == "full"
    assert speech.announce(5_000)["text"] == "Đã nhận năm nghìn đồng"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100", speech.MAX_AMOUNT + 1])
def test_refuses_what_is_not_an_amount(bad: object) -> None:
    with pytest.raises(ValidationError):
        speech.read_amount(bad)  # type: ignore[arg-type]
