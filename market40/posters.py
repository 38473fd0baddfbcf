"""Print-ready stall posters: one stall's VietQR with the details a customer checks.

The poster is the anti-fraud device (``design.md`` §3 decision 4, ``field-notes.md``
§1.2, §4.3–4.4): next to the QR it prints, large, the account holder's name exactly
as the bank has it, so a customer can compare it with the name their banking app
shows after the scan; then the bank, the account number grouped for reading aloud
(no lone digit: :func:`market40.accounts.group`), the stall and the market, and a
serial the registry can look up. Vietnamese always; English and Simplified Chinese
lines on request (``langs``, :func:`parse_langs`).

Rules kept here, and where they come from:

- **QR: ECC M, 4-module quiet zone, no centre logo, modules at least 1.5 mm**
  (``field-notes.md`` §1.4). Each size has a fixed QR box; the module size is that
  box divided by the symbol width plus the quiet zone, and a payload whose symbol
  would get smaller modules is refused (field ``size``) instead of printed.
- **Every dimension in one place**: :data:`SIZES` holds, per paper size, every
  length in millimetres (font sizes in points, as typesetters give them).
- **Text never overflows and is never cut.** A text too long for its line shrinks
  to the smallest legible size of its box, then wraps onto more lines (up to the
  box's limit); if it still does not fit, :class:`~market40.exceptions.ValidationError`
  names the field.
- **Fonts shipped by dependencies**: Be Vietnam Pro (SIL OFL 1.1, from google/fonts)
  in the PyPI package ``fontpkg-be-vietnam-pro``, full Vietnamese coverage; for the
  Chinese lines Noto Sans SC (SIL OFL 1.1) from ``pylopdf-fonts-zh-cn``. Texts are laid
  out with the fonts' own advance widths and glyph bounds, so the PNG (Pillow) and the
  PDF (fpdf2, fonts embedded as subsets) share one layout.
- **Vector PDF**: each QR is ONE path filled once (its subpaths the runs of dark
  modules, merged across rows when they line up), the text as text; nothing is a
  bitmap. Sheets of several posters carry cut marks; each font subset is embedded
  once per document.
- **Fast symbols**: :func:`market40.qrimage.matrix` (zxing-cpp's C++ writer, checked
  against the optimal version for every symbol) builds the QR, so a market's sheet
  costs less CPU than segno alone drawing the same codes.

Output goes to a path or a binary file object (qrbill's habit).

>>> from datetime import date
>>> from market40 import vietqr
>>> data = PosterData(
...     payload=vietqr.build(bin="970436", account="0011012345678", purpose="HL1 A12").payload,
...     holder_name="NGUYEN VAN AN", bank_short_name="Vietcombank",
...     bank_name="Ngân hàng TMCP Ngoại Thương Việt Nam", account_number="0011012345678",
...     stall_code="A12", shop_name="Hải sản Thu Hằng", market_name="Chợ Hạ Long I",
...     serial="P7K3Q9", printed_on=date(2026, 11, 22))
>>> plan = layout(data, size="a6")
>>> plan.version, plan.modules, round(plan.module_mm, 3)      # 68 mm box / (37 + 2 * 4) modules
(5, 37, 1.511)
>>> [t.text for t in layout(data, langs="vi,en,zh").texts if t.block == "title_more"]
['Scan to pay ·', '扫码付款']
>>> [t.text for t in plan.texts if t.block == "account"]
['Số tài khoản', '0011 012 345 678']
>>> per_sheet("a6", "a4"), per_sheet("a5", "a4"), per_sheet("a4", "a4")
(4, 2, 1)
"""
from __future__ import annotations

import atexit
import collections
import contextlib
import datetime
import io
import itertools
import math
import multiprocessing
import os
import re
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple, Sequence, Tuple, Union

from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import RenderStyle
from PIL import Image, ImageDraw, ImageFont

from . import accounts, banks, qrimage, vietqr
from .exceptions import InvalidComponent, InvalidFormat, InvalidLength, NotFound, NotVietQR, ValidationError
from .text import emv_text, is_ans, unsafe_char

__all__ = [
    "PosterData",
    "Layout",
    "Text",
    "Frame",
    "Geometry",
    "Box",
    "SIZES",
    "SHEETS",
    "MIN_MODULE_MM",
    "ERROR_LEVEL",
    "QUIET_ZONE",
    "FONT_FAMILY",
    "FONT_PACKAGE",
    "LABELS",
    "group_account",
    "LANGS",
    "parse_langs",
    "ZH_FONT_FAMILY",
    "ZH_FONT_PACKAGE",
    "layout",
    "per_sheet",
    "font_path",
    "render_png",
    "render_pdf",
    "render_sheet_pdf",
]

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]
Progress = Callable[[int, Union[int, None]], Any]

#: Smallest printed QR module on a poster, in mm (``field-notes.md`` §1.4: a customer
#: 0.3–1 m from the counter, a cheap phone, market lighting).
MIN_MODULE_MM = 1.5
#: QR error correction level of every poster: M (~15 % recoverable), no centre logo.
ERROR_LEVEL = "M"
#: Light modules on every side of the symbol (ISO/IEC 18004), kept clear by the layout.
QUIET_ZONE = qrimage.QUIET_ZONE

_PT = 25.4 / 72  # mm per typographic point


# --- the constants table ------------------------------------------------------------------------

class Box(NamedTuple):
    """A text box of the poster: its height (mm), its largest and smallest font size
    (pt) and how many lines its text may wrap onto. Every box spans the width
    between the side margins."""

    height: float
    max_pt: float
    min_pt: float
    lines: int = 1


@dataclass(frozen=True)
class Geometry:
    """Every dimension of one poster size: millimetres, font sizes in points.

    The boxes stack from top to bottom in the order of :data:`_BLOCKS`; the boxes of
    the other languages only when the poster prints them (``title_more`` with English
    or Chinese, ``check_en`` with English, ``check_zh`` with Chinese). The height left
    over is shared equally between the gaps between texts (the QR's quiet zone
    separates it from its neighbours), so every poster of a size and languages has the
    same places. With Chinese, the QR box is ``qr_zh`` (A5 and A4 give up the Chinese
    line's height; A6's QR is already at the 1.5 mm module floor and stays).
    """

    name: str
    width: float           # paper, portrait
    height: float
    margin_x: float        # left and right; text boxes span width - 2 * margin_x
    margin_top: float      # >= 5 mm: office printers leave ~4 mm unprinted at the edges
    margin_bottom: float
    qr: float              # side of the QR box, quiet zone included; module = qr / (modules + 8)
    callout_pad: float     # inner padding of the frame around the "check the name" lines
    callout_line: float    # its stroke
    callout_radius: float  # its corner radius
    title: Box
    title_more: Box        # the title in the other languages: "Scan to pay · 扫码付款"
    holder: Box            # the account holder, large
    bank: Box              # "Ngân hàng" + short name
    bank_name: Box         # full Vietnamese name
    account: Box           # "Số tài khoản" + grouped number
    check: Box             # "Kiểm tra tên người nhận ... : NAME" (padding included)
    check_en: Box
    check_zh: Box
    stall: Box             # "Sạp A12 · shop name"
    market: Box
    footer: Box            # print date and serial
    qr_zh: float = 0.0     # side of the QR box when Chinese lines print (0: the same as ``qr``)

    def qr_side(self, langs: tuple[str, ...]) -> float:
        return self.qr_zh if "zh" in langs and self.qr_zh else self.qr


