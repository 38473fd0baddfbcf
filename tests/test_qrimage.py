"""Tests for market40.qrimage: symbol size, ECC, quiet zone, file output and reading back.

Decoding uses zxing-cpp throughout. SVG and PDF are decoded with a small rasteriser
for segno's own drawing commands (below); real renderers (cairosvg, pdftoppm) are
used as well when the machine has them.
"""
from __future__ import annotations

import binascii
import io
import os
import random
import re
import shutil
import string
import subprocess
import zlib
from xml.etree import ElementTree

import pytest
import qrcode
import segno
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from market40 import qrimage
from market40.exceptions import InvalidFormat, InvalidLength, NotFound, ValidationError
from market40.qrimage import make_symbol, read, to_image, version_for, write

SETTINGS = settings(deadline=None, database=None)  # 2 shared cores: no timing deadline


# --- vectors ---------------------------------------------------------------------------------

def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def _vietqr(bin_: str, account: str, *, service: str = "QRIBFTTA", poi: str = "11", amount: str | None = None,
            name: str | None = None, city: str | None = None, bill: str | None = None,
            purpose: str | None = None) -> str:
    """A VietQR transfer payload per the NAPAS TLV layout, with its CRC-16/CCITT-FALSE."""
    beneficiary = _tlv("00", bin_) + _tlv("01", account)
    merchant = _tlv("00", "A000000727") + _tlv("01", beneficiary) + _tlv("02", service)
    body = _tlv("00", "01") + _tlv("01", poi) + _tlv("38", merchant) + _tlv("53", "704")
    if amount:
        body += _tlv("54", amount)
    body += _tlv("58", "VN")
    if name:
        body += _tlv("59", name)
    if city:
        body += _tlv("60", city)
    extra = (_tlv("01", bill) if bill else "") + (_tlv("08", purpose) if purpose else "")
    if extra:
        body += _tlv("62", extra)
    body += "6304"
    return body + f"{binascii.crc_hqx(body.encode(), 0xFFFF):04X}"


# NAPAS spec example: static, account transfer (CRC 9E6F).
SPEC_STATIC = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"
# NAPAS spec example as quoted in the brief: dynamic, card, lower-case purpose. Note its CRC
# field says 2E2E but CRC-16/CCITT-FALSE over this text gives B13A; for imaging it is just text.
SPEC_DYNAMIC = ("00020101021238560010A0000007270126000697040301120110123456780208QRIBFTTC530370454061800005802VN"
                "62340107NPS68690819thanh toan don hang63042E2E")

VECTORS = {
    "spec static account": SPEC_STATIC,
    "spec dynamic card, lower-case purpose": SPEC_DYNAMIC,
    # A stall poster as design.md §3.1 wants it: static, stall code as purpose.
    "stall poster, 19-digit account": _vietqr("970418", "1234567890123456789", purpose="HL1 A12"),
    "dynamic, amount, names, lower-case purpose": _vietqr(
        "970436", "0011004123456", poi="12", amount="150000", name="NGUYEN VAN AN", city="HA LONG",
        purpose="tien cho thang 10 sap A12"),
    "card, bill number with _ and -": _vietqr(
        "970422", "9704229912345678901", service="QRIBFTTC", poi="12", amount="2500000",
        name="TRAN THI BICH NGOC", city="QUANG NINH", bill="PHI_CHO-2025-10-HL1-A12",
        purpose="Phi cho T10 HL1.A12"),
    "short static": _vietqr("970405", "1500201234567"),
}
# Non-ASCII text is not a VietQR payload (those are ASCII-folded) but must survive anyway.
UTF8_TEXT = "Thanh toán đơn hàng sạp A12, chợ Hạ Long – 150.000₫"
ALL_TEXTS = {**VECTORS, "non-ASCII text": UTF8_TEXT}


def test_vector_builder_reproduces_the_spec_example():
    assert _vietqr("970403", "0011012345678") == SPEC_STATIC


# --- helpers ---------------------------------------------------------------------------------

def _zxing(image: Image.Image) -> list:
    return zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)


