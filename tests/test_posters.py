"""Tests for market40.posters: layout rules, refusals, vector PDF, and proof that the posters scan.

Scanning is checked the way a customer's phone meets a poster: the PNG and the
rasterised PDF (pdftoppm, Debian's poppler-utils) are decoded with zxing-cpp
(:func:`market40.qrimage.read`), also after shrinking, blurring, rotating and warping
the picture. Every decoded text must equal the payload.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import unicodedata
import zlib
from datetime import date
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from market40 import posters, qrimage, vietqr
from market40.exceptions import InvalidFormat, NotFound, ValidationError
from market40.posters import SIZES, PosterData, layout, render_pdf, render_png, render_sheet_pdf

SETTINGS = settings(deadline=None, database=None, max_examples=60)  # 2 shared cores: no deadline

VIETCOMBANK = "970436"
LONG_NAME = "CONG TY TNHH THUONG MAI DICH VU HAI SAN THU HANG A"  # 50 characters
LONG_SHOP = "Cửa hàng hải sản tươi sống Thu Hằng và các con"

# Every Vietnamese vowel with every tone, both cases, and đ/Đ: 12 x 6 x 2 + 2 = 146 letters.
VOWELS = "aăâeêioôơuưy"
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # level, huyền, sắc, hỏi, ngã, nặng
VIETNAMESE = sorted({unicodedata.normalize("NFC", v + t) for v in VOWELS for t in TONES}
                    | {unicodedata.normalize("NFC", v + t).upper() for v in VOWELS for t in TONES} | {"đ", "Đ"})


def _payload(account: str = "0011012345678", **kwargs: object) -> str:
    kwargs.setdefault("purpose", "HL1 A12")
    return vietqr.build(bin=kwargs.pop("bin", VIETCOMBANK), account=account, **kwargs).payload  # type: ignore[arg-type]


def make_data(index: int = 0, **overrides: object) -> PosterData:
    """A valid poster; ``index`` gives a distinct account, payload, stall and serial."""
    account = overrides.pop("account_number", f"{1_001_000_000_000 + 7919 * index:013d}")
    fields: dict[str, object] = dict(
        payload=overrides.pop("payload") if "payload" in overrides else _payload(account, purpose=f"HL1 A{index}"),
        holder_name="NGUYEN VAN AN", bank_short_name="Vietcombank",
        bank_name="Ngân hàng TMCP Ngoại Thương Việt Nam", account_number=account,
        stall_code=f"A{index}", shop_name="Hải sản Thu Hằng", market_name="Chợ Hạ Long I",
        serial=f"P{index:05d}", printed_on=date(2026, 11, 22))
    fields.update(overrides)
    return PosterData(**fields)  # type: ignore[arg-type]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def rasterise(pdf: bytes, tmp_path: Path, dpi: int = 300) -> list[Image.Image]:
    """The pages of ``pdf`` as greyscale images at ``dpi`` (pdftoppm, anti-aliased like a viewer)."""
    if shutil.which("pdftoppm") is None:
        if _in_ci():
            pytest.fail("pdftoppm is missing: CI installs Debian's poppler-utils")
        pytest.skip("pdftoppm not installed (apt-get install poppler-utils)")
    source = tmp_path / "in.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(source), str(tmp_path / "page")],
                   check=True, capture_output=True)
    pages = sorted(tmp_path.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Image.open(p).convert("L") for p in pages]


def png_image(data: PosterData, **kwargs: object) -> Image.Image:
    buffer = io.BytesIO()
    render_png(data, buffer, **kwargs)  # type: ignore[arg-type]
    buffer.seek(0)
    image = Image.open(buffer)
    image.load()
    return image


def pdf_bytes(data: PosterData, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    render_pdf(data, buffer, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


def sheet_bytes(items: list[PosterData], **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    render_sheet_pdf(items, buffer, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


def content_streams(pdf: bytes) -> list[bytes]:
    """Every stream of ``pdf``, inflated where it is Flate-compressed (fpdf2's default)."""
    streams = []
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        length = int(re.search(rb"/Length (\d+)", match.group(1)).group(1))  # type: ignore[union-attr]
        raw = pdf[match.end():match.end() + length]
        streams.append(zlib.decompress(raw) if b"/FlateDecode" in match.group(1) else raw)
    return streams


# --- the font -------------------------------------------------------------------------------

@pytest.mark.parametrize("weight", ["regular", "bold"])
def test_font_covers_every_vietnamese_letter(weight: str) -> None:
    assert len(VIETNAMESE) == 146
    with TTFont(posters.font_path(weight)) as font:
        cmap = font.getBestCmap()
    missing = [c for c in VIETNAMESE if ord(c) not in cmap]
    assert missing == []
    # ... and the poster's own Vietnamese and English texts, after NFC normalisation.
    texts = "".join(v for k, v in posters.LABELS.items() if not k.endswith("_zh")) + "ẮẰẲẴẶẤẦẨẪẬỨỪỬỮỰ·–"
    assert [c for c in texts if c not in "\n{}" and ord(c) not in cmap] == []


# The characters of the Chinese lines, and what they print beside: the holder name (upper-case
# ASCII), digits and Latin punctuation.
CHINESE_LABELS = "".join(v for k, v in posters.LABELS.items() if k.endswith("_zh"))


def test_chinese_font_covers_the_chinese_lines_and_the_names_they_quote() -> None:
    assert "扫码付款" in CHINESE_LABELS and "收款人姓名" in CHINESE_LABELS
    with TTFont(posters.font_path("zh"), lazy=True) as font:
        cmap = font.getBestCmap()
        assert "CFF " in font or "glyf" in font
    printable_ascii = "".join(chr(c) for c in range(0x20, 0x7F))
    assert [c for c in CHINESE_LABELS + printable_ascii + "：·" if c not in "\n{}" and ord(c) not in cmap] == []
    # Every Chinese character actually has an outline (no blank .notdef look-alike).
    metrics = posters._metrics("zh")
    for char in CHINESE_LABELS.replace("{name}", "").replace("\n", ""):
        top, bottom = metrics.extent(char)
        assert top > 0.3 and metrics.advance[char] > 0.5, char


def test_chinese_font_comes_from_its_ofl_package() -> None:
    path = posters.font_path("zh")
    assert path.is_file() and posters.ZH_FONT_PACKAGE in path.parts
    with TTFont(path, lazy=True) as font:
        names = {record.toUnicode() for record in font["name"].names if record.nameID in (1, 13, 14)}
    assert any("Noto Sans SC" in n or "Noto Sans CJK SC" in n for n in names)
    assert any("Open Font License" in n or "OFL" in n for n in names)


def test_font_comes_from_the_font_package() -> None:
    path = posters.font_path("bold")
    assert path.name == "BeVietnamPro-Bold.ttf" and path.is_file()
    assert "fontpkg_be_vietnam_pro" in path.parts
    licence = (path.parent.parent / "LICENSE").read_text(encoding="utf-8")
    assert "SIL Open Font License" in licence or "SIL OPEN FONT LICENSE" in licence


def test_layout_widths_match_fpdf2() -> None:
    """The layout measures text as fpdf2 draws it, so PDF lines are exactly as wide as planned."""
    pdf = FPDF(unit="mm")
    pdf.add_font("f", "", posters.font_path("regular"))
    pdf.add_font("f", "B", posters.font_path("bold"))
    for style, weight in (("", "regular"), ("B", "bold")):
        pdf.set_font("f", style, 10)
        for text in ("Cửa hàng hải sản tươi sống Thu Hằng", "QUÉT MÃ ĐỂ THANH TOÁN", "0011 012 345 678"):
            assert posters._metrics(weight).width(text) * 10 * 25.4 / 72 == pytest.approx(
                pdf.get_string_width(text), abs=0.01)
    for font in pdf.fonts.values():
        font.close()  # fpdf2 closes its font files only when it writes a document


# --- the constants table and the QR module -----------------------------------------------------

ALL_LANGS = [("vi",), ("vi", "en"), ("vi", "zh"), ("vi", "en", "zh")]


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("langs", ALL_LANGS)
def test_every_size_stacks_within_the_page(size: str, langs: tuple[str, ...]) -> None:
    geometry = SIZES[size]
    slots, frames = posters._slots(geometry, langs)
    assert slots[0].top >= geometry.margin_top
    assert slots[-1].top + slots[-1].height <= geometry.height - geometry.margin_bottom + 1e-9
    for above, below in zip(slots, slots[1:]):
        assert above.top + above.height <= below.top + 1e-9
    assert geometry.margin_top >= 5 and geometry.margin_bottom >= 5  # printers' unprinted edge


@pytest.mark.parametrize("size", list(SIZES))
def test_every_size_takes_the_largest_house_style_vietqr(size: str) -> None:
    """A static VietQR with a 19-character account and a 19-character upper-case purpose
    (the house rule, design.md §3.1) is version 5: every size prints it at >= 1.5 mm."""
    payload = vietqr.build(bin=VIETCOMBANK, account="ABCDEF1234567890XYZ", purpose="HL1 A12 THANH TOAN X").payload
    data = make_data(payload=payload, account_number="ABCDEF1234567890XYZ")
    plan = layout(data, size=size)
    assert plan.version == 5
    assert plan.module_mm >= posters.MIN_MODULE_MM
    assert plan.qr_side == pytest.approx((plan.modules + 2 * posters.QUIET_ZONE) * plan.module_mm)


def _big_payload() -> tuple[str, str]:
    """A valid static VietQR that needs version 10 (lower-case text in byte mode, every field used)."""
    account = "abcdefghijklmnopqrs"
    payload = vietqr.build(bin=VIETCOMBANK, account=account, purpose="cho ha long i sap a12 tt",
                           bill_number="bill number 1234567890", reference_label="reference label abcdefg",
                           merchant_name="nguyen van an cua hang ab", merchant_city="thanh pho ha lo",
                           upper=False).payload
    assert qrimage.version_for(payload) == 10
    return payload, account


def test_refuses_modules_smaller_than_1_5_mm() -> None:
    payload, account = _big_payload()
    data = make_data(payload=payload, account_number=account)
    with pytest.raises(ValidationError) as caught:
        layout(data, size="a6")
    error = caught.value
    assert error.field == "size" and error.value == "a6"
    assert "1.5 mm" in error.limit and "1.5 mm" in error.message
    assert "1.05 mm" in error.message  # 68 mm / (57 + 8) modules
    for render in (render_png, render_pdf):
        with pytest.raises(ValidationError, match="size"):
            render(data, io.BytesIO(), size="a6")
    # The same payload is fine on A5: 100 mm / 65 modules = 1.54 mm.
    assert layout(data, size="a5").module_mm == pytest.approx(100 / 65)


def test_sheet_names_the_poster_that_cannot_print() -> None:
    payload, account = _big_payload()
    items = [make_data(0), make_data(1, payload=payload, account_number=account)]
    with pytest.raises(ValidationError, match=r"poster 2 \(serial P00001\)") as caught:
        sheet_bytes(items)
    assert caught.value.field == "size"


# --- text: fitting, wrapping, refusing -------------------------------------------------------

def _check_texts_inside(plan: posters.Layout, size: str) -> None:
    geometry = SIZES[size]
    for text in plan.texts:
        assert text.x >= geometry.margin_x - 1e-6, text
        assert text.x + text.width <= geometry.width - geometry.margin_x + 1e-6, text
        top, height = plan.boxes[text.block]
        assert top - 1e-6 <= text.top and text.bottom <= top + height + 1e-6, text
        if text.block.startswith("check"):  # inside the frame, clear of its padding
            assert geometry.margin_x + geometry.callout_pad - 1e-6 <= text.x, text
            assert text.x + text.width <= geometry.width - geometry.margin_x - geometry.callout_pad + 1e-6, text
        box = getattr(geometry, text.block)
        labelled = text.block in ("bank", "account") and not text.bold  # labels are set smaller than their value
        assert text.pt >= box.min_pt * (posters._LABEL_SCALE if labelled else 1) - 1e-9, text
    # The QR box (quiet zone included) holds no text.
    for text in plan.texts:
        assert text.bottom <= plan.qr_y or text.top >= plan.qr_y + plan.qr_side


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("langs", ALL_LANGS)
def test_long_names_shrink_then_wrap(size: str, langs: tuple[str, ...]) -> None:
    data = make_data(holder_name=LONG_NAME, shop_name=LONG_SHOP)
    assert len(data.holder_name) == 50
    plan = layout(data, size=size, langs=langs)
    _check_texts_inside(plan, size)
    assert {t.block for t in plan.texts} >= {"check"} | {f"check_{lang}" for lang in langs if lang != "vi"}
    for lang in langs[1:]:  # the other languages' check lines quote the whole name too
        line = " ".join(t.text for t in plan.texts if t.block == f"check_{lang}")
        assert line.endswith(LONG_NAME), line
    name_lines = [t for t in plan.texts if t.block == "holder"]
    assert len(name_lines) == 2  # too long for one line even at the smallest size: wrapped
    assert " ".join(t.text for t in name_lines) == LONG_NAME  # nothing cut
    assert name_lines[0].pt >= SIZES[size].holder.min_pt
    stall = " ".join(t.text for t in plan.texts if t.block == "stall")
    assert stall == f"Sạp A0 · {LONG_SHOP}"
    # The check line prefers to break before the name, and keeps the whole name.
    check = [t.text for t in plan.texts if t.block == "check"]
    assert check[-1] == LONG_NAME and check[0].endswith("phải là:")


def test_short_name_stays_on_one_line_at_the_largest_size() -> None:
    plan = layout(make_data(), size="a6")
    (name,) = [t for t in plan.texts if t.block == "holder"]
    assert name.text == "NGUYEN VAN AN" and name.pt == SIZES["a6"].holder.max_pt


def test_a_name_slightly_too_long_shrinks_before_it_wraps() -> None:
    plan = layout(make_data(holder_name="NGUYEN THI THUY TRANG"), size="a6")
    lines = [t for t in plan.texts if t.block == "holder"]
    assert len(lines) == 1
    assert SIZES["a6"].holder.min_pt <= lines[0].pt < SIZES["a6"].holder.max_pt


@pytest.mark.parametrize(("field", "value"), [
    ("holder_name", "NGUYEN " * 17 + "AN"),                    # 121 characters: not even 2 lines at the minimum
    ("holder_name", "X" * 40),                                 # one word: cannot wrap
    ("shop_name", "Cửa hàng hải sản tươi sống " * 6),
    ("market_name", "Chợ trung tâm thành phố Hạ Long tỉnh Quảng Ninh " * 3),
    ("bank_name", "Tổng Công ty Dịch vụ số Viettel - Chi nhánh tập đoàn công nghiệp viễn thông Quân Đội " * 2),
])
def test_text_that_cannot_fit_is_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        layout(make_data(**{field: value}), size="a6")
    assert caught.value.field == field
    assert "does not fit" in caught.value.message and "A6" in caught.value.limit


def test_longest_bank_name_in_the_directory_fits_a6() -> None:
    longest = max((b.name for b in posters.banks.all_banks()), key=len)
    data = make_data(payload=_payload("0011012345678", bin="999999"), account_number="0011012345678",
                     bank_short_name="Viettel Digital", bank_name=longest)  # BIN unknown to the directory
    assert " ".join(t.text for t in layout(data).texts if t.block == "bank_name") == longest


def test_label_and_value_lines_never_wrap() -> None:
    data = make_data(payload=_payload("0011012345678", bin="999999"), account_number="0011012345678",
                     bank_short_name="Ngân hàng thương mại cổ phần rất rất dài " * 3)
    with pytest.raises(ValidationError) as caught:
        layout(data, size="a6")
    assert caught.value.field == "bank_short_name"


def test_characters_the_font_lacks_are_refused_not_dropped() -> None:
    with pytest.raises(InvalidFormat, match="U\\+1F41F") as caught:
        layout(make_data(shop_name="Cá tươi 🐟"))
    assert caught.value.field == "shop_name"
    with pytest.raises(InvalidFormat) as caught:
        layout(make_data(stall_code="甲12"))
    assert caught.value.field == "stall_code"
    with pytest.raises(InvalidFormat) as caught:
        layout(make_data(market_name="Chợ ☃"))
    assert caught.value.field == "market_name"


def test_decomposed_vietnamese_prints_as_precomposed_letters() -> None:
    nfd = unicodedata.normalize("NFD", "Hải sản Thu Hằng")
    plan = layout(make_data(shop_name=nfd))
    assert [t.text for t in plan.texts if t.block == "stall"] == ["Sạp A0 · Hải sản Thu Hằng"]


_SYMBOL = posters._symbol(make_data().payload)
VIETNAMESE_WORD = st.text(alphabet="".join(VIETNAMESE) + "bcdghklmnpqrstvx", min_size=1, max_size=12)


@SETTINGS
@given(words=st.lists(VIETNAMESE_WORD, min_size=1, max_size=14), size=st.sampled_from(list(SIZES)),
       langs=st.sampled_from(ALL_LANGS))
def test_any_shop_name_fits_or_is_refused(words: list[str], size: str, langs: tuple[str, ...]) -> None:
    """Never an overflow: either every run lies inside its box, or a ValidationError names the field."""
    data = make_data(shop_name=" ".join(words))
    try:
        plan = posters._layout(data, SIZES[size], langs, _SYMBOL)
    except ValidationError as error:
        assert error.field == "shop_name"
        return
    _check_texts_inside(plan, size)
    assert " ".join(t.text for t in plan.texts if t.block == "stall") == f"Sạp A0 · {' '.join(words)}"


# --- the data ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "field"), [
    ({"holder_name": "Nguyen Van An"}, "holder_name"),         # not upper-case
    ({"holder_name": "NGUYỄN VĂN AN"}, "holder_name"),         # not ASCII: must be as the bank has it
    ({"holder_name": " NGUYEN VAN AN"}, "holder_name"),
    ({"shop_name": "  "}, "shop_name"),
    ({"market_name": "Chợ\nHạ Long"}, "market_name"),
    ({"account_number": "0011 012 345 678"}, "account_number"),
    ({"account_number": "0011012345679"}, "account_number"),   # not the QR's account
    ({"serial": "P 123"}, "serial"),
    ({"printed_on": "2026-11-22"}, "printed_on"),
    ({"bank_short_name": "Techcombank"}, "bank_short_name"),   # the QR's BIN is Vietcombank's
    ({"is_card": True}, "is_card"),                            # the QR pays into an account
    ({"payload": "not a payload"}, "payload"),
    ({"payload": _payload("0011012345678", amount=150000)}, "payload"),  # dynamic: one payment
])
def test_poster_data_is_checked_when_made(overrides: dict[str, object], field: str) -> None:
    data = {"account_number": "0011012345678", "payload": _payload("0011012345678"), **overrides}
    with pytest.raises(ValidationError) as caught:
        make_data(**data)
    assert field in [e.field for e in caught.value.errors]