#: Poster sizes (ISO 216, portrait). With the English boxes too, the boxes leave 5.5–7.5 mm
#: to share out as gaps, with English and Chinese 1.9–5.3 mm; ``tests/test_posters.py``
#: checks that every stack fits its page.
SIZES: dict[str, Geometry] = {
    "a6": Geometry(
        name="A6", width=105, height=148, margin_x=6, margin_top=5, margin_bottom=5,
        qr=68, callout_pad=1.0, callout_line=0.25, callout_radius=1.5,
        title=Box(7.0, 16, 11), title_more=Box(3.5, 8.5, 6.5),
        holder=Box(10.5, 24, 14, 2),
        bank=Box(4.6, 11, 8), bank_name=Box(3.7, 7, 5),
        account=Box(5.6, 16, 10),
        check=Box(8.0, 7.5, 5.5, 3), check_en=Box(5.0, 6.5, 5, 2), check_zh=Box(4.4, 7, 5.5, 2),
        stall=Box(9.0, 12, 8, 2), market=Box(4.0, 9, 6),
        footer=Box(2.8, 6, 5),
    ),
    "a5": Geometry(
        name="A5", width=148, height=210, margin_x=8, margin_top=7, margin_bottom=7,
        qr=100, callout_pad=1.4, callout_line=0.3, callout_radius=2.0,
        title=Box(10.0, 23, 15), title_more=Box(5.0, 12, 9),
        holder=Box(15.0, 34, 20, 2),
        bank=Box(7.0, 16, 11), bank_name=Box(5.0, 10, 7),
        account=Box(8.5, 22, 14),
        check=Box(11.0, 10.5, 7.5, 3), check_en=Box(7.0, 9, 7, 2), check_zh=Box(6.0, 10, 7.5, 2),
        stall=Box(12.5, 17, 11, 2), market=Box(5.5, 12, 8),
        footer=Box(4.0, 8, 6.5), qr_zh=95,
    ),
    "a4": Geometry(
        name="A4", width=210, height=297, margin_x=12, margin_top=10, margin_bottom=10,
        qr=140, callout_pad=2.0, callout_line=0.4, callout_radius=3.0,
        title=Box(14.0, 32, 21), title_more=Box(7.0, 17, 12),
        holder=Box(21.5, 48, 28, 2),
        bank=Box(10.0, 22, 15), bank_name=Box(7.4, 14, 10),
        account=Box(12.0, 30, 20),
        check=Box(16.0, 15, 11, 3), check_en=Box(10.0, 13, 10, 2), check_zh=Box(8.5, 14, 10, 2),
        stall=Box(18.0, 24, 16, 2), market=Box(8.0, 17, 12),
        footer=Box(5.6, 11, 9), qr_zh=134,
    ),
}

#: Sheet sizes for :func:`render_sheet_pdf` (width, height in mm, portrait).
SHEETS: dict[str, tuple[float, float]] = {"a3": (297, 420), "a4": (210, 297), "a5": (148, 210), "a6": (105, 148)}

#: Cut marks on sheets: stroke (mm), length of the marks at the sheet edge and the arm
#: of the crosses where cut lines meet (mm), and the least margin around the grid that
#: gets marks on the outer cuts (the ISO sizes tile each other exactly: no outer cut).
_CUT_LINE = 0.15
_CUT_EDGE = 8.0
_CUT_ARM = 4.0
_CUT_OUTER_MIN = 3.0

# Label text beside a value, as a fraction of the value's font size.
_LABEL_SCALE = 0.72
# Baseline-to-baseline distance of wrapped lines, in em, unless the marks need more.
_LEADING = 1.18
# Least clear space between the ink of two wrapped lines, in em.
_LINE_GAP = 0.06
# A space after full-width punctuation (Chinese lines), dropped when lines are joined.
_FULLWIDTH_SPACE = re.compile(r"([\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f]) ")
# Fonts sizes are chosen in steps of this many points.
_PT_STEP = 0.25

# --- labels --------------------------------------------------------------------------------------

#: The languages a poster can print, in the order they print: Vietnamese always, English
#: and Simplified Chinese on request (border and tourist markets).
LANGS = ("vi", "en", "zh")

#: Printed wording, Vietnamese first; English (``_en``) and Simplified Chinese (``_zh``)
#: lines only when asked for. A newline is where a line prefers to wrap if it must;
#: otherwise it prints as a space.
LABELS: dict[str, str] = {
    "title": "Quét mã để thanh toán",
    "title_en": "Scan to pay",
    "title_zh": "扫码付款",
    "check": "Kiểm tra tên người nhận trên ứng dụng phải là:\n{name}",
    "check_en": "Check that your app shows the recipient name:\n{name}",
    "check_zh": "请核对手机上显示的收款人姓名：\n{name}",
    "bank": "Ngân hàng",
    "ewallet": "Ví điện tử",
    "account": "Số tài khoản",
    "card": "Số thẻ",
    "ewallet_account": "Tài khoản ví",
    "merchant": "Mã điểm bán",
    "stall": "Sạp {code} · {shop}",
    "footer": "In ngày {date:%d/%m/%Y} · Mã poster {serial}",
}

# The stack, top to bottom: (block, weight, field reported when its text cannot fit).
_REGULAR, _BOLD, _ZH = "regular", "bold", "zh"
_BLOCKS: tuple[tuple[str, str, str], ...] = (
    ("title", _BOLD, "title"),
    ("title_more", _REGULAR, "title"),
    ("qr", "", "size"),
    ("holder", _BOLD, "holder_name"),
    ("bank", _BOLD, "bank_short_name"),
    ("bank_name", _REGULAR, "bank_name"),
    ("account", _BOLD, "account_number"),
    ("check", _REGULAR, "holder_name"),
    ("check_en", _REGULAR, "holder_name"),
    ("check_zh", _ZH, "holder_name"),
    ("stall", _BOLD, "shop_name"),
    ("market", _REGULAR, "market_name"),
    ("footer", _REGULAR, "serial"),
)
# Blocks printed only with one of these languages.
_BLOCK_LANGS = {"title_more": {"en", "zh"}, "check_en": {"en"}, "check_zh": {"zh"}}
_CALLOUT = ("check", "check_en", "check_zh")


def _callout_last(langs: tuple[str, ...]) -> str:
    return [b for b in _CALLOUT if b == "check" or b[-2:] in langs][-1]


