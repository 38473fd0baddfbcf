"""Read and write tables (CSV and XLSX) the way market boards send them.

Bank staff onboard whole markets from the market board's spreadsheet (issue #3).
This adapter turns such a file into rows of text keyed by canonical column
names, and writes the files people get back: a rejects file and an import template.

Reading (:func:`read_table`) streams. Every cell comes out as stripped text, and
each row keeps the number Excel shows beside it (the header is row 1):

>>> import io
>>> data = "Mã sạp;  TÊN CHỦ HỘ ;Số điện thoại\\nA12;Nguyễn Thị Lan;0912345678\\n".encode()
>>> with read_table(io.BytesIO(data), kind="csv", schema="stalls") as table:
...     rows = list(table)
>>> table.columns
{'stall_code': 'Mã sạp', 'owner_name': 'TÊN CHỦ HỘ', 'owner_phone': 'Số điện thoại'}
>>> rows[0].number, rows[0].values["owner_phone"]
(2, '0912345678')

Headers are matched without regard to case, diacritics, spacing or punctuation,
against the aliases in :data:`STALL_COLUMNS` and :data:`MARKET_COLUMNS`:

>>> header_key("  mã SẠP ") == header_key("Ma sap") == "masap"
True

Every writer here passes user text through :func:`safe_cell` first (OWASP CSV injection):

>>> safe_cell("=HYPERLINK(\\"http://x\\")"), safe_cell("-5"), safe_cell("Bà Lan")
('\\'=HYPERLINK("http://x")', '-5', 'Bà Lan')

XLSX is read as a stream: the sheet's XML is decompressed a megabyte at a time and
read cell by cell (regular expressions for the shape nearly every writer uses,
expat for any other), so memory stays flat however long the sheet is; only the
workbook's shared strings are held, packed in one string. It is as fast as
python-calamine (which loads the whole sheet, ~0.8 KB a row) and is checked
against it cell by cell (``tests/test_xlsx_stream.py``). A sheet is scanned for
its true extent first, for progress and for :data:`MAX_CELLS`: a stray cell at
XFD1048576 means the sheet holds more than a list. XLSX files are written with
openpyxl, imported only when an XLSX file is written.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import os
import posixpath
import re
import shutil
import tempfile
import unicodedata
import zipfile
import zlib
from array import array
from xml.parsers import expat as _expat
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Callable, Iterable, Iterator, Mapping, Sequence, Union
from xml.etree import ElementTree

from market40 import messages, sniff
from market40.exceptions import InvalidFormat, Market40Error, NotFound, ValidationError
from market40.text import search_key

__all__ = [
    "string_cell",
    "write_csv",
    "Column",
    "STALL_COLUMNS",
    "MARKET_COLUMNS",
    "SCHEMAS",
    "TEXT_COLUMNS",
    "MAX_CELLS",
    "Row",
    "Table",
    "header_key",
    "read_table",
    "safe_cell",
    "write_rejects",
    "write_template",
]

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


# --------------------------------------------------------------------------- schemas

@dataclass(frozen=True)
class Column:
    """One importable column: its accepted headers and how to fill it.

    ``aliases[0]`` is the Vietnamese header that templates use. ``text`` marks
    identifiers that must stay text, such as account and phone numbers. An Excel
    cell holding a *number* there is reported: the leading zeros, or the digits
    after the 15th, are already lost. ``vi``, ``en`` and ``example`` fill the
    template's "Hướng dẫn" sheet.
    """

    aliases: tuple[str, ...]
    required: bool = False
    text: bool = False
    vi: str = ""
    en: str = ""
    example: str = ""

    @property
    def header(self) -> str:
        """The header written in templates (the first alias, Vietnamese)."""
        return self.aliases[0]


Schema = Mapping[str, Column]

#: Stall list columns (canonical name → :class:`Column`), Vietnamese aliases first.
#: Every canonical name is an alias too ("stall_code", "Stall code").
STALL_COLUMNS: Schema = MappingProxyType({
    "market_code": Column(
        ("Mã chợ", "Market code"),
        vi="Mã chợ, ví dụ HL1. Có thể bỏ trống nếu cả danh sách thuộc một chợ (khi nhập chọn chợ).",
        en="Market code, e.g. HL1. May be left out when the whole list is one market (chosen at import).",
        example="HL1"),
    "stall_code": Column(
        ("Mã sạp", "Mã ki-ốt", "Số sạp", "Số ki-ốt", "Sạp", "Ki-ốt", "Stall code", "Stall"),
        required=True, text=True,
        vi="Mã hoặc số sạp/ki-ốt như ban quản lý chợ đánh số, ví dụ A12. Không trùng trong một chợ.",
        en="Stall or kiosk code as the market board numbers it, e.g. A12. Unique within a market.",
        example="A12"),
    "shop_name": Column(
        ("Tên cửa hàng", "Tên sạp", "Tên quầy", "Tên hộ kinh doanh", "Shop name"),
        vi="Tên cửa hàng in trên bảng QR.", en="Shop name printed on the QR poster.",
        example="Tạp hoá Bà Lan"),
    "category": Column(
        ("Ngành hàng", "Mặt hàng", "Mặt hàng kinh doanh", "Ngành nghề", "Category"),
        vi="Ngành hàng kinh doanh, ví dụ Rau củ, Thịt, Tạp hoá.",
        en="Trade, e.g. vegetables, meat, groceries.", example="Tạp hoá"),
    "owner_name": Column(
        ("Tên chủ hộ", "Chủ hộ", "Họ và tên chủ hộ", "Họ tên chủ hộ", "Họ và tên", "Họ tên",
         "Tiểu thương", "Owner name", "Owner"),
        required=True,
        vi="Họ và tên chủ hộ kinh doanh.", en="Full name of the stall's business-household owner.",
        example="Nguyễn Thị Lan"),
    "owner_phone": Column(
        ("Số điện thoại", "SĐT", "Điện thoại", "Số ĐT", "Di động", "Owner phone", "Phone"),
        text=True,
        vi="Số điện thoại của chủ hộ, 10 số, giữ số 0 ở đầu (cột đã định dạng Văn bản).",
        en="Owner's phone number, 10 digits, keeping the leading 0 (the column is formatted as Text).",
        example="0912345678"),
    "owner_tax_code": Column(
        ("Mã số thuế", "MST", "Mã số hộ kinh doanh", "Số ĐKKD", "Số đăng ký kinh doanh", "Số GCN ĐKKD",
         "Tax code", "Business registration"), text=True,
        vi="Mã số thuế hoặc số đăng ký kinh doanh của hộ (nếu có): các sạp cùng một hộ được tính là một hộ.",
        en="The household's tax or business registration code (if known): stalls of one household count once.",
        example=""),
    "bank": Column(
        ("Ngân hàng", "Ví điện tử", "Ngân hàng/Ví", "Ngân hàng/Ví điện tử", "Tên ngân hàng", "Bank", "BIN"),
        vi="Ngân hàng hoặc ví nhận tiền: mã BIN (6 số), mã viết tắt (VCB) hoặc tên; chi nhánh ghi kèm "
           "(\"BIDV - CN Hạ Long\") được giữ làm ghi chú.",
        en="Bank or e-wallet receiving the payments: BIN (6 digits), short code (VCB) or name; a branch written "
           "with it (\"BIDV - CN Hạ Long\") is kept as a note.",
        example="Vietcombank"),
    "account": Column(
        ("Số tài khoản", "STK", "Số TK", "Số thẻ", "Số ví", "Tài khoản", "Account number", "Account"),
        text=True,
        vi="Số tài khoản, số thẻ hoặc số ví nhận tiền; gõ đủ các chữ số, không dấu cách.",
        en="Account, card or wallet number receiving the payments; all digits, no spaces.",
        example="0011004123456"),
    "account_holder": Column(
        ("Tên chủ tài khoản", "Chủ tài khoản", "Tên tài khoản", "Tên chủ TK", "Chủ TK",
         "Account holder", "Account name"),
        vi="Tên chủ tài khoản đúng như ngân hàng ghi (in hoa, không dấu).",
        en="Account holder name exactly as the bank has it (upper case, no diacritics).",
        example="NGUYEN THI LAN"),
    "account_kind": Column(
        ("Loại tài khoản", "Loại TK", "Account kind", "Account type"),
        vi="Tài khoản, Thẻ hoặc Ví (bank_account, card, ewallet). Bỏ trống: Tài khoản.",
        en="Tài khoản, Thẻ or Ví (bank_account, card, ewallet). Blank: bank account.",
        example="Tài khoản"),
    "reference": Column(
        ("Mã tham chiếu", "Mã tham chiếu MoMo", "Reference"), text=True,
        vi="Mã tham chiếu của ví (ví dụ MoMo), nếu ví yêu cầu.",
        en="The wallet's reference code (e.g. MoMo), when the wallet needs one.", example=""),
    "payload": Column(
        ("Mã QR", "Nội dung mã QR", "Payload", "QR payload"), text=True,
        vi="Nội dung mã QR nhận tiền của chủ sạp (đọc từ ảnh mã QR trong ứng dụng ngân hàng/ví, bắt đầu bằng "
           "000201): ngân hàng, số tài khoản và mã tham chiếu lấy từ mã QR, không cần gõ. Mã QR bán hàng (QRPUSH) "
           "của ngân hàng cũng được; khi đó cột Số tài khoản là tài khoản nhận tiền bán hàng.",
        en="The owner's receiving QR payload (read from the bank/wallet app's QR, starting 000201): bank, number "
           "and reference come from it, nothing retyped. A bank-issued merchant QR (QRPUSH) is accepted too; the "
           "Account column is then its settlement account.", example=""),
    "status": Column(
        ("Trạng thái", "Tình trạng", "Status"),
        vi="Đang kinh doanh (Đang KD, Đang hoạt động) / Nghỉ (Tạm nghỉ, Đã nghỉ, Đóng cửa). Bỏ trống: đang kinh "
           "doanh.",
        en="Operating / closed (Đang kinh doanh, Đang hoạt động / Nghỉ, Đã nghỉ). Blank: operating.",
        example="Đang kinh doanh"),
    # Dated history (optional): when things happened before the list reached market40.
    "registered_on": Column(
        ("Ngày đăng ký", "Ngày đăng ký tài khoản", "Ngày đăng ký QR", "Registered on", "Registration date"),
        vi="Ngày chủ hộ đăng ký tài khoản nhận tiền (ngày của Excel, DD/MM/YYYY hoặc YYYY-MM-DD). Bỏ trống: "
           "ngày nhập danh sách.",
        en="The day the owner registered the receiving account (an Excel date, DD/MM/YYYY or YYYY-MM-DD). "
           "Blank: the day of the import.", example="15/01/2025"),
    "verified_on": Column(
        ("Ngày xác minh", "Ngày xác thực", "Ngày duyệt", "Verified on", "Verification date"),
        vi="Ngày ngân hàng xác minh tài khoản (không trước ngày đăng ký). Có ngày này, tài khoản được ghi là "
           "đã xác minh từ ngày đó; bỏ trống: chờ xác minh.",
        en="The day the bank verified the account (not before it was registered). Given, the account counts "
           "as verified from that day; blank: it waits for verification.", example="20/01/2025"),
    "closed_on": Column(
        ("Ngày nghỉ", "Ngày nghỉ kinh doanh", "Ngày đóng cửa", "Closed on", "Closure date"),
        vi="Ngày sạp nghỉ kinh doanh, nếu đã nghỉ (Trạng thái bỏ trống hoặc Nghỉ).",
        en="The day the stall stopped operating, if it did (Status blank or closed).", example=""),
})

#: Market list columns (canonical name → :class:`Column`).
MARKET_COLUMNS: Schema = MappingProxyType({
    "market_code": Column(
        ("Mã chợ", "Market code"), required=True,
        vi="Mã chợ, ngắn, không trùng, ví dụ HL1.", en="Short unique market code, e.g. HL1.",
        example="HL1"),
    "name": Column(
        ("Tên chợ", "Chợ", "Market name", "Name"), required=True,
        vi="Tên chợ.", en="Market name.", example="Chợ Hạ Long I"),
    "tier": Column(
        ("Hạng", "Hạng chợ", "Phân hạng", "Loại chợ", "Tier"), required=True,
        vi="Hạng chợ: I, II hoặc III (hoặc 1, 2, 3).", en="Market tier: I, II or III (or 1, 2, 3).",
        example="I"),
    "tier_source": Column(
        ("Nguồn phân hạng", "Căn cứ phân hạng", "Tier source"),
        vi="Văn bản làm căn cứ phân hạng.", en="The document the tier comes from.",
        example="Nghị định 60/2024/NĐ-CP"),
    "tier_date": Column(
        ("Ngày phân hạng", "Tier date"),
        vi="Ngày phân hạng, dạng ngày của Excel hoặc YYYY-MM-DD.",
        en="Date of the classification, an Excel date or YYYY-MM-DD.", example="2025-01-15"),
    "onboarded_on": Column(
        ("Ngày triển khai", "Ngày bắt đầu triển khai", "Ngày tham gia", "Onboarded on", "Start date"),
        vi="Ngày chợ bắt đầu triển khai thanh toán không dùng tiền mặt (nếu có): báo cáo không tính chợ ở các tháng "
           "trước ngày này.",
        en="The day the market started the cashless programme (if known): reports leave it out of earlier months.",
        example=""),
    "central": Column(
        ("Chợ trung tâm", "Trung tâm", "Central"),
        vi="Có/Không (x, 1/0 cũng được).", en="Central market: yes/no (x, 1/0 accepted).",
        example="Có"),
    "locality": Column(
        ("Địa phương", "Mã địa phương", "Đơn vị hành chính", "Xã/Phường", "Locality"),
        vi="Xã/phường (hoặc mã) nơi có chợ.", en="Commune/ward (or its code) of the market.",
        example="Phường Hồng Gai"),
    "address": Column(
        ("Địa chỉ", "Address"), vi="Địa chỉ chợ.", en="Market address.",
        example="Phường Hồng Gai, Quảng Ninh"),
    "board_contact": Column(
        ("Ban quản lý", "Người liên hệ", "Ban quản lý chợ", "Board contact", "Contact"),
        vi="Người liên hệ của ban quản lý chợ.", en="Contact person at the market board.",
        example="Trần Văn Minh"),
    "board_phone": Column(
        ("Điện thoại BQL", "SĐT ban quản lý", "SĐT BQL", "Điện thoại ban quản lý", "Board phone"),
        text=True,
        vi="Số điện thoại ban quản lý chợ, giữ số 0 ở đầu.", en="Market board phone, keeping the leading 0.",
        example="02033123456"),
})

#: Schemas by name, for ``read_table(..., schema="stalls")``.
SCHEMAS: Mapping[str, Schema] = MappingProxyType({"stalls": STALL_COLUMNS, "markets": MARKET_COLUMNS})

_TEMPLATE_HEADERS = {name: column.header for schema in SCHEMAS.values() for name, column in schema.items()}

#: Columns that must stay text: numbers in these Excel cells are reported per row.
TEXT_COLUMNS = frozenset(
    name for schema in SCHEMAS.values() for name, column in schema.items() if column.text
)

#: Largest sheet area (rows x columns up to the last filled cell) read from an XLSX file:
#: every row Excel allows, 32 columns wide. Past it a sheet holds stray cells, not a list.
MAX_CELLS = 1_048_576 * 32

#: Largest uncompressed XML part read from an XLSX file (zip-bomb guard).
MAX_XML_BYTES = 1 << 30

_HEADER_SEARCH_ROWS = 20  # title rows ("DANH SÁCH TIỂU THƯƠNG ...") may sit above the header


def header_key(text: str) -> str:
    """Fold a header for matching: no case, diacritics, spaces or punctuation.

    >>> header_key("Số ĐT (*)"), header_key("Ngân hàng/Ví"), header_key("stall_code")
    ('sodt', 'nganhangvi', 'stallcode')
    """
    return search_key(text).replace(" ", "")


def _schema(schema: Schema | str | None) -> Schema | None:
    if schema is None or not isinstance(schema, str):
        return schema
    try:
        return SCHEMAS[schema]
    except KeyError:
        raise ValueError(f"unknown schema {schema!r}; expected one of {sorted(SCHEMAS)}") from None


def _alias_index(schema: Schema) -> dict[str, str]:
    index: dict[str, str] = {}
    for name, column in schema.items():
        for alias in (name, *column.aliases):
            index.setdefault(header_key(alias), name)
    return index


# --------------------------------------------------------------------------- rows and tables

@dataclass(eq=False)
class Row:
    """One data row.

    ``number`` is the row number Excel shows (the header is usually row 1).
    ``values`` maps each canonical column present in the file to stripped,
    NFC-normalised text; an empty cell gives ``""``. ``extra`` holds the
    columns the schema does not know, keyed by their header. ``errors`` lists
    cell problems found while reading (a number in a text column), each a
    :class:`~market40.exceptions.ValidationError` whose ``field`` is the
    canonical column.
    """

    number: int
    values: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)
    errors: list[ValidationError] = field(default_factory=list)
    table: "Table | None" = field(default=None, repr=False)


class Table:
    """An open table: the header now, the rows as you iterate (once).

    Use it as a context manager, or iterate it to the end, so the file is closed.

    Attributes: ``name`` (for messages), ``kind`` (``"csv"`` or ``"xlsx"``),
    ``sheet``, ``header`` (the original header strings), ``header_row``,
    ``columns`` (canonical name → original header), ``unknown_columns``,
    ``encoding`` and ``delimiter`` (CSV), ``total`` (rows below the header, blank
    ones included; XLSX only), ``bytes_read`` and ``bytes_total`` (CSV),
    ``rows_read``.
    """

    def __init__(self, *, name: str, kind: str, header: list[str], header_row: int,
                 columns: dict[str, str], unknown_columns: list[str], plan: list[tuple],
                 source: Iterator[tuple[int, list]], pending: list[tuple[int, list]],
                 convert: Callable, closers: list[Callable[[], Any]], sheet: str | None = None,
                 encoding: str | None = None, delimiter: str | None = None,
                 last_row: int | None = None, counter: "_CountingReader | None" = None) -> None:
        self.name = name
        self.kind = kind
        self.sheet = sheet
        self.header = header
        self.header_row = header_row
        self.columns = columns
        self.unknown_columns = unknown_columns
        self.encoding = encoding
        self.delimiter = delimiter
        self.total = None if last_row is None else max(0, last_row - header_row)
        self.rows_read = 0
        self.totals_rows: list[int] = []  # totals lines skipped ("Tổng cộng"), by row number
        self.skips_totals = False  # lists read with a schema (stalls, markets, census) skip their totals lines
        self._plan = plan
        self._source = source
        self._pending = pending
        self._convert = convert
        self._closers = closers
        self._counter = counter
        self._last_number = header_row
        self._iterator: Iterator[Row] | None = None

    def __repr__(self) -> str:
        return f"<Table {self.name!r} {self.kind}: {len(self.columns)} columns>"

    # progress -------------------------------------------------------------
    @property
    def bytes_read(self) -> int | None:
        """CSV: bytes consumed so far (read-ahead included); None for XLSX."""
        return self._counter.position if self._counter else None

    @property
    def bytes_total(self) -> int | None:
        """CSV: the file's size in bytes; None for XLSX."""
        return self._counter.size if self._counter else None

    @property
    def progress(self) -> float:
        """Fraction of the file read so far, from 0.0 to 1.0, for progress bars."""
        if self._counter is not None:
            return min(1.0, self._counter.position / self._counter.size) if self._counter.size else 1.0
        if self.total:
            return min(1.0, (self._last_number - self.header_row) / self.total)
        return 1.0 if self._iterator is not None else 0.0

    # iteration -------------------------------------------------------------
    def __iter__(self) -> Iterator[Row]:
        if self._iterator is None:
            self._iterator = self._rows()
        return self._iterator

    def _rows(self) -> Iterator[Row]:
        if self._convert is _text_cell:
            yield from self._text_rows()
            return
        plan, convert = self._plan, self._convert
        try:
            for number, cells in _chain(self._pending, self._source):
                self._last_number = number
                width = len(cells)
                values: dict[str, str] = {}
                extra: dict[str, str] = {}
                errors: list[ValidationError] | None = None
                blank = True
                for index, key, text_like, is_extra in plan:
                    text, problem = convert(cells[index] if index < width else "", text_like)
                    if text:
                        blank = False
                    if is_extra:
                        extra[key] = text
                    else:
                        values[key] = text
                    if problem is not None:
                        problem.field = key
                        errors = (errors or []) + [problem]
                if blank:
                    continue
                if self.skips_totals and _is_totals(values, extra):
                    self.totals_rows.append(number)
                    continue
                self.rows_read += 1
                yield Row(number, values, extra, errors or [], self)
        finally:
            self.close()

    def _text_rows(self) -> Iterator[Row]:
        """:meth:`_rows` for cells that are text (CSV): the same rows, each in a few whole-row steps
        instead of one :func:`_text_cell` call per cell. A row's cells are stripped, then checked for
        NFC once as a whole (the cells joined by NUL, which no composition crosses): only a row that is
        not NFC yet is normalised cell by cell. A text column's cell is checked for Excel's scientific
        notation only when it starts with a digit and holds an "e"."""
        plan = self._plan
        count = len(plan)
        positions = [item[0] for item in plan]
        in_order = positions == list(range(count))
        value_slots = [(i, item[1]) for i, item in enumerate(plan) if not item[3]]
        extra_slots = [(i, item[1]) for i, item in enumerate(plan) if item[3]]
        value_keys = [key for _, key in value_slots]
        plain = not extra_slots and len(value_slots) == count
        text_like = [i for i, item in enumerate(plan) if item[2]]
        normalize, is_normalized = unicodedata.normalize, unicodedata.is_normalized
        try:
            for number, cells in _chain(self._pending, self._source) if self._pending else self._source:
                self._last_number = number
                if in_order and len(cells) >= count:
                    picked = cells if len(cells) == count else cells[:count]
                else:
                    width = len(cells)
                    picked = [cells[i] if i < width else "" for i in positions]
                texts = list(map(str.strip, picked))
                joined = "\0".join(texts)
                if not joined.isascii() and not is_normalized("NFC", joined):
                    texts = [text if text.isascii() else normalize("NFC", text) for text in texts]
                if not any(texts):
                    continue
                errors: list[ValidationError] | None = None
                for i in text_like:
                    text = texts[i]
                    if text[:1].isdigit() and ("e" in text or "E" in text):
                        problem = _text_cell(text, True)[1]
                        if problem is not None:
                            problem.field = plan[i][1]
                            errors = (errors or []) + [problem]
                if plain:
                    values = dict(zip(value_keys, texts))
                    extra: dict[str, str] = {}
                else:
                    values = {key: texts[i] for i, key in value_slots}
                    extra = {key: texts[i] for i, key in extra_slots}
                if self.skips_totals and not _two_labels(texts) and _is_totals(values, extra):
                    self.totals_rows.append(number)
                    continue
                self.rows_read += 1
                yield Row(number, values, extra, errors or [], self)
        finally:
            self.close()

    def close(self) -> None:
        """Close the underlying file (safe to call twice)."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# "Tổng cộng: 120 hộ", "Cộng", "Tổng số sạp", "TỔNG": a board's totals line, folded (search_key).
_TOTALS = re.compile(r"(?:tong cong|tong so|total)(?: .*)?|(?:tong|cong)(?: .*[0-9].*)?")
_COUNT = re.compile(r"[0-9][0-9.,\s]*(?:ho|sap|ki ot|kiot|cho)?")


def _is_totals(values: dict[str, str], extra: dict[str, str]) -> bool:
    """A totals line at the foot of a board's list: a "Tổng cộng…"/"Cộng" label, or a row holding only a count.

    Every other cell of the line must be empty or a number: a household named "Công Thị Hoa" is
    a household, not a total.

    >>> _is_totals({"stall_code": "", "owner_name": "Tổng cộng: 120 hộ"}, {}), _is_totals({"stall_code": "Cộng"}, {})
    (True, True)
    >>> _is_totals({"stall_code": "", "owner_name": ""}, {"STT": "120"}), _is_totals({"stall_code": "A1"}, {})
    (True, False)
    >>> _is_totals({"stall_code": "", "owner_name": "Công Thị Hoa"}, {}), _is_totals({"owner_name": "Tổng", "x": "Lan"}, {})
    (False, False)
    """
    cells = [v for v in (*extra.values(), *values.values()) if v]
    if not cells:
        return False
    # Fast path (an ordinary row): a cell that starts with a letter folds to a label, never a count;
    # a totals line has one label at most.
    if sum(1 for c in cells if c[0].isalpha()) > 1:
        return False
    keys = [search_key(c) for c in cells]
    counts = [bool(_COUNT.fullmatch(k)) for k in keys]
    if all(counts):
        return len(cells) == 1
    labels = [i for i, k in enumerate(keys) if not counts[i]]
    return len(labels) == 1 and bool(_TOTALS.fullmatch(keys[labels[0]]))


def _two_labels(texts: list[str]) -> bool:
    """Two cells or more start with a letter: not a totals line (:func:`_is_totals`' own first test;
    a stall list's first two cells, market and stall code, usually answer it)."""
    found = False
    for text in texts:
        if text[:1].isalpha():
            if found:
                return True
            found = True
    return False


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


# --------------------------------------------------------------------------- cell text

_EXCEL_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?E\+?[0-9]+", re.IGNORECASE)


def _problem(message: str, value: Any) -> InvalidFormat:
    return InvalidFormat(message, value=value, limit="text cell")


def _number_text(value: float | int) -> str:
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return format(value, ".15g")  # Excel shows at most 15 significant digits


def _text_cell(text: str, text_like: bool) -> tuple[str, InvalidFormat | None]:
    text = text.strip()
    if text and not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if text_like and text[:1].isdigit() and _EXCEL_SCIENTIFIC.fullmatch(text):
        return text, _problem(
            f"{text!r} is how Excel shows a long number: the digits after the 15th are lost; "
            "format the column as Text in Excel and type the number again", text)
    return text, None


def _xlsx_cell(value: Any, text_like: bool) -> tuple[str, InvalidFormat | None]:
    kind = type(value)
    if kind is str:
        return _text_cell(value, text_like)
    if kind is float or kind is int:
        text = _number_text(value)
        if not text_like:
            return text, None
        if isinstance(value, float) and not (value.is_integer() and abs(value) < 1e15):
            return text, _problem(
                f"stored as a number in Excel ({text}): Excel keeps only 15 digits, so the number is "
                "damaged; format the column as Text and type it again", value)
        return text, _problem(
            "stored as a number in Excel; leading zeros may be lost; "
            "format the column as Text and type it again", value)
    if kind is bool:
        return ("1" if value else "0"), None
    if isinstance(value, _dt.datetime):
        if value.time() == _dt.time():
            return value.date().isoformat(), None
        return value.isoformat(sep=" ", timespec="seconds"), None
    if isinstance(value, _dt.date):
        return value.isoformat(), None
    if isinstance(value, _dt.time):
        return value.isoformat(timespec="seconds"), None
    if value is None:
        return "", None
    return str(value).strip(), None


# --------------------------------------------------------------------------- read_table

def read_table(path_or_file: PathOrFile, *, kind: str | None = None, sheet: str | None = None,
               schema: Schema | str | None = None) -> Table:
    """Open a CSV or XLSX table and read its header; rows stream as you iterate.

    ``path_or_file`` is a path or a binary file object (an upload, stdin).
    ``kind`` is ``"csv"`` or ``"xlsx"``; by default the content decides (a zip
    archive is XLSX, text is CSV), and a ``.xlsx`` name must hold a workbook.
    ``sheet`` names the XLSX sheet (default: the first visible one; ignored for CSV).
    ``schema`` is :data:`STALL_COLUMNS`, :data:`MARKET_COLUMNS`, their name in
    :data:`SCHEMAS`, or None to keep the headers as they are.

    The header is the first row of the first twenty non-empty ones that matches two
    or more known headers (so title rows above it are skipped), else the first
    non-empty row. Blank rows are skipped; columns without a header are ignored.

    Raises :class:`NotFound` for a missing file or sheet. Raises
    :class:`InvalidFormat` for a file that is not a readable table; the message
    names the file and the reason. Raises :class:`ValidationError` listing every
    header problem: duplicate columns, and all the required columns that are missing.
    """
    schema = _schema(schema)
    if kind not in (None, "csv", "xlsx"):
        raise ValueError(f"kind must be 'csv', 'xlsx' or None, not {kind!r}")
    stream, name, closers = _open(path_or_file)
    try:
        kind = sniff.detect_kind(stream, name, kind)
        if kind == "csv":
            return _read_csv(stream, name, schema, closers)
        return _read_xlsx(stream, name, sheet, schema, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise


def _open(path_or_file: PathOrFile) -> tuple[IO[bytes], str, list[Callable[[], Any]]]:
    if isinstance(path_or_file, (str, os.PathLike)):
        stream = sniff.open_path(path_or_file)
        return stream, str(Path(path_or_file)), [stream.close]
    if isinstance(path_or_file, io.TextIOBase):
        raise TypeError("read_table() needs a binary file object (open it with 'rb')")
    stream = path_or_file
    name = str(getattr(stream, "filename", None) or getattr(stream, "name", None) or "<upload>")
    seekable = getattr(stream, "seekable", None)
    if seekable is not None and seekable():
        stream.seek(0)
        return stream, name, []
    # Spool pipes and stdin: both readers need to go back to the start.
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    try:
        shutil.copyfileobj(stream, spool)
    except OSError as exc:
        spool.close()
        raise InvalidFormat(f"{name}: cannot be read ({exc})") from None
    spool.seek(0)
    return spool, name, [spool.close]  # type: ignore[list-item]


def _match_header(cells: Sequence[str], schema: Schema | None, index: dict[str, str],
                  name: str, number: int, column_offset: int):
    header = list(cells)
    while header and not header[-1]:
        header.pop()  # trailing empty columns
    columns: dict[str, str] = {}
    unknown: list[str] = []
    plan: list[tuple[int, str, bool, bool]] = []
    seen: dict[str, tuple[str, int]] = {}
    problems: list[ValidationError] = []
    for position, text in enumerate(header):
        if not text:
            continue  # a column without a header
        key = header_key(text) or text
        canonical = index.get(key) if schema is not None else None
        slot = canonical or key
        if slot in seen:
            other, other_position = seen[slot]
            meaning = f" both mean {canonical}" if canonical else " are the same column"
            problems.append(InvalidFormat(
                f"{name}: duplicate column: {other!r} (column {_column_letter(other_position + column_offset)}) "
                f"and {text!r} (column {_column_letter(position + column_offset)}){meaning}",
                field="header", value=text))
            continue
        seen[slot] = (text, position)
        if canonical is not None:
            columns[canonical] = text
            plan.append((position, canonical, schema[canonical].text, False))
        elif schema is not None:
            unknown.append(text)
            plan.append((position, text, False, True))
        else:
            columns[text] = text
            plan.append((position, text, False, False))
    if schema is not None:
        missing = [c for c, column in schema.items() if column.required and c not in columns]
        if missing:
            listed = ", ".join(f"{schema[c].header} ({c})" for c in missing)
            problems.append(InvalidFormat(
                f"{name}: missing required column{'s' if len(missing) > 1 else ''}: {listed} "
                f"(header read from row {number})",
                field="header", value=missing, limit="required columns"))
    if problems:
        raise ValidationError.combine(problems)
    return header, columns, unknown, plan


def _build(source: Iterator[tuple[int, list]], *, name: str, kind: str, schema: Schema | None,
           convert: Callable, closers: list, column_offset: int = 0, **extra: Any) -> Table:
    """Find the header in ``source`` and return the table positioned after it."""
    index = _alias_index(schema) if schema is not None else {}
    wanted = min(2, len(schema)) if schema is not None else 0
    seen: list[tuple[int, list[str], list]] = []  # (number, header texts, raw cells)
    for number, cells in source:
        texts = [convert(cell, False)[0] for cell in cells]
        if not any(texts):
            continue
        seen.append((number, texts, cells))
        hits = sum(1 for text in texts if text and index.get(header_key(text)))
        if hits >= wanted or len(seen) >= _HEADER_SEARCH_ROWS:
            break
    if not seen:
        raise InvalidFormat(f"{name}: no header row (the {'sheet' if kind == 'xlsx' else 'file'} is empty)",
                            value=name)
    chosen = seen[-1]
    if wanted and sum(1 for t in chosen[1] if t and index.get(header_key(t))) < wanted:
        chosen = seen[0]  # no convincing header: take the first non-empty row
    number, texts, _ = chosen
    pending = [(n, cells) for n, _, cells in seen if n > number]
    header, columns, unknown, plan = _match_header(texts, schema, index, name, number, column_offset)
    table = Table(name=name, kind=kind, header=header, header_row=number, columns=columns,
                 unknown_columns=unknown, plan=plan, source=source, pending=pending,
                 convert=convert, closers=closers, **extra)
    table.skips_totals = schema is not None
    return table


# --------------------------------------------------------------------------- CSV

_CHUNK = 1 << 20


class _CountingReader(io.RawIOBase):
    """A raw stream that counts the bytes handed to the text layer (for progress)."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream = stream
        self.size = size
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        self.position += len(data)
        return len(data)


def _read_csv(stream: IO[bytes], name: str, schema: Schema | None, closers: list) -> Table:
    encoding, sample, _, _ = sniff.choose_encoding(stream, name)  # the one file sniffer (sniff.py)
    delimiter, sep_line = sniff.sniff_delimiter(sample)
    stream.seek(0, io.SEEK_END)
    counter = _CountingReader(stream, stream.tell())
    stream.seek(0)
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=encoding, newline="")
    closers.append(text.detach)  # leave the caller's file open
    if sep_line:
        text.readline()
    source = _csv_records(text, name, delimiter)
    return _build(source, name=name, kind="csv", schema=schema, convert=_text_cell, closers=closers,
                  encoding=encoding, delimiter=delimiter, counter=counter)


def _csv_records(text: IO[str], name: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error as exc:
        raise InvalidFormat(f"{name}: row {number + 1}: malformed CSV ({exc}); "
                            "check the quotes in that row", value=name) from None
    except (UnicodeError, OSError, ValueError) as exc:
        raise InvalidFormat(f"{name}: row {number + 1}: cannot be read ({exc})", value=name) from None


# --------------------------------------------------------------------------- XLSX

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(archive: zipfile.ZipFile, part: str) -> ElementTree.Element:
    info = archive.getinfo(part)
    if info.file_size > 50 << 20:  # workbook.xml and .rels are a few KB
        raise ValueError(f"{part} is implausibly large")
    return ElementTree.fromstring(archive.read(info))


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """rId → (type, target part) for ``part``'s relationships."""
    folder, base = part.rpartition("/")[::2]
    rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
    if rels not in archive.NameToInfo:
        return {}
    result = {}
    for rel in _xml(archive, rels):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(f"{folder}/{target}" if folder else target)
        result[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
    return result


def _workbook_parts(archive: zipfile.ZipFile, name: str):
    """(sheets as (name, part, visible), shared-strings part or None, styles part or None, workbook part)."""
    names = archive.NameToInfo
    if "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis"):
        raise InvalidFormat(f"{name}: this is an OpenDocument spreadsheet; save it as .xlsx", value=name)
    workbook = next((target for kind, target in _relationships(archive, "").values()
                     if kind.endswith("/officeDocument")), "xl/workbook.xml")
    if workbook.endswith(".bin"):
        raise InvalidFormat(f"{name}: this is a binary .xlsb workbook; save it as .xlsx", value=name)
    if workbook not in names:
        raise InvalidFormat(f"{name}: a zip archive, but not an Excel workbook", value=name)
    rels = _relationships(archive, workbook)
    sheets = []
    for element in _xml(archive, workbook).iter():
        if _local(element.tag) != "sheet":
            continue
        rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
        kind, part = rels.get(rid, ("", ""))
        if kind.endswith("/worksheet"):
            sheets.append((element.get("name", ""), part, element.get("state", "visible") == "visible"))
    shared = next((t for k, t in rels.values() if k.endswith("/sharedStrings")), None)
    styles = next((t for k, t in rels.values() if k.endswith("/styles")), None)
    return sheets, shared, styles, workbook


_CELL_TAG = re.compile(
    rb"""<(?:[A-Za-z_][\w.\-]*:)?(row|c)(?=[\s/>])(?:\s+r\s*=\s*["']([A-Za-z]*)([0-9]*)["'])?([^>]*)>""")
_REF = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]*)([0-9]*)["']""")
_CELL_ROW = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{1,7})"')
_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters.upper():
        number = number * 26 + byte - 64
    return number