def test_poster_data_reports_every_problem_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        make_data(holder_name="an", serial="", printed_on=None)
    assert {e.field for e in caught.value.errors} == {"holder_name", "serial", "printed_on"}


def test_bank_short_name_may_be_the_code_or_an_alias() -> None:
    assert make_data(bank_short_name="VCB").bank_short_name == "VCB"


def test_cards_and_ewallets_get_their_labels() -> None:
    card = "9704361234567890123"
    data = make_data(payload=vietqr.build(bin=VIETCOMBANK, card=card, purpose="HL1 A12").payload,
                     account_number=card, is_card=True)
    texts = [t.text for t in layout(data).texts if t.block == "account"]
    assert texts == ["Số thẻ", "9704 3612 3456 7890 123"]
    momo = "0912345678"
    data = make_data(payload=vietqr.build(bin="971025", account=momo, purpose="HL1 A12").payload,
                     account_number=momo, bank_short_name="MoMo", bank_name="Ví MoMo", is_ewallet=True)
    blocks = {t.block: t.text for t in layout(data).texts if not t.bold}
    assert blocks["bank"] == "Ví điện tử" and blocks["account"] == "Tài khoản ví"


def test_group_account() -> None:
    assert posters.group_account("0011012345678") == "0011 012 345 678"
    assert posters.group_account("8086205182190") == "8086 205 182 190"  # was 8086 2051 8219 0
    assert posters.group_account("12") == "12"
    assert posters.group_account("9704361234567890") == "9704 3612 3456 7890"  # a card stays 4 x 4
    assert [len(g) for g in posters.group_account("1" * 19).split()] == [4, 4, 4, 4, 3]