def parse_langs(value: Any = None, *, english: bool = False) -> tuple[str, ...]:
    """The languages of a poster, in print order, Vietnamese always first.

    ``value`` is ``"vi,en,zh"`` (the CLI's ``--lang``), a sequence of codes, or ``None``
    (Vietnamese only); ``english=True`` adds English (the older ``english`` flag).

    >>> parse_langs("zh, vi"), parse_langs(None, english=True), parse_langs(["EN"])
    (('vi', 'zh'), ('vi', 'en'), ('vi', 'en'))
    """
    if value is None:
        codes: list[Any] = []
    elif isinstance(value, str):
        codes = [c.strip() for c in value.split(",") if c.strip()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        codes = list(value)
    else:
        codes = [value]
    wanted = {"vi", *(["en"] if english else [])}
    for code in codes:
        key = code.strip().lower() if isinstance(code, str) else None
        if key not in LANGS:
            raise ValidationError(f"lang: {code!r} is not a poster language; use vi, en, zh (e.g. vi,en,zh)",
                                  field="lang", value=value, limit="vi, en, zh")
        wanted.add(key)
    return tuple(lang for lang in LANGS if lang in wanted)


# --- the font -------------------------------------------------------------------------------------

#: The poster typeface and the PyPI package that ships it (SIL OFL 1.1).
FONT_FAMILY = "Be Vietnam Pro"
FONT_PACKAGE = "fontpkg_be_vietnam_pro"
_FONT_FILES = {_REGULAR: "BeVietnamPro-Regular.ttf", _BOLD: "BeVietnamPro-Bold.ttf"}
#: The Simplified Chinese lines' typeface (SIL OFL 1.1): Noto Sans SC, as Noto publishes its
#: Simplified Chinese subset (notofonts/noto-cjk ``Sans/SubsetOTF/SC``, 30,000+ characters
#: including Latin), shipped by the data-only PyPI package ``pylopdf-fonts-zh-cn``.
ZH_FONT_FAMILY = "Noto Sans SC"
ZH_FONT_PACKAGE = "pylopdf_fonts_zh_cn"
_ZH_FONT_FILE = "NotoSansSC-Regular.otf"
_FAMILIES = {_REGULAR: FONT_FAMILY, _BOLD: FONT_FAMILY, _ZH: ZH_FONT_FAMILY}
_FONT_EXITS = contextlib.ExitStack()
atexit.register(_FONT_EXITS.close)


@lru_cache(maxsize=None)
def font_path(weight: str = _REGULAR) -> Path:
    """The font file of ``"regular"`` or ``"bold"`` (Be Vietnam Pro, TTF) or ``"zh"``
    (Noto Sans SC, OpenType/CFF), from its font package.

    Raises :class:`~market40.exceptions.NotFound` when the font's package
    (``fontpkg-be-vietnam-pro``, ``pylopdf-fonts-zh-cn``) is not installed.
    """
    if weight == _ZH:
        try:
            ref = resources.files(ZH_FONT_PACKAGE) / _ZH_FONT_FILE
        except ModuleNotFoundError:
            raise NotFound(f"poster font: the package {ZH_FONT_PACKAGE.replace('_', '-')} (the {ZH_FONT_FAMILY} "
                           f"font for Chinese lines) is not installed; pip install pylopdf-fonts-zh-cn") from None
        return Path(_FONT_EXITS.enter_context(resources.as_file(ref)))
    try:
        ref = resources.files(FONT_PACKAGE) / "files" / _FONT_FILES[weight]
    except ModuleNotFoundError:
        raise NotFound(f"poster font: the package {FONT_PACKAGE.replace('_', '-')} (the {FONT_FAMILY} font) "
                       f"is not installed; pip install fontpkg-be-vietnam-pro") from None
    # A real file for fpdf2 and FreeType, even if the package were imported from a zip.
    return Path(_FONT_EXITS.enter_context(resources.as_file(ref)))


class _Metrics:
    """Advance widths and vertical ink bounds (in em) of every character of one font file.

    TrueType outlines (Be Vietnam Pro) are measured up front; CFF outlines (Noto Sans SC,
    30,000+ glyphs) on first use of each character."""

    def __init__(self, path: Path) -> None:
        # From memory: the CFF font stays open for lazy measuring, without holding a file.
        font = TTFont(io.BytesIO(path.read_bytes()), lazy=True)
        per_em = font["head"].unitsPerEm
        hmtx = font["hmtx"].metrics
        self.advance: dict[str, float] = {}
        self.top: dict[str, float] = {}
        self.bottom: dict[str, float] = {}
        self._per_em = per_em
        self._cmap = font.getBestCmap()
        if "glyf" not in font:
            self._glyphs: Any = font.getGlyphSet()
            self.advance = {chr(code): hmtx[name][0] / per_em for code, name in self._cmap.items()}
            return
        self._glyphs = None
        glyf = font["glyf"]
        for code, glyph_name in self._cmap.items():
            char = chr(code)
            glyph = glyf[glyph_name]
            self.advance[char] = hmtx[glyph_name][0] / per_em
            # Glyphs without contours (space) have no bounds.
            self.top[char] = getattr(glyph, "yMax", 0) / per_em
            self.bottom[char] = -getattr(glyph, "yMin", 0) / per_em
        font.close()

    def width(self, text: str) -> float:
        advance = self.advance
        return sum([advance[c] for c in text])

    def _measure(self, char: str) -> None:
        pen = BoundsPen(self._glyphs)
        self._glyphs[self._cmap[ord(char)]].draw(pen)
        _, y_min, _, y_max = pen.bounds or (0, 0, 0, 0)  # no contours (space): no bounds
        self.top[char], self.bottom[char] = y_max / self._per_em, -y_min / self._per_em

    def extent(self, text: str) -> tuple[float, float]:
        """Ink above and below the baseline, in em (at least 0)."""
        top, bottom = self.top, self.bottom
        if self._glyphs is not None:
            for char in text:
                if char not in top:
                    self._measure(char)
        return max([0.0] + [top[c] for c in text]), max([0.0] + [bottom[c] for c in text])

    def missing(self, text: str) -> str | None:
        for char in text:
            if char not in self.advance:
                return char
        return None


@lru_cache(maxsize=None)
def _metrics(weight: str) -> _Metrics:
    return _Metrics(font_path(weight))


# --- the data -------------------------------------------------------------------------------------

_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
_SERIAL = re.compile(r"[!-~]{1,24}")  # printable ASCII, no spaces


@dataclass(frozen=True)
class PosterData:
    """What one poster prints; the registry fills it. Checked when made.

    ``payload`` is a static VietQR transfer (tag 01 = 11); its account (or card) must be
    ``account_number``, and when its BIN is in the bank directory, ``bank_short_name``
    must name that bank: a poster whose print disagrees with its QR is what overlay
    fraud looks like, so it is refused. ``holder_name`` is upper-case ASCII, exactly as
    the bank has it. ``serial`` is the registry's short poster id (printable ASCII,
    no spaces, at most 24 characters).
    """

    payload: str
    holder_name: str
    bank_short_name: str
    bank_name: str
    account_number: str
    stall_code: str
    shop_name: str
    market_name: str
    serial: str
    printed_on: datetime.date
    is_card: bool = False
    is_ewallet: bool = False
    #: A bank-issued merchant QR (NAPAS QRPUSH), printed as issued: ``account_number`` is then the
    #: merchant id the acquirer issued, ``bank_short_name`` the acquirer, ``holder_name`` the
    #: merchant name the QR carries (what the payer's app shows).
    is_merchant: bool = False

    def __post_init__(self) -> None:
        errors: list[ValidationError] = []
        for name in ("holder_name", "bank_short_name", "bank_name", "stall_code", "shop_name", "market_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                errors.append(InvalidFormat(f"{name}: must be non-empty text, got {value!r}",
                                            field=name, value=value, limit="non-empty text"))
            elif unsafe_char(value) is not None or any(c in value for c in "\t\n\r"):
                errors.append(InvalidFormat(f"{name}: control characters cannot be printed, got {value!r}",
                                            field=name, value=value, limit="printable text"))
        name = self.holder_name
        if isinstance(name, str) and name.strip() and (not is_ans(name) or name != name.upper()
                                                       or name != name.strip()):
            errors.append(InvalidFormat(
                f"holder_name: must be upper-case ASCII exactly as the bank has it "
                f"(e.g. 'NGUYEN VAN AN'), got {name!r}", field="holder_name", value=name,
                limit="upper-case printable ASCII, no surrounding spaces"))
        account = self.account_number
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            errors.append(InvalidFormat(f"account_number: must be 1–19 letters or digits, no spaces, got {account!r}",
                                        field="account_number", value=account, limit="1–19 of [0-9A-Za-z]"))
        if not isinstance(self.serial, str) or not _SERIAL.fullmatch(self.serial):
            errors.append(InvalidFormat(f"serial: must be 1–24 printable ASCII characters without spaces, "
                                        f"got {self.serial!r}", field="serial", value=self.serial,
                                        limit="1–24 printable ASCII, no spaces"))
        if not isinstance(self.printed_on, datetime.date):
            errors.append(InvalidFormat(f"printed_on: must be a date, got {self.printed_on!r}",
                                        field="printed_on", value=self.printed_on, limit="datetime.date"))
        for flag in ("is_card", "is_ewallet", "is_merchant"):
            if not isinstance(getattr(self, flag), bool):
                errors.append(InvalidFormat(f"{flag}: must be True or False, got {getattr(self, flag)!r}",
                                            field=flag, value=getattr(self, flag), limit="bool"))
        if self.is_card is True and self.is_ewallet is True:
            errors.append(ValidationError("is_card, is_ewallet: a poster is for a card or an e-wallet, not both",
                                          field="is_ewallet", value=True, limit="at most one of is_card, is_ewallet"))
        errors.extend(self._check_payload())
        if errors:
            raise ValidationError.combine(errors)

    def _check_payload(self) -> list[ValidationError]:
        if self.is_merchant is True:
            return _merchant_checks(self)
        try:
            qr = vietqr.parse(self.payload)
        except ValidationError as error:
            return [InvalidFormat(f"payload: not a valid VietQR transfer ({error})",
                                  field="payload", value=self.payload, limit="a VietQR transfer payload")]
        if qr.payload != self.payload:
            return [InvalidFormat("payload: surrounding white space would be printed in the QR",
                                  field="payload", value=self.payload, limit="no surrounding white space")]
        errors: list[ValidationError] = []
        if qr.is_dynamic:
            errors.append(InvalidFormat(
                "payload: a poster needs a static VietQR (point of initiation 11, reusable); this one is "
                "dynamic (12, for one payment)", field="payload", value=self.payload, limit="static (tag 01 = 11)"))
        if isinstance(self.is_card, bool) and qr.is_card != self.is_card:
            errors.append(ValidationError(
                f"is_card: the QR pays into a {'card' if qr.is_card else 'bank account'} "
                f"(service {qr.service}), but is_card={self.is_card}",
                field="is_card", value=self.is_card, limit=f"is_card={qr.is_card} for service {qr.service}"))
        if qr.account != self.account_number:
            errors.append(ValidationError(
                f"account_number: {self.account_number!r} is not the account in the QR ({qr.account!r}); "
                f"the poster must print the account the QR pays into",
                field="account_number", value=self.account_number, limit=f"{qr.account!r} (from the payload)"))
        bank = banks.by_bin(qr.bin)
        if bank is not None and isinstance(self.bank_short_name, str):
            known = {bank.short_name, bank.code, *bank.aliases}
            if self.bank_short_name.strip().casefold() not in {k.casefold() for k in known}:
                errors.append(InvalidComponent(
                    f"bank_short_name: {self.bank_short_name!r} is not the bank of the QR's BIN {qr.bin} "
                    f"({bank.short_name}); the poster must name the bank the QR pays into",
                    field="bank_short_name", value=self.bank_short_name,
                    limit=f"{bank.short_name} (BIN {qr.bin})", suggestions=[bank.short_name]))
        return errors