def _sheet_extent(archive: zipfile.ZipFile, part: str) -> tuple[int, int, bool]:
    """(last row, last column) of the cells that hold something, and whether the sheet is regular.

    Most sheets put ``r="B7"`` first on every cell, without a namespace prefix:
    they are *regular*, measured with two regular expressions and later read by
    :func:`_regular_rows`. Otherwise every ``<row>`` and ``<c>`` tag is followed
    in order, because cells without ``r`` take the next position.
    """
    extent = _sheet_extent_regular(archive, part)
    regular = extent is not None
    if extent is None or extent[0] * extent[1] > MAX_CELLS:  # the quick count includes styled empty cells
        extent = _sheet_extent_any(archive, part)
    return extent[0], extent[1], regular


def _xml_chunks(archive: zipfile.ZipFile, part: str) -> Iterator[bytes]:
    """The part's XML, cut just before a ``<`` so no tag spans two chunks."""
    size = 0
    tail = b""
    with archive.open(part) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            size += len(chunk)
            if size > MAX_XML_BYTES:
                raise ValueError(f"{part} is larger than {MAX_XML_BYTES >> 20} MB uncompressed")
            buffer = tail + chunk
            if not chunk:
                yield buffer
                return
            cut = buffer.rfind(b"<")
            cut = len(buffer) if cut < 0 else cut
            buffer, tail = buffer[:cut], buffer[cut:]
            if len(tail) > 4 * _CHUNK:
                raise ValueError(f"{part} is not well-formed XML")
            yield buffer