def _grid_to_image(grid: list[list[bool]], module_px: int = 4) -> Image.Image:
    size = len(grid)
    data = bytes(0 if dark else 255 for row in grid for dark in row)
    image = Image.frombytes("L", (size, size), data)
    return image.resize((size * module_px, size * module_px), Image.Resampling.NEAREST)


def _rasterise_segno_svg(svg: bytes, modules: int) -> Image.Image:
    """Draw the dark path of a segno SVG (horizontal strokes in module units) onto a grid."""
    root = ElementTree.fromstring(svg)
    (dark,) = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if "stroke" in p.attrib]
    grid = [[False] * modules for _ in range(modules)]
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", dark.attrib["d"]):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:  # h: a stroke one module high, centred on y
            length = float(a)
            for col in range(round(x), round(x + length)):
                grid[int(y)][col] = True
            x += length
    return _grid_to_image(grid)


def _pdf_stream(pdf: bytes) -> str:
    start = pdf.index(b"stream\r\n") + len(b"stream\r\n")
    return zlib.decompress(pdf[start:pdf.index(b"\r\nendstream")]).decode("ascii")


def _rasterise_segno_pdf(pdf: bytes, modules: int) -> Image.Image:
    """Draw the line segments of a segno PDF (module units after its transforms) onto a grid."""
    content = _pdf_stream(pdf)
    left, top = map(float, re.search(r"1 0 0 1 (\S+) (\S+) cm", content).groups())
    grid = [[False] * modules for _ in range(modules)]
    for x1, y1, x2, _ in re.findall(r"(-?[\d.]+) (-?[\d.]+) m (-?[\d.]+) (-?[\d.]+) l", content):
        row = modules - 1 - int(top + float(y1))  # PDF y grows upwards
        for col in range(round(left + float(x1)), round(left + float(x2))):
            grid[row][col] = True
    return _grid_to_image(grid)


def _media_box(pdf: bytes) -> list[float]:
    return [float(v) for v in re.search(rb"/MediaBox \[([^\]]+)\]", pdf).group(1).split()]


def _modules(payload: str, border: int = 4) -> int:
    return 17 + 4 * version_for(payload) + 2 * border


# --- the symbol: version, ECC, never Micro -----------------------------------------------------

_QRCODE_LEVELS = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
                  "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}


def _qrcode_version(payload: str, error: str = "M", *, build: bool = False) -> int:
    """The smallest version the qrcode package reaches over its segmentation settings.

    optimize=0 is one mode for everything; optimize=k splits out numeric and
    alphanumeric runs of at least k characters (greedy regex). ``best_fit`` is the
    version choice that ``make(fit=True)`` performs, without drawing the matrix.
    """
    versions = []
    for optimize in (0, 1, 2, 3, 4, 6, 20):
        code = qrcode.QRCode(error_correction=_QRCODE_LEVELS[error])
        code.add_data(payload, optimize=optimize)
        if build:
            code.make(fit=True)
            versions.append(code.version)
        else:
            versions.append(code.best_fit())
    return min(versions)


@pytest.mark.parametrize("payload", VECTORS.values(), ids=VECTORS.keys())
@pytest.mark.parametrize("error", ["L", "M", "Q", "H"])
def test_version_never_larger_than_qrcode_on_vectors(payload, error):
    ours = version_for(payload, error)
    assert make_symbol(payload, error=error).version == ours
    assert ours <= _qrcode_version(payload, error, build=(error == "M"))


def test_segmentation_beats_single_mode_on_the_spec_example():
    # The reason for the module: one mode for all puts the spec example in a bigger symbol.
    single = segno.make(SPEC_STATIC, error="M", micro=False, boost_error=False)
    assert (single.version, version_for(SPEC_STATIC)) == (5, 4)


_RUNS = st.one_of(
    st.text(string.digits, min_size=1, max_size=40),                                  # account numbers, amounts
    st.text(string.ascii_uppercase + " ", min_size=1, max_size=30),                    # names, cities
    st.text(string.ascii_lowercase + " ", min_size=1, max_size=30),                    # purposes as typed
    st.text(string.ascii_uppercase + string.digits + " $%*+-./:", min_size=1, max_size=30),
    st.text(string.ascii_letters + string.digits + " _-.", min_size=1, max_size=20),
)
PAYLOAD_LIKE = st.lists(_RUNS, min_size=1, max_size=25).map(lambda runs: "".join(runs)[:300])