def _merchant_checks(self: "PosterData") -> list[ValidationError]:
    """A merchant poster's QR: a static NAPAS QRPUSH code without amount, whose merchant id,
    acquirer and merchant name are what the poster prints."""
    try:
        vietqr.parse(self.payload)
    except NotVietQR as error:
        other = error.parsed
    except ValidationError as error:
        return [InvalidFormat(f"payload: not a valid merchant QR ({error})", field="payload", value=self.payload,
                              limit="a NAPAS QRPUSH merchant payload")]
    else:
        other = None
    if other is None or not other.is_napas_merchant:
        return [InvalidFormat("payload: is_merchant needs a NAPAS merchant QR (service QRPUSH)", field="payload",
                              value=self.payload, limit="a NAPAS QRPUSH merchant payload")]
    errors: list[ValidationError] = []
    if other.crc_ok is False:
        errors.append(InvalidFormat("payload: the merchant QR's CRC does not match", field="payload",
                                    value=self.payload, limit="a valid CRC"))
    if other.initiation != "static" or other.amount_text:
        errors.append(InvalidFormat("payload: a poster needs a static merchant QR without an amount",
                                    field="payload", value=self.payload, limit="static (tag 01 = 11), no amount"))
    if self.payload != self.payload.strip():
        errors.append(InvalidFormat("payload: surrounding white space would be printed in the QR",
                                    field="payload", value=self.payload, limit="no surrounding white space"))
    if other.merchant_id != self.account_number:
        errors.append(ValidationError(
            f"account_number: {self.account_number!r} is not the merchant id in the QR ({other.merchant_id!r})",
            field="account_number", value=self.account_number, limit=f"{other.merchant_id!r} (from the payload)"))
    if other.merchant_name and emv_text(other.merchant_name) != self.holder_name:
        errors.append(ValidationError(
            f"holder_name: {self.holder_name!r} is not the merchant name in the QR ({other.merchant_name!r}); the "
            f"poster must print the name the payer's app shows", field="holder_name", value=self.holder_name,
            limit=f"{other.merchant_name!r} (from the payload)"))
    bank = banks.by_bin(other.bin or "")
    if bank is not None and isinstance(self.bank_short_name, str):
        known = {bank.short_name, bank.code, *bank.aliases}
        if self.bank_short_name.strip().casefold() not in {k.casefold() for k in known}:
            errors.append(InvalidComponent(
                f"bank_short_name: {self.bank_short_name!r} is not the acquirer of the merchant QR ({bank.short_name})",
                field="bank_short_name", value=self.bank_short_name, limit=f"{bank.short_name} (BIN {other.bin})",
                suggestions=[bank.short_name]))
    return errors


def group_account(number: str) -> str:
    """``number`` grouped for reading aloud, no lone character (:func:`market40.accounts.group`).

    >>> group_account("0011012345678")
    '0011 012 345 678'
    """
    return accounts.group(number)


# --- layout ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Text:
    """One run of text on the poster. Lengths in mm from the poster's top left corner;
    ``x`` is the start of the run on its baseline ``y``; ``top`` and ``bottom`` bound
    its ink, ``width`` its advance; ``font`` says which face sets it."""

    block: str
    text: str
    bold: bool
    pt: float
    x: float
    y: float
    width: float
    top: float
    bottom: float
    font: str = _REGULAR  # "regular", "bold" (Be Vietnam Pro) or "zh" (Noto Sans SC)


@dataclass(frozen=True)
class Frame:
    """A stroked rounded rectangle (mm): the frame around the "check the name" lines."""

    x: float
    y: float
    width: float
    height: float
    radius: float
    line: float


