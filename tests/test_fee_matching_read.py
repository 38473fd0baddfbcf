"""The fee matcher reads each content once (market40.fees._read): the same answers as the
reference index's own rules (found_keys + ReferenceIndex.match), on every kind of content."""
from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from market40 import fees as rules

INDEX = rules.bill_index([(rules.bill_reference("HL1", "2026-12", code), code)
                          for code in ("A-1", "A-12", "A-123", "B-7", "C-12A")] +
                         [("F2612HL1 A 5", "x"), ("F2612HL1A 5", "y")])  # one key, two bills: ambiguous

CONTENTS = [None, "", "F2612HL1 A12", "f2612hl1a12", "MBVCB.3278614981.f2612hl1a12.CT tu 0011001234567",
            "F2612HL1 A12 va F2612HL1 B7", "F2612HL1 A99", "nop phi F2612HL1 A5", "F2612HL1 C12A",
            "IBFT chuyen tien phi cho thang 12 F2612HL1 A1",  # long content ending in a prefix: maybe cut
            "F2612HL1 A1", "Chợ Hạ Long F2612HL1 A123 nộp phí", "F2612HL1 A12 F2612HL1 A12"]


def _index_answer(content):
    return rules.found_keys(INDEX, content), INDEX.match(content)


def test_one_reading_answers_as_the_index_does():
    for content in CONTENTS:
        keys, found = rules._read(INDEX, content)
        assert (keys, found) == (list(dict.fromkeys(keys)), INDEX.match(content)), content
    assert rules._read(INDEX, "IBFT chuyen tien phi cho thang 12 F2612HL1 A1")[1].stall is None  # cut?


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["F2612HL1", "A12", "A1", "B7", "C12A", "A 5", " ", ".", "f2612hl1a12", "x",
                                 "12", "MBVCB", "ĐỖ"]), max_size=12).map("".join))
def test_one_reading_answers_as_the_index_does_on_any_mix(content):
    keys, found = rules._read(INDEX, content)
    assert found == INDEX.match(content)
    assert keys == list(dict.fromkeys(m.group(0).replace(" ", "") for m in re.finditer(
        INDEX.pattern, rules.content_text(content))))