@settings(SETTINGS, max_examples=80)
@given(PAYLOAD_LIKE)
def test_version_never_larger_than_qrcode_property(payload):
    assert version_for(payload, "M") <= _qrcode_version(payload, "M")


def _reference_bits(text: str, range_index: int) -> int:
    """Exact optimum by brute force over segment boundaries, from whole-segment bit formulas
    (ISO/IEC 18004 §7.4.3-7.4.5, Table 3); UTF-8 segments carry a 12-bit ECI header each."""
    count = {"N": (10, 12, 14), "A": (9, 11, 13), "B": (8, 16, 16)}
    count = {mode: bits[range_index] for mode, bits in count.items()}
    alnum = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    best = [0] + [float("inf")] * len(text)
    for start in range(len(text)):
        digits = alnums = ascii_ = True
        utf8 = 0
        for end in range(start, len(text)):
            char = text[end]
            digits = digits and char in "0123456789"
            alnums = alnums and char in alnum
            ascii_ = ascii_ and char < "\x80"
            utf8 += len(char.encode("utf-8"))
            k = end - start + 1
            options = [4 + 12 + count["B"] + 8 * utf8]
            if ascii_:
                options.append(4 + count["B"] + 8 * k)
            if alnums:
                options.append(4 + count["A"] + 11 * (k // 2) + 6 * (k % 2))
            if digits:
                options.append(4 + count["N"] + 10 * (k // 3) + (0, 4, 7)[k % 3])
            best[end + 1] = min(best[end + 1], best[start] + min(options))
    return int(best[-1])


def _reference_version(text: str, error: str) -> int:
    level = segno.consts.ERROR_MAPPING[error]
    for range_index, versions in enumerate((range(1, 10), range(10, 27), range(27, 41))):
        bits = _reference_bits(text, range_index)
        for version in versions:
            if segno.consts.SYMBOL_CAPACITY[version][level] >= bits:
                return version
    raise AssertionError("does not fit")


@settings(SETTINGS, max_examples=60)
@given(st.one_of(PAYLOAD_LIKE.map(lambda s: s[:120]),
                 st.text(string.digits + "AZ az_é₫đ", min_size=1, max_size=80)),
       st.sampled_from("LMQH"))
def test_version_is_the_exact_optimum(payload, error):
    # Stronger than "<= qrcode": equal to a brute-force optimum computed independently.
    assert version_for(payload, error) == _reference_version(payload, error)


@settings(SETTINGS, max_examples=25)
@given(st.one_of(PAYLOAD_LIKE.map(lambda s: s[:160]), st.text(min_size=1, max_size=40)))
def test_mixed_segments_decode_to_the_same_text(payload):
    # Any Unicode, control characters included: each segment mode must round-trip.
    assert read(to_image(payload, module_px=3)) == [payload]


def test_ecc_is_exactly_what_was_asked():
    # segno on its own makes "1234" a Micro QR, or a 1-H symbol (boost_error) when told micro=False.
    assert segno.make("1234").is_micro
    assert segno.make("1234", micro=False).designator == "1-H"
    symbol = make_symbol("1234")
    assert (symbol.designator, symbol.is_micro) == ("1-M", False)
    for level in "LMQH":
        (found,) = _zxing(to_image(SPEC_STATIC, error=level, module_px=4))
        assert found.ec_level == level
        assert found.extra["Version"] == str(version_for(SPEC_STATIC, level))


def test_error_level_is_case_insensitive():
    assert make_symbol("HL1 A12", error="q").error == "Q"


def test_capacity_limit():
    assert version_for("1" * 5596) == 40  # ISO/IEC 18004 Table 7: 40-M holds 5596 digits
    with pytest.raises(InvalidLength) as caught:
        version_for("1" * 5597)
    error = caught.value
    assert error.field == "payload" and "version 40" in error.limit
    assert str(error).startswith("payload: 5597 characters need")


@pytest.mark.parametrize("payload, exc, field", [
    ("", InvalidLength, "payload"),
    (b"000201", InvalidFormat, "payload"),
    (None, InvalidFormat, "payload"),
])
def test_bad_payloads(payload, exc, field):
    with pytest.raises(exc) as caught:
        make_symbol(payload)
    assert caught.value.field == field


@pytest.mark.parametrize("error", ["X", "", None, 1, "MM"])
def test_bad_error_level(error):
    with pytest.raises(ValidationError) as caught:
        make_symbol("HL1 A12", error=error)
    assert caught.value.field == "error"
    assert caught.value.limit == "one of L, M, Q, H"
    assert repr(error) in str(caught.value)


# --- PNG -------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", ALL_TEXTS.values(), ids=ALL_TEXTS.keys())
def test_png_decodes_byte_for_byte(tmp_path, payload):
    path = tmp_path / "qr.png"
    write(payload, path)
    with Image.open(path) as image:
        (found,) = _zxing(image)
    assert bytes(found.bytes) == payload.encode("utf-8")
    assert found.ec_level == "M"
    assert read(path) == [payload]


def test_quiet_zone_is_four_light_modules(tmp_path):
    path = tmp_path / "qr.png"
    write(SPEC_STATIC, path)  # 10 px modules by default
    with Image.open(path) as opened:
        image = opened.convert("L")
    symbol = 17 + 4 * version_for(SPEC_STATIC)
    assert image.size == ((symbol + 8) * 10,) * 2
    width = image.width
    band = 40  # 4 modules x 10 px
    sides = [(0, 0, width, band), (0, width - band, width, width), (0, 0, band, width), (width - band, 0, width, width)]
    for box in sides:
        assert image.crop(box).getextrema() == (255, 255), box
    # ... and exactly four: the finder patterns start right after it.
    inner = band + symbol * 10 - 1
    assert [image.getpixel(p) for p in [(band, band), (inner, band), (band, inner)]] == [0, 0, 0]


@pytest.mark.parametrize("border", [0, 2, 6])
def test_other_borders(border):
    image = to_image("HL1 A12", module_px=1, border=border)
    assert image.size == ((21 + 2 * border),) * 2
    assert image.getpixel((border, border)) == 0
    if border:
        assert image.crop((0, 0, image.width, border)).getextrema() == (255, 255)


@pytest.mark.parametrize("pixels, module_px", [(29, 1), (57, 1), (58, 2), (100, 3), (600, 20)])
def test_pixels_picks_the_largest_whole_module(tmp_path, pixels, module_px):
    path = tmp_path / "qr.png"
    write("HL1 A12", path, pixels=pixels)  # version 1: 21 + 8 = 29 modules
    with Image.open(path) as image:
        assert image.size == (29 * module_px, 29 * module_px)
        assert "dpi" not in image.info
        assert [found.text for found in _zxing(image)] == ["HL1 A12"]


def test_pixels_too_small_is_refused():
    with pytest.raises(InvalidLength) as caught:
        write(SPEC_STATIC, io.BytesIO(), kind="png", pixels=40)
    error = caught.value
    assert (error.field, error.value) == ("pixels", 40)
    assert "41 px" in error.limit
    assert str(error).startswith("pixels: image of 40 px is too small for a 41-module symbol")
    assert "needs at least 41 px" in str(error)


@pytest.mark.parametrize("module_mm, dpi, module_px", [(1.5, 300, 18), (1.0, 300, 12), (1.0, 600, 24),
                                                       (0.4, 300, 5), (0.05, 300, 1)])
def test_module_mm_at_dpi(tmp_path, module_mm, dpi, module_px):
    path = tmp_path / "qr.png"
    write("HL1 A12", path, module_mm=module_mm, dpi=dpi)
    with Image.open(path) as image:
        assert image.size == (29 * module_px, 29 * module_px)
        assert tuple(round(v) for v in image.info["dpi"]) == (dpi, dpi)


def test_module_mm_too_small_is_refused():
    with pytest.raises(InvalidLength) as caught:
        write("HL1 A12", io.BytesIO(), kind="png", module_mm=0.04)  # 0.47 px at 300 dpi
    error = caught.value
    assert (error.field, error.value) == ("module_mm", 0.04)
    assert "0.0423 mm at 300 dpi" in error.limit
    assert "rounds to 0 px" in str(error)


@pytest.mark.parametrize("kwargs, field", [
    ({"pixels": 100, "module_mm": 1.5}, "pixels, module_mm"),
    ({"pixels": 0}, "pixels"),
    ({"pixels": 10.5}, "pixels"),
    ({"module_mm": 0}, "module_mm"),
    ({"module_mm": -1.0}, "module_mm"),
    ({"module_mm": float("nan")}, "module_mm"),
    ({"border": -1}, "border"),
    ({"dpi": 0}, "dpi"),
    ({"dark": "not-a-colour"}, "dark"),
    ({"light": (1, 2)}, "light"),
])
def test_bad_write_options(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        write("HL1 A12", io.BytesIO(), kind="png", **kwargs)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ":")


def test_colours_and_transparency(tmp_path):
    path = tmp_path / "qr.png"
    write("HL1 A12", path, dark="darkblue", light=None)
    with Image.open(path) as image:
        assert image.mode in ("P", "PA", "RGBA", "LA")
    assert read(path) == ["HL1 A12"]  # transparent background is read as white


# --- kinds, paths and file objects -------------------------------------------------------------

@pytest.mark.parametrize("name, kind", [("qr.png", "png"), ("QR.SVG", "svg"), ("qr.pdf", "pdf")])
def test_kind_from_suffix(tmp_path, name, kind):
    write("HL1 A12", tmp_path / name)
    data = (tmp_path / name).read_bytes()
    assert data.startswith({"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF-"}[kind])


@pytest.mark.parametrize("out, kind, value", [
    ("qr.gif", None, "gif"),
    ("qr", None, None),
    ("qr.png", "jpeg", "jpeg"),
])
def test_unknown_kind_is_refused(tmp_path, out, kind, value):
    with pytest.raises(ValidationError) as caught:
        write("HL1 A12", tmp_path / out, kind=kind)
    error = caught.value
    assert (error.field, error.value, error.limit) == ("kind", value, "one of pdf, png, svg")
    assert str(error).startswith("kind: ") and "pdf, png, svg" in str(error)
    assert not (tmp_path / out).exists()


def test_file_object_needs_kind():
    with pytest.raises(ValidationError) as caught:
        write("HL1 A12", io.BytesIO())
    assert caught.value.field == "kind"
    assert "file object" in str(caught.value)


def _without_pdf_date(data: bytes) -> bytes:
    return re.sub(rb"/CreationDate\(D:[^)]*\)", b"", data)


@pytest.mark.parametrize("kind", ["png", "svg", "pdf"])
def test_file_object_matches_path(tmp_path, kind):
    path = tmp_path / f"qr.{kind}"
    buffer = io.BytesIO()
    write(SPEC_DYNAMIC, path, module_mm=1.5)
    write(SPEC_DYNAMIC, buffer, kind=kind, module_mm=1.5)
    assert _without_pdf_date(buffer.getvalue()) == _without_pdf_date(path.read_bytes())
    write(SPEC_DYNAMIC, str(path), module_mm=1.5)  # str paths too
    assert _without_pdf_date(buffer.getvalue()) == _without_pdf_date(path.read_bytes())


# --- SVG -------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", ALL_TEXTS.values(), ids=ALL_TEXTS.keys())
def test_svg_is_well_formed_and_decodes(payload):
    buffer = io.BytesIO()
    write(payload, buffer, kind="svg", module_mm=1.5)
    modules = _modules(payload)
    root = ElementTree.fromstring(buffer.getvalue())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    size = f"{modules * 1.5:g}"
    assert (root.get("width"), root.get("height")) == (f"{size}mm", f"{size}mm")
    assert root.get("viewBox") == f"0 0 {size} {size}"  # 1 user unit = 1 mm
    assert read(_rasterise_segno_svg(buffer.getvalue(), modules)) == [payload]


def test_svg_pixel_size():
    buffer = io.BytesIO()
    write("HL1 A12", buffer, kind="svg")
    root = ElementTree.fromstring(buffer.getvalue())
    assert (root.get("width"), root.get("viewBox")) == ("290px", "0 0 290 290")  # 29 modules x 10 px


def test_svg_with_a_real_renderer():
    import cairosvg  # a test extra; .ci/run installs the libcairo it loads
    png = cairosvg.svg2png(bytestring=_svg(SPEC_DYNAMIC), output_width=800)
    assert read(png) == [SPEC_DYNAMIC]


def _svg(payload: str) -> bytes:
    buffer = io.BytesIO()
    write(payload, buffer, kind="svg", module_mm=1.0)
    return buffer.getvalue()


# --- PDF -------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", ALL_TEXTS.values(), ids=ALL_TEXTS.keys())
def test_pdf_structure_and_decodes(payload):
    buffer = io.BytesIO()
    write(payload, buffer, kind="pdf", module_mm=1.5)
    pdf = buffer.getvalue()
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    modules = _modules(payload)
    points = modules * 1.5 / 25.4 * 72
    box = _media_box(pdf)
    assert box[:2] == [0, 0] and box[2] == box[3] == pytest.approx(points, abs=0.01)
    assert "4.252 0 0 4.252 0 0 cm" in _pdf_stream(pdf)  # 1.5 mm = 4.252 pt per module
    assert read(_rasterise_segno_pdf(pdf, modules)) == [payload]


def test_pdf_pixel_size_follows_dpi():
    buffer = io.BytesIO()
    write("HL1 A12", buffer, kind="pdf", pixels=290, dpi=300)  # 10 px modules = 2.4 pt at 300 dpi
    assert _media_box(buffer.getvalue()) == [0, 0, pytest.approx(29 * 2.4), pytest.approx(29 * 2.4)]


def test_pdf_modules_below_one_point_are_refused():
    with pytest.raises(InvalidLength) as caught:
        write("HL1 A12", io.BytesIO(), kind="pdf", module_mm=0.3)
    assert caught.value.field == "module_mm"
    assert "1 pt" in caught.value.limit


def test_pdf_with_pdfium():
    import pypdfium2 as pdfium  # a test extra: a second, independent PDF renderer beside pdftoppm
    buffer = io.BytesIO()
    write(SPEC_DYNAMIC, buffer, kind="pdf", module_mm=1.0)
    document = pdfium.PdfDocument(buffer.getvalue())
    try:
        page = document[0]
        size = page.get_size()
        image = page.render(scale=4).to_pil()
        page.close()
    finally:
        document.close()
    assert size == pytest.approx((_modules(SPEC_DYNAMIC) * 72 / 25.4,) * 2, abs=0.01)
    assert read(image) == [SPEC_DYNAMIC]


def test_pdf_with_a_real_renderer(tmp_path):
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing: CI installs Debian's poppler-utils")
        pytest.skip("pdftoppm not installed (apt-get install poppler-utils)")
    write(SPEC_DYNAMIC, tmp_path / "qr.pdf", module_mm=1.0)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", str(tmp_path / "qr.pdf"), str(tmp_path / "out")],
                   check=True, timeout=60)
    assert read(tmp_path / "out.png") == [SPEC_DYNAMIC]


# --- to_image --------------------------------------------------------------------------------

def test_to_image():
    image = to_image(SPEC_STATIC, module_px=5)
    assert image.mode == "L"
    assert image.size == (41 * 5, 41 * 5)
    histogram = image.histogram()
    assert histogram[0] and histogram[255] and sum(histogram) == histogram[0] + histogram[255]
    assert read(image) == [SPEC_STATIC]


@pytest.mark.parametrize("kwargs, field", [({"module_px": 0}, "module_px"), ({"module_px": 1.5}, "module_px"),
                                           ({"border": -2}, "border"), ({"error": "Z"}, "error")])
def test_to_image_refuses(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        to_image("HL1 A12", **kwargs)
    assert caught.value.field == field


# --- read ------------------------------------------------------------------------------------

def _photo(payload: str, *, seed: int, module_px: int = 4, angle: float = 15, blur: float = 1.5,
           size: tuple[int, int] = (1800, 1350)) -> bytes:
    """A JPEG 'photo': the code pasted small and rotated onto a large noisy grey background, blurred."""
    rnd = random.Random(seed)
    background = Image.frombytes("L", size, rnd.randbytes(size[0] * size[1])).point(lambda v: 70 + v // 3)
    code = to_image(payload, module_px=module_px).rotate(angle, resample=Image.Resampling.BICUBIC,
                                                         expand=True, fillcolor=255)
    background.paste(code, (rnd.randrange(size[0] - code.width), rnd.randrange(size[1] - code.height)))
    buffer = io.BytesIO()
    background.filter(ImageFilter.GaussianBlur(blur)).convert("RGB").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


@pytest.mark.parametrize("seed", [1, 2])
def test_read_photo(seed):
    photo = _photo(SPEC_DYNAMIC, seed=seed)
    assert read(photo) == [SPEC_DYNAMIC]
    assert read(io.BytesIO(photo)) == [SPEC_DYNAMIC]


def test_read_photo_needing_a_rescue():
    # 3 px modules under the same blur: zxing-cpp alone misses it; sharpening recovers it.
    photo = _photo(SPEC_DYNAMIC, seed=3, module_px=3)
    assert _zxing(Image.open(io.BytesIO(photo))) == []
    assert read(photo) == [SPEC_DYNAMIC]


def test_read_two_codes_in_reading_order():
    first, second = VECTORS["stall poster, 19-digit account"], SPEC_STATIC
    canvas = Image.new("RGB", (900, 700), "lightgray")
    canvas.paste(to_image(second, module_px=5), (420, 380))
    canvas.paste(to_image(first, module_px=5), (30, 20))
    assert read(canvas) == [first, second]


def test_read_no_code():
    rnd = random.Random(7)
    noise = Image.frombytes("L", (400, 300), rnd.randbytes(400 * 300)).filter(ImageFilter.GaussianBlur(2))
    assert read(noise) == []
    assert read(Image.new("RGB", (10, 10), "white")) == []


def test_read_sources(tmp_path):
    path = tmp_path / "qr.png"
    write(SPEC_STATIC, path, module_mm=0.5)
    assert read(path) == read(str(path)) == read(path.read_bytes()) == [SPEC_STATIC]
    with open(path, "rb") as handle:
        assert read(handle) == [SPEC_STATIC]
    with Image.open(path) as image:
        assert read(image.convert("RGB")) == [SPEC_STATIC]


def test_read_missing_file(tmp_path):
    missing = tmp_path / "nowhere.png"
    with pytest.raises(NotFound) as caught:
        read(missing)
    assert str(missing) in str(caught.value)
    with pytest.raises(NotFound):
        read(tmp_path)  # a directory


def test_read_not_an_image(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(InvalidFormat) as caught:
        read(text)
    assert str(text) in str(caught.value)
    assert caught.value.field == "image"


def test_read_truncated_image(tmp_path):
    path = tmp_path / "qr.png"
    write(SPEC_STATIC, path)
    data = path.read_bytes()
    with pytest.raises(InvalidFormat):
        read(data[: len(data) // 2])


def test_read_wrong_type():
    with pytest.raises(InvalidFormat):
        read(12345)


def test_read_keeps_bytes_exact():
    # qrcode writes UTF-8 without an ECI; segno writes Latin-1 without one. Both come back intact.
    code = qrcode.QRCode(border=4)
    code.add_data(UTF8_TEXT)
    assert read(code.make_image().get_image()) == [UTF8_TEXT]
    latin = io.BytesIO()
    segno.make("Café HL1", micro=False).save(latin, kind="png", scale=4)
    assert read(latin.getvalue()) == ["Café HL1"]
    control = "A\x1dB\tC"  # zxing's HRI text mode would render <GS>; we return the raw text
    assert read(to_image(control)) == [control]


def test_public_api():
    assert qrimage.__all__ == ["KINDS", "QUIET_ZONE", "DEFAULT_MODULE_PX", "make_symbol", "matrix", "Matrix",
                               "version_for", "write", "png", "to_image", "read"]
    assert qrimage.QUIET_ZONE == 4