@dataclass(frozen=True)
class Layout:
    """A poster placed on its page: every length in millimetres from the top left.

    ``qr_x``, ``qr_y``, ``qr_side`` are the QR box with its quiet zone; the symbol
    (``modules`` wide, version ``version``) starts ``QUIET_ZONE`` modules inside it.
    ``rects`` are the dark areas of the symbol as ``(column, row, width, height)``
    in modules.
    """

    size: str
    width: float
    height: float
    qr_x: float
    qr_y: float
    qr_side: float
    module_mm: float
    modules: int
    version: int
    rects: tuple[tuple[int, int, int, int], ...]
    texts: tuple[Text, ...]
    frames: tuple[Frame, ...]
    boxes: dict[str, tuple[float, float]] = field(repr=False)  # block -> (top, height) in mm
    path: str = field(default="", repr=False)  # ``rects`` as PDF path operators, in modules

    @property
    def symbol_x(self) -> float:
        """Left edge of the symbol itself (inside the quiet zone), mm."""
        return self.qr_x + QUIET_ZONE * self.module_mm

    @property
    def symbol_y(self) -> float:
        return self.qr_y + QUIET_ZONE * self.module_mm


class _Symbol(NamedTuple):
    version: int
    modules: int
    rects: tuple[tuple[int, int, int, int], ...]
    path: str  # the dark modules as one PDF path, in modules, y down (see _draw)


_DARK_RUN = re.compile(rb"\x01+")


def _symbol(payload: str) -> _Symbol:
    """The QR symbol of ``payload`` (ECC M or higher, the smallest version) as rectangles of dark modules.

    The matrix comes from :func:`market40.qrimage.matrix` (zxing-cpp's C++ writer when it
    gives the optimal version, else segno). Runs of dark modules in a row are one
    rectangle; a run that starts and ends where the one above does extends that
    rectangle downwards (finder patterns, timing columns...). The PDF draws them all as
    subpaths of ONE path filled once: no per-rectangle drawing calls, no hairline seams
    between touching rectangles in a viewer.
    """
    symbol = qrimage.matrix(payload, error=ERROR_LEVEL)
    rects: list[list[int]] = []
    above: dict[tuple[int, int], list[int]] = {}
    for y, row in enumerate(symbol.rows):
        here: dict[tuple[int, int], list[int]] = {}
        for match in _DARK_RUN.finditer(row):
            key = match.span()
            rect = above.get(key)
            if rect is None:
                rect = [key[0], y, key[1] - key[0], 1]
                rects.append(rect)
            else:
                rect[3] += 1
            here[key] = rect
        above = here
    path = " ".join([f"{x} {y} {w} {h} re" for x, y, w, h in rects])
    return _Symbol(symbol.version, symbol.size, tuple(tuple(r) for r in rects), path)  # type: ignore[misc]


def _check_size(size: Any, table: dict[str, Any], name: str) -> str:
    key = size.lower() if isinstance(size, str) else None
    if key not in table:
        choices = ", ".join(table)
        raise ValidationError(f"{name}: {size!r} is not a supported paper size; use one of {choices}",
                              field=name, value=size, limit=f"one of {choices}")
    return key


def _nfc(text: str) -> str:
    # NFC: decomposed input (some Mac and web forms) uses the font's precomposed letters.
    return " ".join(unicodedata.normalize("NFC", text).split())


def _floor_pt(value: float) -> float:
    return math.floor(value / _PT_STEP + 1e-9) * _PT_STEP


Runs = Tuple[Tuple[str, str, float], ...]  # (text, weight, size as a share of the block's)


class _Fitted(NamedTuple):
    lines: list[list[tuple[str, str, float]]]  # per line: (text, weight, scale of the size)
    pt: float
    height: float  # mm, ink of the whole block


def _line_metrics(runs: Sequence[tuple[str, str, float]], gap: float) -> tuple[float, float, float]:
    """Width, ink above and ink below the baseline of one line of runs, in em of its size."""
    width = up = down = 0.0
    for i, (text, weight, scale) in enumerate(runs):
        metrics = _metrics(weight)
        width += metrics.width(text) * scale + (gap if i else 0.0)
        top, bottom = metrics.extent(text)
        up, down = max(up, top * scale), max(down, bottom * scale)
    return width, up, down


def _stack(extents: Sequence[tuple[float, float]]) -> tuple[float, list[float]]:
    """Height (em) of lines stacked with their ink clear of each other, and each baseline (em)."""
    baselines = [extents[0][0]]
    for (_, down), (up, _) in zip(extents, extents[1:]):
        baselines.append(baselines[-1] + max(_LEADING, down + up + _LINE_GAP))
    return baselines[-1] + extents[-1][1], baselines


def _partition(words: list[str], weight: str, n: int) -> list[str]:
    """``words`` in ``n`` lines so the widest line is as narrow as possible."""
    metrics = _metrics(weight)
    width = metrics.width
    space = metrics.advance[" "]
    count = len(words)
    widths = [width(w) for w in words]

    @lru_cache(maxsize=None)
    def best(start: int, lines: int) -> tuple[float, tuple[int, ...]]:
        if lines == 1:
            return sum(widths[start:]) + space * (count - start - 1), ()
        result: tuple[float, tuple[int, ...]] = (math.inf, ())
        line = -space
        for end in range(start + 1, count - lines + 2):
            line += widths[end - 1] + space
            if line >= result[0]:
                break
            rest, cuts = best(end, lines - 1)
            candidate = (max(line, rest), (end,) + cuts)
            if candidate[0] < result[0]:
                result = candidate
        return result

    cuts = (0,) + best(0, n)[1] + (count,)
    return [" ".join(words[a:b]) for a, b in zip(cuts, cuts[1:])]


def _fit(block: str, field_name: str, value: Any, geometry: Geometry, box: Box, width: float, height: float,
         text: str | None = None, weight: str = _REGULAR, runs: Runs | None = None) -> _Fitted:
    """The largest size (and fewest lines) at which a text fits its box, or a ValidationError.

    Shrink first, then wrap: one line from ``box.max_pt`` down to ``box.min_pt``; then
    two lines from the largest size again, and so on up to ``box.lines``. ``runs``
    (label + value) never wrap.
    """
    if runs is None:
        assert text is not None
        # A newline marks the preferred place to wrap (before the name in "check the
        # name" lines): tried before any other way of cutting the text in two.
        segments = [" ".join(part.split()) for part in text.split("\n")]
        words = " ".join(segments).split()
        splits = [_partition(words, weight, n) for n in range(1, min(box.lines, len(words)) + 1)]
        if len(segments) == 2 and box.lines >= 2:
            splits.insert(1, segments)
        # Full-width punctuation carries its own space: none after it ("姓名：NGUYEN").
        candidates = [[[(_FULLWIDTH_SPACE.sub(r"\1", line), weight, 1.0)] for line in split] for split in splits]
    else:
        candidates = [[list(runs)]]
    gap = _metrics(_REGULAR).advance[" "]
    for lines in candidates:
        measured = [_line_metrics(line, gap) for line in lines]
        widest = max(m[0] for m in measured)
        ink, _ = _stack([(m[1], m[2]) for m in measured])
        pt = _floor_pt(min(box.max_pt, width / (widest * _PT), height / (ink * _PT)))
        if pt >= box.min_pt:
            return _Fitted(lines, pt, ink * pt * _PT)
    shown = " ".join(text.split()) if text is not None else " ".join(r[0] for r in runs or ())
    raise InvalidLength(
        f"{field_name}: {shown!r} does not fit the {block.replace('_', ' ')} line of an {geometry.name} poster, "
        f"even on {len(candidates[-1])} line{'s' if len(candidates[-1]) > 1 else ''} at the smallest size "
        f"({box.min_pt:g} pt, {width:.0f} mm wide); shorten it or print a larger size",
        field=field_name, value=value,
        limit=f"{box.lines} line{'s' if box.lines > 1 else ''} of {width:.0f} mm at >= {box.min_pt:g} pt "
              f"on {geometry.name}")