def _sheet_extent_regular(archive: zipfile.ZipFile, part: str) -> tuple[int, int] | None:
    last_row = last_column = 0
    for chunk in _xml_chunks(archive, part):
        if (b"<c>" in chunk or b"<row>" in chunk or b":c " in chunk or b":row " in chunk
                or chunk.count(b"<c ") != chunk.count(b'<c r="')
                or chunk.count(b"<row ") != chunk.count(b'<row r="')):
            return None
        rows = _CELL_ROW.findall(chunk)
        if len(rows) != chunk.count(b"<c "):
            return None
        if rows:
            last_row = max(last_row, max(map(int, rows)))
            last_column = max(last_column, max(map(_column_number, set(_CELL_COLUMN.findall(chunk)))))
    return last_row, last_column


def _sheet_extent_any(archive: zipfile.ZipFile, part: str) -> tuple[int, int]:
    last_row = last_column = row = column = 0
    for chunk in _xml_chunks(archive, part):
        for tag, letters, digits, rest in _CELL_TAG.findall(chunk):
            if not (letters or digits):
                ref = _REF.search(rest)
                if ref:
                    letters, digits = ref.groups()
            if tag == b"row":
                row = int(digits) if digits else row + 1
                column = 0
                continue
            column = _column_number(letters) if letters else column + 1
            if not rest.endswith(b"/"):  # an empty <c .../> holds only a style
                last_row = max(last_row, int(digits) if digits else row)
                last_column = max(last_column, column)
    return last_row, last_column