@SETTINGS
@given(number=st.from_regex(r"[0-9A-Z]{1,19}", fullmatch=True))
def test_grouped_account_has_no_lone_character(number: str) -> None:
    groups = posters.group_account(number).split(" ")
    assert "".join(groups) == number                      # every character kept, in order
    assert all(1 <= len(g) <= 4 for g in groups)           # short enough to read aloud
    assert len(number) == 1 or min(len(g) for g in groups) >= 2  # never an orphan
    if len(number) >= 6:
        assert {len(g) for g in groups} <= {3, 4}          # 6-19 characters: groups of 3 or 4
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)
    assert len(groups) == -(-len(number) // 4)             # the fewest groups


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"size": "a7"}, "size"), ({"size": 6}, "size"), ({"dpi": 30}, "dpi"), ({"dpi": 300.0}, "dpi"),
])
def test_bad_options_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        render_png(make_data(), io.BytesIO(), **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_sheet_options_are_checked() -> None:
    with pytest.raises(ValidationError) as caught:
        sheet_bytes([make_data()], size="a4", sheet="a6")
    assert caught.value.field == "sheet"
    with pytest.raises(ValidationError) as caught:
        sheet_bytes([make_data()], sheet="letter")
    assert caught.value.field == "sheet"
    with pytest.raises(ValidationError) as caught:
        sheet_bytes([])
    assert caught.value.field == "items"
    with pytest.raises(ValidationError) as caught:
        sheet_bytes([make_data(), "poster"])  # type: ignore[list-item]
    assert caught.value.field == "items"
    with pytest.raises(ValidationError) as caught:
        sheet_bytes([make_data()], workers=0)
    assert caught.value.field == "workers"


def test_missing_font_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(posters, "FONT_PACKAGE", "no_such_font_package")
    posters.font_path.cache_clear()
    try:
        with pytest.raises(NotFound, match="pip install fontpkg-be-vietnam-pro"):
            posters.font_path("regular")
    finally:
        monkeypatch.undo()
        posters.font_path.cache_clear()


# --- PNG ---------------------------------------------------------------------------------------

def _symbol_bbox(image: Image.Image, plan: posters.Layout, dpi: float, threshold: int = 128
                 ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """Pixel boxes of the QR box (quiet zone included) and of the dark symbol inside it."""
    px = dpi / 25.4
    box = (round(plan.qr_x * px), round(plan.qr_y * px),
           round((plan.qr_x + plan.qr_side) * px), round((plan.qr_y + plan.qr_side) * px))
    crop = image.crop(box).point(lambda v: 255 if v < threshold else 0)
    dark = crop.getbbox()
    assert dark is not None
    return box, dark


@pytest.mark.parametrize("size", list(SIZES))
def test_png_scans_and_keeps_module_and_quiet_zone(size: str) -> None:
    data = make_data(3)
    image = png_image(data, size=size)
    geometry = SIZES[size]
    assert image.size == (round(geometry.width * 300 / 25.4), round(geometry.height * 300 / 25.4))
    assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)
    assert qrimage.read(image) == [data.payload]
    plan = layout(data, size=size)
    box, dark = _symbol_bbox(image, plan, 300)
    module_px = (dark[2] - dark[0]) / plan.modules
    assert module_px * 25.4 / 300 >= posters.MIN_MODULE_MM  # measured on the image
    assert (dark[2] - dark[0]) == pytest.approx(dark[3] - dark[1], abs=1)
    # Quiet zone: at least 4 modules of white on every side, inside the QR box...
    width = box[2] - box[0]
    for margin in (dark[0], dark[1], width - dark[2], width - dark[3]):
        assert margin >= posters.QUIET_ZONE * module_px - 1
    # ... and nothing else drawn there: the box holds the symbol and white only.
    crop = image.crop(box)
    ring = [crop.getpixel((x, y)) for x in range(0, width, 3) for y in range(0, width, 3)
            if not (dark[0] <= x < dark[2] and dark[1] <= y < dark[3])]
    assert set(ring) == {255}


@pytest.mark.parametrize("langs", ALL_LANGS)
def test_png_ink_stays_inside_the_margins(langs: tuple[str, ...]) -> None:
    image = png_image(make_data(holder_name=LONG_NAME, shop_name=LONG_SHOP), langs=langs)
    ink = image.point(lambda v: 255 if v < 250 else 0).getbbox()
    geometry = SIZES["a6"]
    px = 300 / 25.4
    assert ink is not None
    assert ink[0] >= (geometry.margin_x - 0.3) * px and ink[2] <= (geometry.width - geometry.margin_x + 0.3) * px
    assert ink[1] >= (geometry.margin_top - 0.3) * px and ink[3] <= (geometry.height - geometry.margin_bottom + 0.3) * px


def test_png_to_path_and_file_object(tmp_path: Path) -> None:
    data = make_data()
    render_png(data, tmp_path / "poster.png")
    render_png(data, str(tmp_path / "poster2.png"), dpi=150)
    buffer = io.BytesIO()
    render_png(data, buffer)
    assert (tmp_path / "poster.png").read_bytes() == buffer.getvalue()
    with Image.open(tmp_path / "poster2.png") as image:
        assert image.size == (620, 874)


def _perspective_coeffs(source: list[tuple[float, float]], target: list[tuple[float, float]]) -> list[float]:
    """Coefficients for Image.transform(PERSPECTIVE) mapping ``target`` corners back to ``source``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    n = 8  # Gauss-Jordan on the 8 x 8 system
    matrix = [row + [value] for row, value in zip(rows, rhs)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(matrix[r][col]))
        matrix[col], matrix[pivot] = matrix[pivot], matrix[col]
        for r in range(n):
            if r != col:
                factor = matrix[r][col] / matrix[col][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[col])]
    return [matrix[i][n] / matrix[i][i] for i in range(n)]


def _downscale(image: Image.Image, module_px: float, plan: posters.Layout) -> Image.Image:
    factor = module_px / (plan.module_mm * 300 / 25.4)
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.BOX)


def _warp(image: Image.Image) -> Image.Image:
    w, h = image.size
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    # Seen from below and to the left: the top edge shorter, the right side shorter.
    target = [(0.10 * w, 0.06 * h), (0.88 * w, 0.12 * h), (0.95 * w, 0.90 * h), (0.02 * w, 0.98 * h)]
    return image.transform((w, h), Image.Transform.PERSPECTIVE, _perspective_coeffs(corners, target),
                           Image.Resampling.BICUBIC, fillcolor=255)


DEGRADATIONS = {
    # (a) far away / low-resolution camera: about 2.5 pixels a module
    "downscaled": lambda image, plan: _downscale(image, 2.5, plan),
    # (b) out of focus
    "blurred": lambda image, plan: _downscale(image, 6, plan).filter(ImageFilter.GaussianBlur(2.2)),
    # (c) phone held askew
    "rotated": lambda image, plan: _downscale(image, 4, plan).rotate(15, Image.Resampling.BICUBIC,
                                                                         expand=True, fillcolor=255),
    # (d) poster seen at an angle
    "perspective": lambda image, plan: _warp(_downscale(image, 4, plan)),
    # (e) all of it at once
    "combined": lambda image, plan: _warp(_downscale(image, 3.5, plan)).rotate(
        15, Image.Resampling.BICUBIC, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(0.8)),
}


@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_png_scans_when_degraded_like_a_phone_photo(name: str) -> None:
    data = make_data(7)  # A6: the smallest modules (1.51 mm)
    plan = layout(data)
    degraded = DEGRADATIONS[name](png_image(data), plan)
    assert qrimage.read(degraded) == [data.payload]


# --- PDF ---------------------------------------------------------------------------------------

def test_pdf_is_vector_with_the_font_embedded_once_per_face() -> None:
    data = make_data()
    pdf = pdf_bytes(data, english=True)
    assert pdf.startswith(b"%PDF-")
    assert b"/Subtype /Image" not in pdf and b"/XObject" not in pdf  # no bitmap anywhere
    assert pdf.count(b"/FontFile2") == 2  # Be Vietnam Pro Regular and Bold, each once
    assert sorted(re.findall(rb"/FontName /[A-Z]{6}\+(BeVietnamPro\w*)", pdf)) == [b"BeVietnamPro",
                                                                                  b"BeVietnamProBold"]  # subsets
    pages = [s for s in content_streams(pdf) if b" re " in s]
    assert len(pages) == 1
    plan = layout(data, english=True)
    # The QR is ONE path (its subpaths the dark rectangles, in modules) filled once, placed
    # by a matrix that scales a module to its size: no drawing call per rectangle.
    (qr,) = re.findall(rb"q ([-\d.]+) 0 0 ([-\d.]+) [-\d.]+ [-\d.]+ cm ((?:\d+ \d+ \d+ \d+ re ?)+) f Q", pages[0])
    assert len(re.findall(rb" re", qr[2])) == len(plan.rects) and not re.search(rb" re f(?! Q)", pages[0])
    assert pages[0].count(b" f") == 1  # the only fill on the page
    # Module size measured on the PDF itself: the matrix's scale is one module (pt -> mm).
    module = float(qr[0]) * 25.4 / 72
    assert float(qr[1]) == -float(qr[0])
    assert module == pytest.approx(plan.module_mm, abs=0.001) and module >= posters.MIN_MODULE_MM - 0.005
    assert pages[0].count(b" Tj") + pages[0].count(b" TJ") == len(plan.texts)  # text is text
    assert len(pdf) < 60_000


def test_pdf_page_has_the_poster_size() -> None:
    for size, geometry in SIZES.items():
        pdf = pdf_bytes(make_data(), size=size)
        box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
        assert box is not None
        width, height = (float(v) * 25.4 / 72 for v in box.groups())
        assert (width, height) == (pytest.approx(geometry.width, abs=0.01), pytest.approx(geometry.height, abs=0.01))


@pytest.mark.parametrize("size", ["a6", "a4"])
def test_pdf_scans_and_keeps_module_and_quiet_zone(size: str, tmp_path: Path) -> None:
    data = make_data(5)
    (page,) = rasterise(pdf_bytes(data, size=size, english=True), tmp_path, dpi=300)
    assert qrimage.read(page) == [data.payload]
    plan = layout(data, size=size, english=True)
    box, dark = _symbol_bbox(page, plan, 300)
    assert (dark[2] - dark[0]) / plan.modules * 25.4 / 300 >= posters.MIN_MODULE_MM - 0.01  # +-1 px of edge
    assert plan.module_mm >= posters.MIN_MODULE_MM
    width = box[2] - box[0]
    module_px = plan.module_mm * 300 / 25.4
    for margin in (dark[0], dark[1], width - dark[2], width - dark[3]):
        assert margin >= posters.QUIET_ZONE * module_px - 1.5
    crop = page.crop(box)
    ring = [crop.getpixel((x, y)) for x in range(0, width, 3) for y in range(0, width, 3)
            if not (dark[0] - 1 <= x < dark[2] + 1 and dark[1] - 1 <= y < dark[3] + 1)]
    assert min(ring) >= 250


def test_pdf_to_path_and_file_object(tmp_path: Path) -> None:
    data = make_data()
    render_pdf(data, tmp_path / "poster.pdf")
    with open(tmp_path / "poster2.pdf", "wb") as file:
        render_pdf(data, file, size="a5")
    assert (tmp_path / "poster.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "poster2.pdf").read_bytes().startswith(b"%PDF-")


# --- sheets ------------------------------------------------------------------------------------

def test_posters_per_sheet() -> None:
    assert posters.per_sheet("a6", "a4") == 4
    assert posters.per_sheet("a5", "a4") == 2    # turned: two portrait A5 on a landscape A4
    assert posters.per_sheet("a4", "a4") == 1
    assert posters.per_sheet("a6", "a3") == 8
    assert posters.per_sheet("A5", "A3") == 4


def test_sheet_of_12_posters_scans_in_order(tmp_path: Path) -> None:
    items = [make_data(i) for i in range(12)]
    assert len({d.payload for d in items}) == 12
    seen: list[tuple[int, int | None]] = []
    pdf = sheet_bytes(items, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 12) for i in range(1, 13)]
    assert pdf.count(b"/FontFile2") == 2  # embedded once per document, not per poster or page
    assert b"/Subtype /Image" not in pdf
    assert len(pdf) / 12 < 60_000
    pages = rasterise(pdf, tmp_path, dpi=150)
    assert len(pages) == 3
    for number, page in enumerate(pages):
        assert page.size == (pytest.approx(210 / 25.4 * 150, abs=1), pytest.approx(297 / 25.4 * 150, abs=1))
        expected = {d.payload for d in items[4 * number:4 * number + 4]}
        assert set(qrimage.read(page)) == expected  # every code on the page at once
        # Cell by cell, left to right then top to bottom: the order given.
        half_w, half_h = page.width // 2, page.height // 2
        cells = [page.crop((x, y, x + half_w, y + half_h)) for y in (0, half_h) for x in (0, half_w)]
        assert [qrimage.read(cell) for cell in cells] == [[d.payload] for d in items[4 * number:4 * number + 4]]


def test_sheet_has_cut_marks_between_posters() -> None:
    pdf = sheet_bytes([make_data(i) for i in range(4)])
    (page,) = [s for s in content_streams(pdf) if b" re f" in s]
    # A6 on A4: one vertical cut at x = 105 mm, one horizontal at y = 148.5 mm (centred grid).
    lines = re.findall(rb"([\d.]+) ([\d.]+) m ([\d.]+) ([\d.]+) l S", page)
    mm = [tuple(round(float(v) * 25.4 / 72, 1) for v in line) for line in lines]
    assert (105.0, 297.0, 105.0, 289.0) in mm  # from the top edge (PDF y counts up from the bottom)
    assert (0.0, 148.5, 8.0, 148.5) in mm      # from the left edge
    assert (101.0, 148.5, 109.0, 148.5) in mm  # the cross in the middle
    single = pdf_bytes(make_data())
    (page,) = [s for s in content_streams(single) if b" re f" in s]
    assert not re.search(rb" l S", page)  # a lone poster has no cut marks


def test_sheet_a5_on_a4_is_landscape_with_two_posters(tmp_path: Path) -> None:
    items = [make_data(i) for i in range(3)]
    seen: list[tuple[int, int | None]] = []
    pdf = sheet_bytes(iter(items), size="a5", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, None), (2, None), (3, None)]  # a generator has no length
    pages = rasterise(pdf, tmp_path, dpi=100)
    assert [p.size for p in pages] == [(pytest.approx(297 / 25.4 * 100, abs=1),
                                        pytest.approx(210 / 25.4 * 100, abs=1))] * 2
    assert qrimage.read(pages[0]) == [items[0].payload, items[1].payload]
    assert qrimage.read(pages[1]) == [items[2].payload]


def test_sheet_with_worker_processes_matches_one_process() -> None:
    items = [make_data(i) for i in range(6)]
    one = sheet_bytes(items, english=True)
    two = sheet_bytes(items, english=True, workers=2)
    strip = re.compile(rb"/(?:CreationDate|ModDate) \(D:[^)]*\)|/ID \[<[0-9a-f]+><[0-9a-f]+>\]", re.I)
    assert [s for s in content_streams(one) if b" re f" in s] == [s for s in content_streams(two) if b" re f" in s]
    assert len(strip.sub(b"", one)) == len(strip.sub(b"", two))


# --- languages ---------------------------------------------------------------------------------

def test_langs_are_parsed_vietnamese_always_first() -> None:
    assert posters.parse_langs(None) == ("vi",)
    assert posters.parse_langs("vi,en,zh") == ("vi", "en", "zh")
    assert posters.parse_langs("zh") == ("vi", "zh")          # Vietnamese always prints
    assert posters.parse_langs(" EN , vi ") == ("vi", "en")
    assert posters.parse_langs(None, english=True) == ("vi", "en")  # the older english flag
    with pytest.raises(ValidationError) as caught:
        posters.parse_langs("vi,fr")
    assert caught.value.field == "lang" and "vi, en, zh" in caught.value.limit
    with pytest.raises(ValidationError):
        layout(make_data(), langs="ko")


def test_english_flag_is_the_same_poster_as_lang_vi_en() -> None:
    data = make_data(2)
    assert layout(data, english=True) == layout(data, langs="vi,en")
    assert pdf_bytes(data, english=True).count(b"/FontFile") == pdf_bytes(data, langs="vi,en").count(b"/FontFile")


def test_chinese_lines_print_only_when_asked() -> None:
    data = make_data(2)
    blocks = {t.block: t.text for t in layout(data, langs="vi,zh").texts}
    assert blocks["title_more"] == "扫码付款" and "check_en" not in blocks
    assert blocks["check_zh"] == "请核对手机上显示的收款人姓名：NGUYEN VAN AN"  # no space after "："
    both = [t for t in layout(data, langs="vi,en,zh").texts if t.block == "title_more"]
    assert [(t.text, t.font) for t in both] == [("Scan to pay ·", "regular"), ("扫码付款", "zh")]
    assert not {"title_more", "check_en", "check_zh"} & {t.block for t in layout(data).texts}
    # A Vietnamese poster never carries the Chinese font.
    assert b"NotoSansSC" not in pdf_bytes(data) and b"NotoSansSC" not in pdf_bytes(data, langs="vi,en")


@pytest.mark.parametrize("size", list(SIZES))
def test_chinese_english_poster_scans_and_its_text_renders(size: str, tmp_path: Path) -> None:
    """The #13 proof: a vi+en+zh poster's QR decodes from the rasterised PDF, its Chinese text is
    real text in an embedded subset of Noto Sans SC, and every line stays in its place."""
    import pypdfium2 as pdfium  # a test extra
    data = make_data(9, holder_name=LONG_NAME)
    pdf = pdf_bytes(data, size=size, langs="vi,en,zh")
    assert b"/Subtype /Image" not in pdf
    assert re.search(rb"/FontName /[A-Z]{6}\+NotoSansSC", pdf)  # a subset, not the 8 MB font
    assert len(pdf) < 80_000
    document = pdfium.PdfDocument(pdf)
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    flat = re.sub(r"\s+", "", text)
    assert "扫码付款" in flat and "请核对手机上显示的收款人姓名：" in flat and "Scantopay" in flat
    assert "QUÉTMÃĐỂTHANHTOÁN" in flat
    (page,) = rasterise(pdf, tmp_path, dpi=300)
    assert qrimage.read(page) == [data.payload]
    plan = layout(data, size=size, langs="vi,en,zh")
    _check_texts_inside(plan, size)
    assert plan.module_mm >= posters.MIN_MODULE_MM
    # Ink where the Chinese line is planned: the glyphs are drawn, in their box.
    px = 300 / 25.4
    (line,) = [t for t in plan.texts if t.block == "check_zh"][-1:]
    crop = page.crop((round(line.x * px), round(line.top * px), round((line.x + line.width) * px),
                      round(line.bottom * px)))
    assert crop.getextrema()[0] < 100


def test_chinese_png_scans_and_draws_the_chinese_line() -> None:
    data = make_data(6, holder_name=LONG_NAME, shop_name=LONG_SHOP)
    image = png_image(data, langs="vi,en,zh", dpi=300)
    assert qrimage.read(image) == [data.payload]
    px = 300 / 25.4
    for line in [t for t in layout(data, langs="vi,en,zh").texts if t.font == "zh"]:
        crop = image.crop((round(line.x * px), round(line.top * px), round((line.x + line.width) * px),
                           round(line.bottom * px)))
        assert crop.getextrema()[0] < 100, line  # Pillow drew the glyphs where the layout put them


def test_sheet_in_three_languages_scans(tmp_path: Path) -> None:
    items = [make_data(i) for i in range(4)]
    pdf = sheet_bytes(items, langs="vi,en,zh")
    assert pdf.count(b"/FontFile") == 3  # Be Vietnam Pro Regular, Bold, Noto Sans SC: once each
    (page,) = rasterise(pdf, tmp_path, dpi=150)
    assert set(qrimage.read(page)) == {d.payload for d in items}