def _texts(data: PosterData, langs: tuple[str, ...]) -> dict[str, tuple[str | None, Runs | None, Any]]:
    """Each text block's content: (wrapping text, or label + value runs, the value reported on error)."""
    name = data.holder_name
    kind = "ewallet" if data.is_ewallet else "bank"
    account_label = "merchant" if data.is_merchant else "card" if data.is_card else \
        "ewallet_account" if data.is_ewallet else "account"
    content: dict[str, tuple[str | None, Runs | None, Any]] = {
        "title": (LABELS["title"].upper(), None, None),
        "holder": (name, None, name),
        "bank": (None, ((LABELS[kind], _REGULAR, _LABEL_SCALE), (_nfc(data.bank_short_name), _BOLD, 1.0)),
                 data.bank_short_name),
        "bank_name": (_nfc(data.bank_name), None, data.bank_name),
        "account": (None, ((LABELS[account_label], _REGULAR, _LABEL_SCALE),
                           (data.account_number if data.is_merchant else group_account(data.account_number),
                            _BOLD, 1.0)), data.account_number),
        "check": (LABELS["check"].format(name=name), None, name),
        "stall": (LABELS["stall"].format(code=_nfc(data.stall_code), shop=_nfc(data.shop_name)), None,
                  data.shop_name),
        "market": (_nfc(data.market_name), None, data.market_name),
        "footer": (LABELS["footer"].format(date=data.printed_on, serial=data.serial), None, data.serial),
    }
    # The title in the other languages is one line: "Scan to pay · 扫码付款".
    more: list[tuple[str, str, float]] = []
    if "en" in langs:
        more.append((LABELS["title_en"] + (" ·" if "zh" in langs else ""), _REGULAR, 1.0))
        content["check_en"] = (LABELS["check_en"].format(name=name), None, name)
    if "zh" in langs:
        more.append((LABELS["title_zh"], _ZH, 1.0))
        content["check_zh"] = (LABELS["check_zh"].format(name=name), None, name)
    if more:
        content["title_more"] = (None, tuple(more), None)
    return content


class _Slot(NamedTuple):
    """Where a block goes on the page (mm): its box, and the area its text may fill."""

    block: str
    weight: str
    field: str
    top: float
    height: float
    text_width: float
    text_height: float
    text_centre_y: float


@lru_cache(maxsize=None)
def _slots(geometry: Geometry, langs: tuple[str, ...]) -> tuple[tuple[_Slot, ...], tuple[Frame, ...]]:
    """The stack of blocks of one size and languages: the same for every poster of them."""
    inner = geometry.width - 2 * geometry.margin_x
    blocks = [(b, w, f) for b, w, f in _BLOCKS if b not in _BLOCK_LANGS or _BLOCK_LANGS[b] & set(langs)]
    heights = [geometry.qr_side(langs) if b == "qr" else getattr(geometry, b).height for b, _, _ in blocks]
    slack = geometry.height - geometry.margin_top - geometry.margin_bottom - sum(heights)
    if slack < 0:  # a wrong SIZES row, never the data
        raise AssertionError(f"SIZES[{geometry.name!r}]: boxes are {-slack:.1f} mm taller than the page")
    # The QR's quiet zone already separates it from its neighbours: the spare height
    # goes into the gaps between texts.
    spaced = [i for i in range(1, len(blocks)) if "qr" not in (blocks[i - 1][0], blocks[i][0])]
    slots: list[_Slot] = []
    top = geometry.margin_top
    for index, ((block, weight, field_name), height) in enumerate(zip(blocks, heights)):
        if index in spaced:
            top += slack / len(spaced)
        # The frame around the "check the name" lines is padded inside at its sides,
        # its top (the first line) and its bottom (the last).
        pad = geometry.callout_pad if block in _CALLOUT else 0.0
        pad_top = pad if block == "check" else 0.0
        pad_bottom = pad if block == _callout_last(langs) else 0.0
        text_height = height - pad_top - pad_bottom
        slots.append(_Slot(block, weight, field_name, top, height, inner - 2 * pad, text_height,
                           top + pad_top + text_height / 2))
        top += height
    by_block = {slot.block: slot for slot in slots}
    first, last = by_block["check"], by_block[_callout_last(langs)]
    frame = Frame(geometry.margin_x, first.top, inner, last.top + last.height - first.top,
                  geometry.callout_radius, geometry.callout_line)
    return tuple(slots), (frame,)


@lru_cache(maxsize=4096)
def _block_texts(slot: _Slot, geometry: Geometry, text: str | None, runs: Runs | None,
                 value: Any) -> tuple[Text, ...]:
    """A block's text fitted into its slot and placed (cached: most blocks repeat across a market)."""
    fitted = _fit(slot.block, slot.field, value, geometry, getattr(geometry, slot.block), slot.text_width,
                  slot.text_height, text=text, weight=slot.weight, runs=runs)
    return tuple(_place(slot.block, fitted, geometry.width / 2, slot.text_centre_y))


def layout(data: PosterData, *, size: str = "a6", english: bool = False, langs: Any = None) -> Layout:
    """Place every element of ``data``'s poster on a page of ``size`` (``"a6"``, ``"a5"``, ``"a4"``).

    ``langs`` are the poster's languages (:func:`parse_langs`: ``"vi,en,zh"`` or a
    sequence; Vietnamese always prints); ``english=True`` is the same as ``langs="vi,en"``.

    Raises :class:`~market40.exceptions.ValidationError` naming the field when a text
    cannot fit (``holder_name``, ``shop_name``...), when the font has no glyph for a
    character, or (field ``size``) when the QR would get modules smaller than
    :data:`MIN_MODULE_MM` on this size.
    """
    key = _check_size(size, SIZES, "size")
    if not isinstance(data, PosterData):
        raise InvalidFormat(f"data: expected PosterData, got {type(data).__name__}",
                            field="data", value=data, limit="PosterData")
    return _layout(data, SIZES[key], parse_langs(langs, english=english), _symbol(data.payload))


def _layout(data: PosterData, geometry: Geometry, langs: tuple[str, ...], symbol: _Symbol) -> Layout:
    qr_side = geometry.qr_side(langs)
    module = qr_side / (symbol.modules + 2 * QUIET_ZONE)
    if module < MIN_MODULE_MM:
        raise InvalidLength(
            f"size: the QR code (version {symbol.version}, {symbol.modules} modules + 2 x {QUIET_ZONE} quiet zone) "
            f"gets {module:.2f} mm modules in the {qr_side:g} mm box of an {geometry.name} poster, below the "
            f"{MIN_MODULE_MM} mm minimum; print a larger size or shorten the payload",
            field="size", value=geometry.name.lower(),
            limit=f"modules >= {MIN_MODULE_MM} mm (at most {int(qr_side / MIN_MODULE_MM) - 2 * QUIET_ZONE} "
                  f"modules on {geometry.name})")
    content = _texts(data, langs)
    slots, frames = _slots(geometry, langs)
    texts: list[Text] = []
    qr_top = 0.0
    for slot in slots:
        if slot.block == "qr":
            qr_top = slot.top
            continue
        text, runs, value = content[slot.block]
        for piece, weight in ([(text, slot.weight)] if text is not None else [(r[0], r[1]) for r in runs or ()]):
            missing = _metrics(weight).missing(piece.replace("\n", " "))
            if missing is not None:
                where = slot.field
                if slot.block == "stall":
                    where = "stall_code" if missing in _nfc(data.stall_code) else "shop_name"
                family = _FAMILIES[weight]
                raise InvalidFormat(
                    f"{where}: the character {missing!r} (U+{ord(missing):04X}) is not in the poster font "
                    f"{family}; it cannot be printed", field=where, value=getattr(data, where, value),
                    limit=f"characters of the {family} font "
                          f"({'Simplified Chinese and Latin' if weight == _ZH else 'Latin and Vietnamese'})")
        texts.extend(_block_texts(slot, geometry, text, runs, value))
    return Layout(
        size=geometry.name.lower(), width=geometry.width, height=geometry.height,
        qr_x=(geometry.width - qr_side) / 2, qr_y=qr_top, qr_side=qr_side, module_mm=module,
        modules=symbol.modules, version=symbol.version, rects=symbol.rects, path=symbol.path,
        texts=tuple(texts), frames=frames, boxes={slot.block: (slot.top, slot.height) for slot in slots})