# XLSX rows are read straight from the sheet's XML with expat, one chunk of the
# zip member at a time, so memory stays flat whatever the sheet's length: only the
# shared strings (the workbook's distinct texts) are held, packed into one string.
# python-calamine (a test dependency) is the oracle: tests/test_xlsx_stream.py
# checks every cell reads the same as it does, through both paths.

_EXCEL_EPOCH = _dt.datetime(1899, 12, 30)
_EXCEL_EPOCH_1904 = _dt.datetime(1904, 1, 1)
#: Built-in number formats (ECMA-376 §18.8.30) that show a date or time; 46 is "[h]:mm:ss", a duration.
_BUILTIN_DATES = frozenset(range(14, 23)) | {45, 47}
_DATE, _DURATION = 1, 2


def _number_format_kind(code: str) -> int:
    """_DATE, _DURATION or 0 for an Excel number format code (its first section only).

    Quoted text, escaped characters (``\\x``, ``_x``, ``*x``) and bracketed parts
    (colours, locales, conditions) are not format tokens; ``[h]``, ``[mm]``,
    ``[ss]`` are elapsed time, i.e. a duration.
    """
    quoted = False
    skip = False
    bracket = ""
    in_bracket = False
    for index, char in enumerate(code):
        if skip:
            skip = False
        elif quoted:
            quoted = char != '"'
        elif in_bracket:
            if char == "]":
                in_bracket = False
                lowered = bracket.lower()
                if lowered and lowered[0] in "hms" and lowered == lowered[0] * len(lowered):
                    return _DURATION
            else:
                bracket += char
        elif char == '"':
            quoted = True
        elif char in "\\_*":
            skip = True
        elif char == "[":
            in_bracket, bracket = True, ""
        elif char == ";":
            return 0
        elif char in "dmyhsDMYHS":
            return _DATE
        elif char in "aA" and (code[index:index + 5].upper() == "AM/PM" or code[index:index + 3].upper() == "A/P"):
            return _DATE
    return 0


