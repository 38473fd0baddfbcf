"""The fast QR matrix the posters are built from (``qrimage.matrix``): never larger than the
optimal segmentation's symbol, ECC M or higher, and it decodes to the payload."""
from __future__ import annotations

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from market40 import qrimage, vietqr
from market40.banks import all_banks
from market40.exceptions import ValidationError

SETTINGS = settings(deadline=None, database=None, max_examples=250)

BINS = sorted({bank.bin for bank in all_banks()})
# Purposes as registries write them (stall references) and as people type them.
PURPOSE = st.one_of(
    st.builds(lambda m, s: f"{m} {s}", st.from_regex(r"[A-Z]{2,3}[0-9]", fullmatch=True),
              st.from_regex(r"[A-Z]{1,2}[0-9]{1,4}", fullmatch=True)),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-", min_size=1,
            max_size=25).map(str.strip).filter(bool),
)
# Text that exercises every segmentation choice: digit runs, alphanumerics, lower case, symbols.
MIXED = st.lists(st.one_of(st.from_regex(r"[0-9]{1,40}", fullmatch=True),
                           st.from_regex(r"[A-Z $%*+\-./:]{1,30}", fullmatch=True),
                           st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
                                   max_size=20)),
                 min_size=1, max_size=12).map("".join)


def _vietqr(bin_: str, number: str, purpose: str | None, card: bool, upper: bool) -> str | None:
    target = {"card": number} if card else {"account": number}
    try:
        return vietqr.build(bin=bin_, purpose=purpose, upper=upper, **target).payload
    except ValidationError:  # a combination the encoder refuses is no poster's payload
        return None


VIETQR = st.builds(_vietqr, st.sampled_from(BINS), st.from_regex(r"[0-9]{6,19}", fullmatch=True),
                   st.one_of(st.none(), PURPOSE), st.booleans(), st.booleans()).filter(lambda p: p is not None)


def decode(m: qrimage.Matrix) -> zxingcpp.Barcode:
    """Read the matrix back as a picture (4 px a module, 4-module quiet zone), like a scanner."""
    n = m.size + 8
    pixels = bytearray(b"\xff" * n * n)
    for y, row in enumerate(m.rows):
        start = (y + 4) * n + 4
        pixels[start:start + m.size] = bytes(0 if v else 255 for v in row)
    image = Image.frombytes("L", (n, n), bytes(pixels)).resize((4 * n, 4 * n), Image.Resampling.NEAREST)
    (barcode,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return barcode


def check(payload: str) -> qrimage.Matrix:
    m = qrimage.matrix(payload)
    assert m.size == 17 + 4 * m.version and len(m.rows) == m.size and all(len(r) == m.size for r in m.rows)
    assert set(b"".join(m.rows)) <= {0, 1}
    assert m.version <= qrimage.version_for(payload, "M")  # never larger than the optimal segmentation
    barcode = decode(m)
    assert barcode.text == payload
    assert barcode.ec_level in ("M", "Q", "H")  # ECC M or stronger, never L
    assert int(barcode.extra.get("Version", m.version)) == m.version
    return m


@SETTINGS
@given(payload=VIETQR)
def test_vietqr_symbols_are_never_larger_and_decode(payload: str) -> None:
    check(payload)


@SETTINGS
@given(payload=MIXED)
def test_any_ascii_symbol_is_never_larger_and_decodes(payload: str) -> None:
    check(payload)


def test_non_ascii_goes_through_segno_with_eci() -> None:
    payload = "Chợ Hạ Long I 0011012345678"
    m = check(payload)
    assert m.rows == tuple(bytes(r) for r in qrimage.make_symbol(payload).matrix)


def test_poster_payloads_use_the_fast_writer() -> None:
    """The speed of #15: VietQR payloads are built by zxing-cpp's C++ writer, not segno."""
    if qrimage._CREATE is None:
        pytest.skip("this zxing-cpp has no writer API (create_barcode); segno builds every symbol")
    payload = vietqr.build(bin="970436", account="0011012345678", purpose="HL1 A12").payload
    assert qrimage._zxing_matrix(payload, "M") is not None


def test_a_writer_symbol_that_breaks_a_rule_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    if qrimage._CREATE is None:
        pytest.skip("this zxing-cpp has no writer API (create_barcode)")
    real = qrimage._CREATE
    payload = vietqr.build(bin="970436", account="0011012345678", purpose="HL1 A12").payload
    optimal = qrimage.version_for(payload)
    try:
        real(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M", version=optimal + 2)
    except TypeError:
        pytest.skip("this zxing-cpp cannot be asked for a version")
    # A larger version than the optimal segmentation's: refused, segno's symbol is used.
    monkeypatch.setattr(qrimage, "_CREATE", lambda text, fmt, **kw: real(text, fmt, **kw, version=optimal + 2))
    assert qrimage._zxing_matrix(payload, "M") is None
    assert qrimage.matrix(payload).version == optimal
    # A lower ECC level than asked: refused.
    monkeypatch.setattr(qrimage, "_CREATE", lambda text, fmt, **kw: real(text, fmt, ec_level="L"))
    assert qrimage._zxing_matrix(payload, "M") is None
    # A symbol that does not read back as the payload: refused.
    monkeypatch.setattr(qrimage, "_CREATE", lambda text, fmt, **kw: real(text[:-1], fmt, **kw))
    assert qrimage._zxing_matrix(payload, "M") is None
    check(payload)


@SETTINGS
@given(payload=st.one_of(VIETQR, MIXED))
def test_the_fast_bit_count_is_the_segmentation_optimum(payload: str) -> None:
    """The check every zxing-cpp symbol passes uses the same optimum as make_symbol."""
    for range_index in range(3):
        assert qrimage._ascii_bits(payload, range_index) == qrimage._segment(payload, range_index)[0]
    assert qrimage._optimal_version(payload, "M") == qrimage.version_for(payload, "M")


@SETTINGS
@given(payload=st.one_of(VIETQR, MIXED))
def test_a_payload_and_its_shape_need_the_same_bits_and_version(payload: str) -> None:
    """The version is cached per shape (each character's class): the shape must count as the payload."""
    shape = payload.translate(qrimage._SHAPE)
    assert len(shape) == len(payload) and set(shape) <= {"0", "A", "a"}
    for range_index in range(3):
        assert qrimage._ascii_bits(shape, range_index) == qrimage._ascii_bits(payload, range_index)
    assert qrimage._optimal_version(payload, "M") == qrimage._optimal_version_of_shape(shape, "M")


def test_payloads_of_one_shape_share_one_version_count() -> None:
    def bill(amount: int, stall: str) -> str:
        return vietqr.build(bin="970436", account="0011001234567", amount=amount, purpose=f"F2612HL1 {stall}").payload

    first = bill(150_000, "A12")
    # another stall's bill of a six-digit amount whose CRC has its letters and digits where the first's has
    second = next(p for p in (bill(amount, "B34") for amount in range(270_000, 280_000, 1_000))
                  if p.translate(qrimage._SHAPE) == first.translate(qrimage._SHAPE))
    qrimage._optimal_version_of_shape.cache_clear()
    assert qrimage._optimal_version(first, "M") == qrimage._optimal_version(second, "M") == qrimage.version_for(
        second, "M")
    info = qrimage._optimal_version_of_shape.cache_info()
    assert (info.misses, info.hits) == (1, 1)