def _place(block: str, fitted: _Fitted, centre_x: float, centre_y: float) -> Iterator[Text]:
    """The runs of a fitted block, each line centred, the block's ink centred on ``centre_y``."""
    scale_mm = fitted.pt * _PT
    gap = _metrics(_REGULAR).advance[" "]
    measured = [_line_metrics(line, gap) for line in fitted.lines]
    ink, baselines = _stack([(m[1], m[2]) for m in measured])
    top = centre_y - ink * scale_mm / 2
    for line, (width, _, _), baseline in zip(fitted.lines, measured, baselines):
        x = centre_x - width * scale_mm / 2
        y = top + baseline * scale_mm
        for i, (text, weight, scale) in enumerate(line):
            if i:
                x += gap * scale_mm
            metrics = _metrics(weight)
            up, down = metrics.extent(text)
            run_width = metrics.width(text) * scale * scale_mm
            pt = fitted.pt * scale
            yield Text(block, text, weight == _BOLD, pt, x, y, run_width,
                       y - up * pt * _PT, y + down * pt * _PT, weight)
            x += run_width


# --- PNG ----------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def _pil_font(font: str, size_px: float) -> ImageFont.FreeTypeFont:
    # BASIC layout: advance widths straight from the font, like fpdf2 and the layout above.
    return ImageFont.truetype(str(font_path(font)), size_px, layout_engine=ImageFont.Layout.BASIC)


def _check_dpi(dpi: Any) -> int:
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 72 <= dpi <= 1200:
        raise ValidationError(f"dpi: {dpi!r} is not a whole number of dots per inch from 72 to 1200",
                              field="dpi", value=dpi, limit="72–1200")
    return dpi


def _to_image(plan: Layout, dpi: int) -> Image.Image:
    px = dpi / 25.4
    image = Image.new("L", (round(plan.width * px), round(plan.height * px)), 255)
    draw = ImageDraw.Draw(image)
    # The symbol at one pixel a module, scaled up with hard edges.
    n = plan.modules
    matrix = Image.new("L", (n, n), 255)
    matrix_draw = ImageDraw.Draw(matrix)
    for x, y, w, h in plan.rects:
        matrix_draw.rectangle((x, y, x + w - 1, y + h - 1), fill=0)
    left, top = round(plan.symbol_x * px), round(plan.symbol_y * px)
    side = round((plan.symbol_x + n * plan.module_mm) * px) - left
    image.paste(matrix.resize((side, side), Image.Resampling.NEAREST), (left, top))
    for frame in plan.frames:
        draw.rounded_rectangle(
            (round(frame.x * px), round(frame.y * px),
             round((frame.x + frame.width) * px), round((frame.y + frame.height) * px)),
            radius=round(frame.radius * px), outline=0, width=max(1, round(frame.line * px)))
    for text in plan.texts:
        # FreeType hints each glyph's advance to whole pixels, which can make a line up
        # to ~2 % wider than the font's own widths (what the layout and the PDF use):
        # scale the size so the run takes its planned width, and centre it there.
        planned = text.width * px
        size = round(text.pt * dpi / 72, 2)
        font = _pil_font(text.font, size)
        drawn = font.getlength(text.text)
        if drawn and abs(drawn - planned) > 0.5:
            font = _pil_font(text.font, round(size * planned / drawn, 2))
            drawn = font.getlength(text.text)
        draw.text((text.x * px + (planned - drawn) / 2, text.y * px), text.text, fill=0, anchor="ls", font=font)
    return image


def render_png(data: PosterData, out: PathOrFile, *, size: str = "a6", dpi: int = 300,
               english: bool = False, langs: Any = None) -> None:
    """Write ``data``'s poster as a greyscale PNG of ``size`` at ``dpi`` (recorded in the file).

    ``out`` is a path or a binary file object; ``langs`` as for :func:`layout`.
    """
    dpi = _check_dpi(dpi)
    plan = layout(data, size=size, english=english, langs=langs)
    _to_image(plan, dpi).save(out, format="PNG", dpi=(dpi, dpi), compress_level=3)


# --- PDF ----------------------------------------------------------------------------------------

_FAMILY = "bevietnampro"
_ZH_FAMILY = "notosanssc"


@contextlib.contextmanager
def _document(title: str, width: float, height: float, langs: tuple[str, ...] = ("vi",)) -> Iterator[FPDF]:
    """A new PDF in mm with the poster fonts (Noto Sans SC only with Chinese lines); their files
    are closed even when drawing fails (fpdf2 closes them itself only once it has written the document)."""
    pdf = _new_pdf(title, width, height)
    if "zh" in langs:
        pdf.add_font(_ZH_FAMILY, "", font_path(_ZH))
    try:
        yield pdf
    finally:
        for font in pdf.fonts.values():
            close = getattr(font, "close", None)
            if close is not None:
                close()