def _style_kinds(archive: zipfile.ZipFile, part: str | None) -> tuple[int, ...]:
    """Per cell style index (``s``): whether its number format is a date, a duration or neither."""
    if part is None or part not in archive.NameToInfo:
        return ()
    root = _xml(archive, part)
    custom: dict[int, str] = {}
    kinds: list[int] = []
    for element in root:
        tag = _local(element.tag)
        if tag == "numFmts":
            for fmt in element:
                try:
                    custom[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "")
                except ValueError:
                    continue
        elif tag == "cellXfs":
            for xf in element:
                try:
                    number = int(xf.get("numFmtId", "0"))
                except ValueError:
                    number = 0
                if number in custom:
                    kinds.append(_number_format_kind(custom[number]))
                elif number == 46:
                    kinds.append(_DURATION)
                else:
                    kinds.append(_DATE if number in _BUILTIN_DATES else 0)
    return tuple(kinds)


def _date1904(archive: zipfile.ZipFile, workbook: str) -> bool:
    for element in _xml(archive, workbook).iter():
        if _local(element.tag) == "workbookPr":
            return element.get("date1904", "").lower() in ("1", "true")
    return False


class _SharedStrings:
    """The workbook's shared-string table, packed: one string and an array of offsets."""

    def __init__(self) -> None:
        self._text = ""
        self._ends = array("L")

    @classmethod
    def read(cls, archive: zipfile.ZipFile, part: str | None) -> "_SharedStrings":
        table = cls()
        if part is None or part not in archive.NameToInfo:
            return table
        pieces: list[str] = []
        ends = table._ends
        state = {"depth": 0, "phonetic": 0, "collect": False, "item": [], "length": 0}
        item: list[str] = state["item"]  # type: ignore[assignment]

        def start(name: str, attrs: Any) -> None:
            local = name.rpartition(":")[2]
            if local == "t":
                state["collect"] = not state["phonetic"]
            elif local == "rPh":
                state["phonetic"] += 1

        def end(name: str) -> None:
            local = name.rpartition(":")[2]
            if local == "t":
                state["collect"] = False
            elif local == "rPh":
                state["phonetic"] -= 1
            elif local == "si":
                text = "".join(item)
                item.clear()
                pieces.append(text)
                state["length"] += len(text)
                ends.append(state["length"])
                if len(pieces) >= 4096:
                    packed = "".join(pieces)
                    pieces.clear()
                    pieces.append(packed)

        def text(data: str) -> None:
            if state["collect"]:
                item.append(data)

        parser = _expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.CharacterDataHandler = text
        for chunk in _xml_chunks(archive, part):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
        table._text = "".join(pieces)
        return table

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        ends = self._ends
        return self._text[ends[index - 1] if index else 0:ends[index]]