def _new_pdf(title: str, width: float, height: float) -> FPDF:
    pdf = FPDF(unit="mm", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.add_font(_FAMILY, "", font_path(_REGULAR))
    pdf.add_font(_FAMILY, "B", font_path(_BOLD))
    pdf.set_title(title)
    pdf.set_creator("market40")
    pdf.set_lang("vi")
    pdf.set_fill_color(0)
    pdf.set_draw_color(0)
    return pdf


def _draw(pdf: FPDF, plan: Layout, dx: float = 0.0, dy: float = 0.0) -> None:
    """Draw a poster with its top left corner at (``dx``, ``dy``) mm on the current page."""
    # The QR: one path in module units, placed by a transformation matrix that scales a
    # module to its size in points and turns y downwards (fpdf2 has no public call for
    # a path given as operators; rect() per rectangle cost 18 % of a sheet).
    k = pdf.k
    scale = plan.module_mm * k
    pdf._out(f"q {scale:.5f} 0 0 {-scale:.5f} {(plan.symbol_x + dx) * k:.4f} "
             f"{(pdf.h - plan.symbol_y - dy) * k:.4f} cm {plan.path} f Q")
    for frame in plan.frames:
        pdf.set_line_width(frame.line)
        pdf.rect(frame.x + dx, frame.y + dy, frame.width, frame.height, style=RenderStyle.D,
                 round_corners=True, corner_radius=frame.radius)
    for text in plan.texts:
        if text.font == _ZH:
            pdf.set_font(_ZH_FAMILY, "", text.pt)
        else:
            pdf.set_font(_FAMILY, "B" if text.bold else "", text.pt)
        pdf.text(text.x + dx, text.y + dy, text.text)


def _write(out: PathOrFile, data: bytes | bytearray) -> None:
    if hasattr(out, "write"):
        out.write(data)  # type: ignore[union-attr]
    else:
        with open(out, "wb") as file:  # type: ignore[arg-type]
            file.write(data)


def render_pdf(data: PosterData, out: PathOrFile, *, size: str = "a6", english: bool = False,
               langs: Any = None) -> None:
    """Write ``data``'s poster as a one-page vector PDF of ``size``; ``out`` is a path or a binary file.

    ``langs`` as for :func:`layout`; the fonts are embedded as subsets of the characters used.
    """
    languages = parse_langs(langs, english=english)
    plan = layout(data, size=size, langs=languages)
    with _document(f"Poster {data.serial}", plan.width, plan.height, languages) as pdf:
        pdf.add_page()
        _draw(pdf, plan)
        document = pdf.output()
    _write(out, document)


class _Grid(NamedTuple):
    width: float   # sheet as printed (landscape when that holds more posters)
    height: float
    columns: int
    rows: int
    left: float    # top left corner of the grid of posters
    top: float


def _grid(size: str, sheet: str) -> _Grid:
    poster = SIZES[size]
    best: _Grid | None = None
    sheet_w, sheet_h = SHEETS[sheet]
    # Portrait first: on a tie the sheet stays portrait.
    for width, height in ((sheet_w, sheet_h), (sheet_h, sheet_w)):
        columns, rows = int(width // poster.width), int(height // poster.height)
        if columns * rows and (best is None or columns * rows > best.columns * best.rows):
            best = _Grid(width, height, columns, rows,
                         (width - columns * poster.width) / 2, (height - rows * poster.height) / 2)
    if best is None:
        raise ValidationError(f"sheet: an {poster.name} poster does not fit on a {sheet.upper()} sheet",
                              field="sheet", value=sheet, limit=f"a sheet at least {poster.name}")
    return best


def per_sheet(size: str = "a6", sheet: str = "a4") -> int:
    """How many posters of ``size`` :func:`render_sheet_pdf` puts on one ``sheet``."""
    grid = _grid(_check_size(size, SIZES, "size"), _check_size(sheet, SHEETS, "sheet"))
    return grid.columns * grid.rows


def _cut_marks(pdf: FPDF, grid: _Grid, poster: Geometry) -> None:
    """Marks on the cut lines: short strokes from the sheet edges and crosses where two
    cuts meet. They lie on the cuts themselves, so nothing of them stays on a poster.
    The grid's outer edges are cuts only when it leaves a margin worth cutting off
    (the ISO sizes tile each other exactly, so usually the sheet edge is the cut)."""
    pdf.set_line_width(_CUT_LINE)
    xs = [grid.left + i * poster.width for i in range(grid.columns + 1)]
    ys = [grid.top + j * poster.height for j in range(grid.rows + 1)]
    cuts_x = xs[1:-1] + (xs[::len(xs) - 1] if grid.left >= _CUT_OUTER_MIN else [])
    cuts_y = ys[1:-1] + (ys[::len(ys) - 1] if grid.top >= _CUT_OUTER_MIN else [])
    for x in cuts_x:
        pdf.line(x, 0, x, _CUT_EDGE)
        pdf.line(x, grid.height - _CUT_EDGE, x, grid.height)
    for y in cuts_y:
        pdf.line(0, y, _CUT_EDGE, y)
        pdf.line(grid.width - _CUT_EDGE, y, grid.width, y)
    for x in cuts_x:
        for y in cuts_y:
            pdf.line(x - _CUT_ARM, y, x + _CUT_ARM, y)
            pdf.line(x, y - _CUT_ARM, x, y + _CUT_ARM)


# Posters handed to the pool at a time; two batches run ahead of the drawing.
_BATCH = 48


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError(f"workers: {workers!r} is not a whole number of processes >= 1",
                              field="workers", value=workers, limit=">= 1")
    return workers


def _checked(items: Iterable[Any]) -> Iterator[PosterData]:
    for data in items:
        if not isinstance(data, PosterData):
            raise InvalidFormat(f"items: expected PosterData, got {type(data).__name__}",
                                field="items", value=data, limit="PosterData")
        yield data


def _with_symbols(items: Iterable[Any], workers: int) -> Iterator[tuple[PosterData, _Symbol]]:
    """Each poster with its QR symbol, in order; symbols made by ``workers`` processes.

    Each code is independent: a pool of "spawn" processes (safe in threaded servers)
    builds batches ahead while this process lays out and draws. With zxing-cpp's writer
    a symbol costs well under a millisecond, so this pays only for very large markets
    (or payloads that fall back to segno) on an otherwise idle machine.
    """
    if workers == 1:
        for data in _checked(items):
            yield data, _symbol(data.payload)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending: collections.deque[tuple[list[PosterData], Iterator[_Symbol]]] = collections.deque()
        batch: list[PosterData] = []
        for data in itertools.chain(_checked(items), [None]):
            if data is not None:
                batch.append(data)
                if len(batch) < _BATCH:
                    continue
            if batch:
                pending.append((batch, pool.map(_symbol, [d.payload for d in batch],
                                                chunksize=max(1, len(batch) // (2 * workers)))))
                batch = []
            while pending and (len(pending) > 2 or data is None):
                done_batch, symbols = pending.popleft()
                yield from zip(done_batch, symbols)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def render_sheet_pdf(items: Iterable[PosterData], out: PathOrFile, *, size: str = "a6", sheet: str = "a4",
                     english: bool = False, progress: Progress | None = None,
                     workers: int = 1, langs: Any = None) -> None:
    """Write many posters, in the order given, as one vector PDF of ``sheet`` pages.

    Each page holds as many posters of ``size`` as fit (the sheet turns landscape when
    that holds more: A6 on A4 gives 4, A5 on A4 gives 2), with cut marks between them.
    ``progress(done, total)`` is called after each poster; ``total`` is ``None`` when
    ``items`` has no length. A poster that cannot be laid out stops the run with its
    :class:`~market40.exceptions.ValidationError`, the message saying which poster.

    ``langs`` as for :func:`layout`, the same for every poster of the sheet.

    ``workers`` > 1 builds the QR codes in that many processes (worth it for large
    markets on an otherwise idle machine; zxing-cpp makes a symbol in well under a
    millisecond, so one process is usually enough). They
    are started with "spawn", so the calling program's main module needs the usual
    ``if __name__ == "__main__":`` guard, as with any :mod:`multiprocessing` pool.
    """
    key = _check_size(size, SIZES, "size")
    grid = _grid(key, _check_size(sheet, SHEETS, "sheet"))
    geometry = SIZES[key]
    total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    workers = _check_workers(workers)
    languages = parse_langs(langs, english=english)
    per_page = grid.columns * grid.rows
    done = 0
    with _document(f"Posters {geometry.name} on {sheet.upper()}", grid.width, grid.height, languages) as pdf:
        for data, symbol in _with_symbols(items, workers):
            try:
                plan = _layout(data, geometry, languages, symbol)
            except ValidationError as error:
                raise ValidationError(f"poster {done + 1} (serial {data.serial}): {error}", field=error.field,
                                      value=error.value, limit=error.limit) from None
            cell = done % per_page
            if cell == 0:
                pdf.add_page()
                if per_page > 1:
                    _cut_marks(pdf, grid, geometry)
            _draw(pdf, plan, grid.left + (cell % grid.columns) * geometry.width,
                  grid.top + (cell // grid.columns) * geometry.height)
            done += 1
            if progress is not None:
                progress(done, total)
        if not done:
            raise ValidationError("items: no posters to print", field="items", value=items,
                                  limit="at least one poster")
        document = pdf.output()
    _write(out, document)