def _excel_date(serial: float, kind: int, date1904: bool) -> Any:
    """An Excel date serial as Python: a datetime, a time (below one day) or a timedelta (durations).

    A serial no date can hold (negative, or past year 9999) stays a number.
    """
    if serial < 0 and kind == _DATE:
        return serial
    try:
        elapsed = _dt.timedelta(milliseconds=round(serial * 86_400_000))
        if kind == _DURATION:
            return elapsed
        if 0 <= serial < 1:
            return (_dt.datetime.min + elapsed).time()
        if date1904:
            return _EXCEL_EPOCH_1904 + elapsed
        # Excel counts a 29 February 1900 that never was (serial 60, read as the 28th):
        # serials before it start a day later.
        return (_EXCEL_EPOCH if serial >= 60 else _EXCEL_EPOCH + _dt.timedelta(days=1)) + elapsed
    except OverflowError:
        return serial


def _column_index(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + (ord(char) & 0x1F)
    return number - 1


class _SheetReader:
    """expat handlers that turn a worksheet's XML into (row number, cells) as it is fed."""

    def __init__(self, shared: _SharedStrings, styles: tuple[int, ...], date1904: bool, name: str) -> None:
        self.shared, self.styles, self.date1904, self.name = shared, styles, date1904, name
        self.ready: list[tuple[int, list]] = []
        self.row_number = 0
        self.cells: list = []
        self.column = -1
        self.kind = "n"
        self.style = 0
        self.parts: list[str] = []
        self.collect = False
        self.inline = False
        self.phonetic = 0

    def start(self, name: str, attrs: dict) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            reference = attrs.get("r")
            if reference:
                letters = reference.rstrip("0123456789")
                self.column = _column_index(letters.upper()) if letters else self.column + 1
            else:
                self.column += 1
            self.kind = attrs.get("t", "n")
            style = attrs.get("s")
            self.style = int(style) if style and style.isdigit() else 0
            self.parts.clear()
        elif local == "v":
            self.collect = True
        elif local == "t":
            self.collect = self.inline and not self.phonetic
        elif local == "row":
            reference = attrs.get("r")
            self.row_number = int(reference) if reference and reference.isdigit() else self.row_number + 1
            self.cells = []
            self.column = -1
        elif local == "is":
            self.inline = True
        elif local == "rPh":
            self.phonetic += 1

    def end(self, name: str) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            self.collect = False
            value = self.value("".join(self.parts))
            if value is not None:
                cells, column = self.cells, self.column
                if column >= len(cells):
                    cells.extend([None] * (column - len(cells) + 1))
                cells[column] = value
        elif local == "v" or local == "t":
            self.collect = False
        elif local == "row":
            self.ready.append((self.row_number, self.cells))
        elif local == "is":
            self.inline = False
        elif local == "rPh":
            self.phonetic -= 1

    def text(self, data: str) -> None:
        if self.collect:
            self.parts.append(data)

    def value(self, text: str) -> Any:
        kind = self.kind
        if kind == "s":
            if not text:
                return None
            try:
                return self.shared[int(text)]
            except (ValueError, IndexError):
                name, row = self.name, self.row_number
                raise InvalidFormat(f"{name}: row {row}: a cell refers to shared text {text!r}, which the "
                                    "workbook does not have", value=name) from None
        if kind == "inlineStr" or kind == "str":
            return text
        if not text:
            return None
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":  # an ISO 8601 date (strict Open XML)
            try:
                return _dt.datetime.fromisoformat(text.strip().removesuffix("Z"))
            except ValueError:
                return text
        if kind == "e":  # #N/A, #DIV/0!…: no value, as Excel's other readers see it
            return None
        try:
            number = float(text)
        except ValueError:
            name, row = self.name, self.row_number
            raise InvalidFormat(f"{name}: row {row}: the number cell holds {text!r}", value=name) from None
        styles = self.styles
        date_kind = styles[self.style] if self.style < len(styles) else 0
        if date_kind:
            return _excel_date(number, date_kind, self.date1904)
        return int(number) if number.is_integer() and abs(number) < 1e15 else number


def _sheet_rows(archive: zipfile.ZipFile, part: str, reader: _SheetReader) -> Iterator[tuple[int, list]]:
    parser = _expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
    parser.CharacterDataHandler = reader.text
    ready = reader.ready
    try:
        for chunk in _xml_chunks(archive, part):
            parser.Parse(chunk, False)
            if ready:
                yield from ready
                ready.clear()
        parser.Parse(b"", True)
        yield from ready
    except Market40Error:
        raise
    except (_expat.ExpatError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        name = reader.name
        raise InvalidFormat(f"{name}: not a valid XLSX file ({exc})", value=name) from None


# A regular sheet (every cell ``<c r="B7" …>``, no namespace prefix) is read with
# regular expressions, cell by cell; a cell of any other shape (rich inline text,
# phonetic runs, an unusual formula) is parsed on its own with ElementTree. Both
# end in _SheetReader.value, the one place a cell's value is decided.
_REGULAR_CELL = re.compile(
    r'<c r="([A-Z]{1,3})([0-9]{1,7})"([^>]*?)'
    r'(?:/>|>(?:<v>([^<]*)</v>|<is><t>([^<]*)</t></is>|(.*?))</c>)', re.S)
_CELL_ATTRIBUTE = re.compile(r'\s(s|t)\s*=\s*"([^"]*)"')
_PLAIN_CONTENT = re.compile(
    r'(?:<f>[^<]*</f>|<f\s[^>]*/>|<f\s[^>]*>[^<]*</f>)?'
    r'(?:<v>([^<]*)</v>|<v/>|<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)?')
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _unescape(text: str) -> str:
    def entity(match: re.Match) -> str:
        name = match.group(1)
        if name[0] == "#":
            return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
        return _ENTITIES[name]
    return _ENTITY.sub(entity, text) if "&" in text else text


def _regular_rows(archive: zipfile.ZipFile, part: str, reader: _SheetReader) -> Iterator[tuple[int, list]]:
    row_number, cells = "", []  # the row as its cells spell it
    columns: dict[str, int] = {}
    settings: dict[str, tuple[str, int]] = {"": ("n", 0)}  # a cell's attributes → (type, style)
    value = reader.value
    tail = ""
    final = False
    try:
        chunks = _xml_chunks(archive, part)
        while not final:
            chunk = next(chunks, None)
            if chunk is None:
                text, final = tail, True
            else:
                text = tail + chunk.decode("utf-8")
                if "\r" in text:  # XML reads every line end as \n (a &#13; stays \r)
                    text = text.replace("\r\n", "\n").replace("\r", "\n")
                cut = max(text.rfind("<c "), 0)  # the last cell may go on in the next chunk
                text, tail = text[:cut], text[cut:]
            found = 0
            for letters, digits, attributes, number_text, inline_text, other in _REGULAR_CELL.findall(text):
                found += 1
                if digits != row_number:
                    if cells:
                        yield int(row_number), cells
                    row_number, cells = digits, []
                    reader.row_number = int(digits)
                setting = settings.get(attributes)
                if setting is None:
                    kind, style = "n", 0
                    for key, given in _CELL_ATTRIBUTE.findall(attributes):
                        if key == "t":
                            kind = given
                        else:
                            style = int(given) if given.isdigit() else 0
                    setting = settings[attributes] = (kind, style)
                reader.kind, reader.style = setting
                if other:
                    plain = _PLAIN_CONTENT.fullmatch(other)
                    if plain is None:
                        cell = _parsed_cell(f'<c r="{letters}{digits}"{attributes}>{other}</c>', reader)
                    else:
                        cell = value(_unescape(plain.group(1) or plain.group(2) or ""))
                elif number_text or inline_text:
                    cell = value(_unescape(number_text or inline_text))
                else:
                    continue
                if cell is None:
                    continue
                column = columns.get(letters)
                if column is None:
                    column = columns[letters] = _column_index(letters)
                if column >= len(cells):
                    cells.extend([None] * (column - len(cells) + 1))
                cells[column] = cell
            if found != text.count("<c "):
                raise ValueError(f"{part}: a cell could not be read")
        if cells:
            yield int(row_number), cells
    except Market40Error:
        raise
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError, _expat.ExpatError) as exc:
        name = reader.name
        raise InvalidFormat(f"{name}: not a valid XLSX file ({exc})", value=name) from None


def _parsed_cell(fragment: str, reader: _SheetReader) -> Any:
    """One cell of an unusual shape, through the expat handlers."""
    parser = _expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
    parser.CharacterDataHandler = reader.text
    reader.cells, reader.column = [], -1
    parser.Parse(fragment.encode("utf-8"), True)
    return reader.cells[-1] if reader.cells else None


def _pick_sheet(sheets: list[tuple[str, str, bool]], wanted: str | None, name: str) -> tuple[str, str]:
    if not sheets:
        raise InvalidFormat(f"{name}: the workbook has no worksheet", value=name)
    if wanted is None:
        visible = [s for s in sheets if s[2]] or sheets
        return visible[0][0], visible[0][1]
    for sheet_name, part, _ in sheets:
        if sheet_name == wanted:
            return sheet_name, part
    folded = [s for s in sheets if header_key(s[0]) == header_key(wanted)]
    if len(folded) == 1:
        return folded[0][0], folded[0][1]
    listed = ", ".join(repr(s[0]) for s in sheets)
    raise NotFound(f"{name}: no sheet named {wanted!r}; the sheets are {listed}")


def _read_xlsx(stream: IO[bytes], name: str, sheet: str | None, schema: Schema | None,
               closers: list) -> Table:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
        raise InvalidFormat(f"{name}: not a valid XLSX file: the zip archive is damaged or truncated",
                            value=name) from None
    try:
        sheets, shared_part, styles_part, workbook = _workbook_parts(archive, name)
        sheet_name, part = _pick_sheet(sheets, sheet, name)
        if part not in archive.NameToInfo:
            raise InvalidFormat(f"{name}: sheet {sheet_name!r} is missing from the archive", value=name)
        last_row, last_column, regular = _sheet_extent(archive, part)
        if last_row * last_column > MAX_CELLS:
            raise InvalidFormat(
                f"{name}: sheet {sheet_name!r} has a cell as far as {_column_letter(last_column - 1)}{last_row} "
                f"({last_row * last_column:,} cells to read; the limit is {MAX_CELLS:,}); delete the stray "
                "cells after the list (Ctrl+End in Excel shows the last one) or copy the list into a new "
                "workbook", value=name)
        reader = _SheetReader(_SharedStrings.read(archive, shared_part), _style_kinds(archive, styles_part),
                              _date1904(archive, workbook), name)
    except BaseException as exc:
        archive.close()
        if isinstance(exc, Market40Error) or not isinstance(exc, Exception):
            raise
        # zipfile raises RuntimeError for an encrypted member and NotImplementedError for an
        # unsupported compression method: both are "not a workbook we can read".
        if isinstance(exc, (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
                            ElementTree.ParseError, _expat.ExpatError, RuntimeError, NotImplementedError)):
            # damaged members, bad CRCs, encrypted or unsupported compression, broken XML
            raise InvalidFormat(f"{name}: not a valid XLSX file ({exc})", value=name) from None
        raise
    closers.append(archive.close)
    rows = _regular_rows(archive, part, reader) if regular else _sheet_rows(archive, part, reader)
    return _build(rows, name=name, kind="xlsx", schema=schema,
                  convert=_xlsx_cell, closers=closers, sheet=sheet_name, last_row=last_row or None)


# --------------------------------------------------------------------------- writing

_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9.,]*")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Neutralise a spreadsheet formula in user text (OWASP "CSV injection").

    A value starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
    leading ``'``, which Excel and LibreOffice read as "this is text". One
    exception: a plain signed number (``-5``, ``+84912345678``, ``-1.234,5``)
    holds no letters, references or parentheses, so it cannot call anything; it
    is left as it is. Idempotent. ``None`` becomes ``""``.

    >>> safe_cell("@SUM(A1)"), safe_cell("+84 912 345 678"), safe_cell("+84912345678")
    ("'@SUM(A1)", "'+84 912 345 678", '+84912345678')
    >>> safe_cell(safe_cell("=1+1"))
    "'=1+1"
    """
    if value is None:
        return ""
    value = str(value)
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _output_kind(target: PathOrFile, kind: str | None) -> str:
    if kind is None:
        if not isinstance(target, (str, os.PathLike)):
            raise ValueError("kind='csv' or 'xlsx' is needed when writing to a file object")
        kind = Path(target).suffix.lower().lstrip(".")
    if kind not in ("csv", "xlsx"):
        raise InvalidFormat(f"{target}: can only write .csv or .xlsx files", value=str(target))
    return kind


def write_csv(target: PathOrFile, rows: Iterable[Sequence[Any]], delimiter: str = ",") -> None:
    """Write rows as CSV in UTF-8 with a BOM (so Excel reads Vietnamese), every cell made safe."""
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
            writer.writerows([_clean_cell(v) for v in row] for row in rows)
        return
    out = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    try:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerows([_clean_cell(v) for v in row] for row in rows)
        out.flush()
    finally:
        out.detach()


_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # XML (and so openpyxl) refuses these


def _clean_cell(value: Any) -> str:
    """User text for any written cell: control characters dropped, formulas neutralised."""
    if type(value) is str and value.isprintable():  # the common cell: nothing to drop (fast path)
        if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
        return value
    if isinstance(value, int):
        return str(value)
    return safe_cell(_XML_ILLEGAL.sub("", "" if value is None else str(value)))


def string_cell(cell: Any, value: Any, text_format: bool = True) -> Any:
    """Fill an openpyxl cell with user text: never a formula, text-formatted."""
    cell.value = _clean_cell(value)
    cell.data_type = "s"  # openpyxl turns any "=..." string into a formula
    if text_format:
        cell.number_format = "@"
    return cell


def write_rejects(path_or_file: PathOrFile, rejects: Iterable[tuple[Row, Any]], *,
                  kind: str | None = None, table: Table | None = None) -> int:
    """Write the rows that could not be imported, one line per problem.

    ``rejects`` yields ``(row, problem)`` pairs. ``problem`` is a
    :class:`~market40.exceptions.ValidationError`, whose bundled ``errors`` each
    get a line, or a plain message. Each line holds ``row`` (the number Excel
    showed), ``column`` (the header the problem is in, found from the error's
    ``field``), ``reason`` in Vietnamese and in English (:mod:`market40.messages`, the one
    table of reasons), and then the row's original values under the file's
    own headers. The file can be fixed and imported again. The extra columns are
    then ignored as unknown ones. Rows that did not come from :func:`read_table`
    (``Row(number, values)``) give the columns of the first row, under their
    template headers.

    One line per problem, rather than one per row with reasons joined: each line
    has one thing to fix, and it can be filtered and counted by column or reason.
    The cost is repeating a row's values when it has several problems.

    The kind comes from the suffix (``.csv`` or ``.xlsx``) or ``kind``. CSV is
    UTF-8 with a BOM, so that Excel shows the Vietnamese correctly; it uses the
    source file's delimiter. XLSX stores every value as Text. Returns the number
    of lines written.
    """
    kind = _output_kind(path_or_file, kind)
    items = iter(rejects)
    first = next(items, None)
    if table is None and first is not None:
        table = first[0].table
    if table is not None:
        headings = dict(table.columns)  # canonical → the file's own header
        reverse = {original: canonical for canonical, original in headings.items()}
        layout = [(h, h not in reverse, reverse.get(h, h)) for h in table.header if h]
    else:
        headings = _TEMPLATE_HEADERS
        layout = ([(headings.get(k, k), False, k) for k in first[0].values] +
                  [(k, True, k) for k in first[0].extra]) if first is not None else []

    def lines() -> Iterator[list[Any]]:
        for row, problem in _chain([first] if first is not None else [], items):
            values = [(row.extra if is_extra else row.values).get(key, "") for _, is_extra, key in layout]
            errors = problem.errors if isinstance(problem, ValidationError) else [problem]
            for error in errors:
                column = getattr(error, "field", None) or ""
                if isinstance(error, ValidationError):  # the one table of reasons (market40.messages)
                    reason, reason_en = messages.describe(error, "vi"), messages.describe(error, "en")
                else:
                    reason = reason_en = getattr(error, "message", None) or str(error)
                yield [row.number, headings.get(column, column), reason, reason_en, *values]

    titles = [messages.text("report.heading.row"), messages.text("report.heading.column"),
              messages.text("report.heading.reason"), "Reason (English)", *(title for title, _, _ in layout)]
    count = 0

    def counted() -> Iterator[list[Any]]:
        nonlocal count
        for line in lines():
            count += 1
            yield line

    if kind == "csv":
        delimiter = table.delimiter if table is not None and table.delimiter else ","
        write_csv(path_or_file, _chain([titles], counted()), delimiter)
        return count

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Dòng lỗi")
    sheet.freeze_panes = "A2"
    for index, width in enumerate([6, 18, 60, 60] + [18] * len(layout)):
        sheet.column_dimensions[_column_letter(index)].width = width
    bold = Font(bold=True)
    heading = []
    for title in titles:
        cell = string_cell(WriteOnlyCell(sheet), title, text_format=False)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    for line in counted():
        number, *texts = line
        sheet.append([number] + [string_cell(WriteOnlyCell(sheet), text) for text in texts])
    workbook.save(path_or_file)
    return count


_GUIDE_INTRO = (
    ("Hướng dẫn điền danh sách / How to fill in the list", True),
    ("Mỗi dòng của trang đầu là một {item}. Giữ nguyên dòng tiêu đề; có thể bỏ cột không bắt buộc.", False),
    ("Each row of the first sheet is one {item_en}. Keep the header row; optional columns may be removed.", False),
    ("Các cột {text} đã định dạng Văn bản (Text) để giữ số 0 ở đầu và đủ chữ số: "
     "đừng đổi sang Số (Number).", False),
    ("The columns {text} are formatted as Text to keep leading zeros and every digit: "
     "do not change them to Number.", False),
    ("Dòng 2 là ví dụ: xoá dòng này trước khi gửi. / Row 2 is an example: delete it before sending.", False),
    ("", False),
)


def write_template(path_or_file: PathOrFile, schema: Schema | str, *, kind: str | None = None) -> None:
    """Write an import template for ``schema`` (``"stalls"``, ``"markets"`` or a schema mapping).

    XLSX: the first sheet has the Vietnamese headers, with the text-like columns
    formatted as Text (``@``) and one example row. A second sheet, "Hướng dẫn",
    explains each column in Vietnamese and English and lists the other headers
    that are accepted. CSV: the header row and the example row.
    """
    columns = _schema(schema)
    if columns is None:
        raise ValueError("write_template() needs a schema")
    kind = _output_kind(path_or_file, kind)
    headers = [column.header for column in columns.values()]
    example = [column.example for column in columns.values()]
    if kind == "csv":
        write_csv(path_or_file, [headers, example])
        return

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    stalls = "stall_code" in columns
    item, item_en = ("sạp", "stall") if stalls else ("chợ", "market")
    text = ", ".join(column.header for column in columns.values() if column.text)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách sạp" if stalls else "Danh sách chợ"
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    required_fill = PatternFill("solid", start_color="FFF2CC")
    for index, (name, column) in enumerate(columns.items()):
        letter = _column_letter(index)
        head = string_cell(sheet.cell(row=1, column=index + 1), column.header, text_format=False)
        head.font = bold
        if column.required:
            head.fill = required_fill
        string_cell(sheet.cell(row=2, column=index + 1), column.example, text_format=column.text)
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(14, len(column.header) + 4)
        if column.text:
            dimension.number_format = "@"  # what Excel's "Format Cells > Text" on the column does

    guide = workbook.create_sheet("Hướng dẫn")
    for top, (line, strong) in enumerate(_GUIDE_INTRO, start=1):
        cell = string_cell(guide.cell(row=top, column=1), line.format(item=item, item_en=item_en, text=text),
                            text_format=False)
        cell.font = Font(bold=strong)
    titles = ("Cột / Column", "Bắt buộc / Required", "Giải thích", "Explanation", "Ví dụ / Example",
              "Tên cột khác được chấp nhận / Other accepted headers", "Mã / Key")
    top = len(_GUIDE_INTRO) + 1
    for index, title in enumerate(titles, start=1):
        string_cell(guide.cell(row=top, column=index), title, text_format=False).font = bold
    for offset, (name, column) in enumerate(columns.items(), start=1):
        values = (column.header, "Có / Yes" if column.required else "Không / No", column.vi, column.en,
                  column.example, ", ".join(column.aliases[1:]), name)
        for index, value in enumerate(values, start=1):
            cell = string_cell(guide.cell(row=top + offset, column=index), value,
                                text_format=column.text and index == 5)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCDEFG", (22, 14, 50, 50, 20, 40, 16)):
        guide.column_dimensions[letter].width = width
    workbook.save(path_or_file)
