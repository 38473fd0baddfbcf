"""market40.tabular: reading market boards' CSV/XLSX lists, rejects files and templates (issue #3).

Every test works on real files in ``tmp_path`` (or in-memory bytes for hypothesis).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import random
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest

import market40
from hypothesis import HealthCheck, given, settings, strategies as st
from openpyxl.cell.cell import Cell

from legacy_bytes import cp1258  # the one Windows-1258 writer of the tests (tests/legacy_bytes.py)
from market40.exceptions import InvalidFormat, InvalidLength, Market40Error, NotFound, ValidationError
from market40.tabular import (
    MARKET_COLUMNS,
    MAX_CELLS,
    SCHEMAS,
    STALL_COLUMNS,
    TEXT_COLUMNS,
    Row,
    header_key,
    read_table,
    safe_cell,
    write_rejects,
    write_template,
)

HEADER = ["Mã sạp", "Tên chủ hộ", "Số điện thoại", "Số tài khoản"]


def write_csv(path, lines, *, delimiter=",", encoding="utf-8"):
    text = "\r\n".join(delimiter.join(cells) for cells in lines) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path, rows, *, title="Danh sách"):
    """Rows of Python values; ``str`` cells are stored as text, numbers as numbers."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def read_all(path, **options):
    with read_table(path, **options) as table:
        return table, list(table)


def only_error(row):
    assert len(row.errors) == 1, row.errors
    return row.errors[0]


# --------------------------------------------------------------------------- schemas

def test_schema_aliases_are_unambiguous():
    for name, schema in SCHEMAS.items():
        owner = {}
        for canonical, column in schema.items():
            for alias in (canonical, *column.aliases):
                key = header_key(alias)
                assert owner.setdefault(key, canonical) == canonical, (name, alias, owner[key])


def test_schema_required_and_text_columns():
    assert {c for c, col in STALL_COLUMNS.items() if col.required} == {"stall_code", "owner_name"}
    assert {c for c, col in MARKET_COLUMNS.items() if col.required} == {"market_code", "name", "tier"}
    assert TEXT_COLUMNS == {"account", "owner_phone", "board_phone", "reference", "stall_code", "payload",
                            "owner_tax_code"}
    for schema in SCHEMAS.values():
        for column in schema.values():
            assert column.vi and column.en, column  # the template's guide needs both


@pytest.mark.parametrize("header, canonical", [
    # aliases named in issue #3, Vietnamese first
    ("Mã chợ", "market_code"), ("Mã ki-ốt", "stall_code"), ("Số sạp", "stall_code"),
    ("Tên cửa hàng", "shop_name"), ("Tên sạp", "shop_name"), ("Tên quầy", "shop_name"),
    ("Ngành hàng", "category"), ("Mặt hàng", "category"),
    ("Chủ hộ", "owner_name"), ("Họ và tên chủ hộ", "owner_name"),
    ("SĐT", "owner_phone"), ("Điện thoại", "owner_phone"),
    ("Ví điện tử", "bank"), ("Ngân hàng/Ví", "bank"),
    ("STK", "account"), ("Số thẻ", "account"), ("Số ví", "account"),
    ("Chủ tài khoản", "account_holder"), ("Tên tài khoản", "account_holder"),
    ("Loại tài khoản", "account_kind"), ("Mã tham chiếu MoMo", "reference"), ("Trạng thái", "status"),
    # English and canonical spellings
    ("Owner phone", "owner_phone"), ("account_holder", "account_holder"), ("BANK", "bank"),
])
def test_stall_aliases(tmp_path, header, canonical):
    base = [h for h in ("Mã sạp", "Tên chủ hộ") if header_key(h) not in
            {header_key(a) for a in STALL_COLUMNS[canonical].aliases}]
    path = write_csv(tmp_path / "s.csv", [base + [header], ["x"] * (len(base) + 1)])
    table, rows = read_all(path, schema="stalls")
    assert table.columns[canonical] == header
    assert rows[0].values[canonical] == "x"


@pytest.mark.parametrize("header, canonical", [
    ("Hạng chợ", "tier"), ("Nguồn phân hạng", "tier_source"), ("Căn cứ phân hạng", "tier_source"),
    ("Ngày phân hạng", "tier_date"), ("Chợ trung tâm", "central"), ("Mã địa phương", "locality"),
    ("Đơn vị hành chính", "locality"), ("Địa chỉ", "address"), ("Người liên hệ", "board_contact"),
    ("Ban quản lý", "board_contact"), ("Điện thoại BQL", "board_phone"), ("SĐT ban quản lý", "board_phone"),
])
def test_market_aliases(tmp_path, header, canonical):
    path = write_csv(tmp_path / "m.csv", [["Mã chợ", "Tên chợ", "Hạng", header], ["HL1", "Hạ Long I", "I", "v"]]
                     if canonical != "tier" else [["Mã chợ", "Tên chợ", header], ["HL1", "Hạ Long I", "I"]])
    table, rows = read_all(path, schema="markets")
    assert table.columns[canonical] == header


# --------------------------------------------------------------------------- CSV

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_encodings_and_delimiters(tmp_path, encoding, delimiter):
    path = write_csv(tmp_path / "s.csv", [HEADER, ["A12", "Nguyễn Thị Lan", "0912345678", "0011004123456"]],
                     delimiter=delimiter, encoding=encoding)
    table, rows = read_all(path, schema="stalls")
    assert table.delimiter == delimiter
    assert table.header == HEADER  # no BOM glued to the first header
    assert list(table.columns) == ["stall_code", "owner_name", "owner_phone", "account"]
    assert [(r.number, r.values) for r in rows] == [(2, {
        "stall_code": "A12", "owner_name": "Nguyễn Thị Lan", "owner_phone": "0912345678",
        "account": "0011004123456"})]


def test_csv_semicolon_wins_over_commas_inside_headers(tmp_path):
    path = write_csv(tmp_path / "s.csv", [["Mã sạp", "Tên chủ hộ", "Ngân hàng, ví"], ["A1", "Lan", "VCB"]],
                     delimiter=";")
    table, rows = read_all(path, schema="stalls")
    assert table.delimiter == ";"
    assert rows[0].values["bank"] == "VCB"  # "Ngân hàng, ví" folds like "Ngân hàng/Ví"


def test_csv_headers_nfc_nfd_odd_case_and_spaces(tmp_path):
    nfd = unicodedata.normalize("NFD", "Tên chủ hộ")
    assert nfd != "Tên chủ hộ"
    path = write_csv(tmp_path / "s.csv", [["  mã SẠP ", nfd, "SỐ  ĐIỆN THOẠI", "Owner phone"],
                                          ["A1", unicodedata.normalize("NFD", "Lê Văn Đức"), "0912", ""]])
    with pytest.raises(ValidationError, match="duplicate column"):
        read_table(path, schema="stalls")  # two phone columns
    path = write_csv(tmp_path / "s.csv", [["  mã SẠP ", nfd, "SỐ  ĐIỆN THOẠI"],
                                          ["A1", unicodedata.normalize("NFD", "Lê Văn Đức"), "0912"]])
    table, rows = read_all(path, schema="stalls")
    # headers and values come out NFC, whatever form the file used
    assert table.columns == {"stall_code": "mã SẠP", "owner_name": "Tên chủ hộ", "owner_phone": "SỐ  ĐIỆN THOẠI"}
    assert rows[0].values["owner_name"] == "Lê Văn Đức"


def test_csv_english_headers(tmp_path):
    path = write_csv(tmp_path / "s.csv", [["Stall code", "Owner name", "Account number", "Account holder"],
                                          ["B7", "Tran Van Minh", "123", "TRAN VAN MINH"]])
    table, rows = read_all(path, schema="stalls")
    assert rows[0].values == {"stall_code": "B7", "owner_name": "Tran Van Minh", "account": "123",
                              "account_holder": "TRAN VAN MINH"}


def test_csv_quoted_newline_keeps_excel_row_numbers(tmp_path):
    (tmp_path / "s.csv").write_text(
        'Mã sạp,Tên chủ hộ,Tên cửa hàng\r\nA1,Lan,"Tạp hoá\r\nBà Lan"\r\nA2,"Minh, Văn",x\r\n', encoding="utf-8")
    _, rows = read_all(tmp_path / "s.csv", schema="stalls")
    assert [r.number for r in rows] == [2, 3]  # a record is one Excel row, however many lines
    assert rows[0].values["shop_name"] == "Tạp hoá\r\nBà Lan"
    assert rows[1].values["owner_name"] == "Minh, Văn"


def test_csv_old_mac_line_endings(tmp_path):
    (tmp_path / "s.csv").write_bytes("Mã sạp;Tên chủ hộ\rA1;Lan\rA2;Minh\r".encode())
    _, rows = read_all(tmp_path / "s.csv", schema="stalls")
    assert [(r.number, r.values["stall_code"]) for r in rows] == [(2, "A1"), (3, "A2")]


def test_csv_excel_sep_line(tmp_path):
    (tmp_path / "s.csv").write_text("sep=|\nMã sạp|Tên chủ hộ\nA1|Lan\n", encoding="utf-8")
    table, rows = read_all(tmp_path / "s.csv", schema="stalls")
    assert table.delimiter == "|" and table.header_row == 1 and rows[0].number == 2


def test_csv_windows_1258(tmp_path):
    (tmp_path / "s.csv").write_bytes(cp1258("Mã sạp;Tên chủ hộ\r\nA1;Nguyễn Thị Lựu\r\n"))
    table, rows = read_all(tmp_path / "s.csv", schema="stalls")
    assert table.encoding == "cp1258"
    assert rows[0].values["owner_name"] == "Nguyễn Thị Lựu"


def test_csv_utf16_unicode_text(tmp_path):
    # Excel's "Unicode Text (*.txt)": UTF-16 with a BOM, tab-separated
    (tmp_path / "s.txt").write_bytes("Mã sạp\tTên chủ hộ\r\nA1\tĐỗ Thị Hà\r\n".encode("utf-16"))
    table, rows = read_all(tmp_path / "s.txt", schema="stalls")
    assert table.delimiter == "\t" and rows[0].values["owner_name"] == "Đỗ Thị Hà"


def test_csv_neither_utf8_nor_cp1258_names_file_and_offset(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("Mã sạp,Tên chủ hộ\nA1,L".encode() + b"\x81n\n")
    with pytest.raises(InvalidFormat, match=r"bad\.csv.*0x81 at offset 30 "):
        read_table(path, schema="stalls")


def test_csv_stray_control_character_is_not_binary(tmp_path):
    (tmp_path / "s.csv").write_bytes("Mã sạp,Tên chủ hộ\nA1,Lan\x07\n".encode())
    _, rows = read_all(tmp_path / "s.csv", schema="stalls")
    assert rows[0].values["owner_name"] == "Lan\x07"  # the writers drop it


def test_csv_unclosed_quote_is_reported_with_its_row(tmp_path):
    (tmp_path / "s.csv").write_text('Mã sạp,Tên chủ hộ\nA1,Lan\nA2,"Minh\n', encoding="utf-8")
    with read_table(tmp_path / "s.csv", schema="stalls") as table, \
            pytest.raises(InvalidFormat, match="row 3"):
        list(table)


def test_csv_scientific_notation_in_text_column_is_a_row_error(tmp_path):
    path = write_csv(tmp_path / "s.csv", [HEADER, ["A1", "Lan", "0912345678", "1.23457E+18"],
                                          ["A2", "Minh", "0912345679", "1,23457E+18"]], delimiter=";")
    _, rows = read_all(path, schema="stalls")
    for row in rows:
        error = only_error(row)
        assert error.field == "account" and "Text" in error.message and "15th" in error.message


def test_csv_progress_counts_bytes(tmp_path):
    path = write_csv(tmp_path / "s.csv", [HEADER] + [[f"A{i}", "Lan", "09", "00"] for i in range(3000)])
    with read_table(path, schema="stalls") as table:
        assert table.bytes_total == path.stat().st_size and table.total is None
        assert table.progress < 1.0
        assert sum(1 for _ in table) == 3000
        assert table.bytes_read == table.bytes_total and table.progress == 1.0
        assert table.rows_read == 3000


class Pipe(io.RawIOBase):
    """stdin-like: readable, not seekable."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(min(len(buffer), 7))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_file_objects_seekable_or_not(tmp_path):
    data = "Mã sạp;Tên chủ hộ\nA1;Lan\n".encode()
    for source in (io.BytesIO(data), Pipe(data)):
        _, rows = read_all(source, schema="stalls")
        assert rows[0].values == {"stall_code": "A1", "owner_name": "Lan"}
    xlsx = write_xlsx(tmp_path / "s.xlsx", [HEADER, ["A1", "Lan", "09", "00"]]).read_bytes()
    table, rows = read_all(Pipe(xlsx), schema="stalls")
    assert table.kind == "xlsx" and rows[0].values["stall_code"] == "A1"
    with pytest.raises(TypeError):
        read_table(io.StringIO("Mã sạp\nA1\n"))


# --------------------------------------------------------------------------- XLSX

def test_xlsx_text_cells_keep_leading_zeros(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [HEADER, ["007", "Lan", "0912345678", "0011004123456789012"]])
    table, rows = read_all(path, schema="stalls")
    assert table.kind == "xlsx" and table.sheet == "Danh sách"
    assert rows[0].values == {"stall_code": "007", "owner_name": "Lan", "owner_phone": "0912345678",
                              "account": "0011004123456789012"}
    assert rows[0].errors == []


def test_xlsx_numeric_phone_is_a_row_error(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [HEADER, ["A1", "Lan", 912345678, "0011"]])
    _, rows = read_all(path, schema="stalls")
    error = only_error(rows[0])
    assert isinstance(error, InvalidFormat) and error.field == "owner_phone"
    assert "Excel" in error.message and "Text" in error.message and "leading zeros" in error.message
    assert rows[0].values["owner_phone"] == "912345678"  # kept for the rejects file


def test_xlsx_long_account_typed_as_number_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [HEADER, ["A1", "Lan", "0912345678", 9704123456789012345]])
    _, rows = read_all(path, schema="stalls")
    error = only_error(rows[0])
    assert error.field == "account" and "15 digits" in error.message and "Text" in error.message


def test_xlsx_scientific_text_cell_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [HEADER, ["A1", "Lan", "0912345678", "9.70412E+18"]])
    _, rows = read_all(path, schema="stalls")
    assert only_error(rows[0]).field == "account"


def test_xlsx_dates_numbers_and_booleans_as_text(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", [
        ["Mã chợ", "Tên chợ", "Hạng", "Ngày phân hạng", "Chợ trung tâm", "Số hộ", "Diện tích"],
        ["HL1", "Hạ Long I", 1.0, dt.date(2024, 11, 5), True, 1200.0, 2.5],
        ["HL2", "Hạ Long II", 2, dt.datetime(2024, 11, 5, 8, 30), False, 12, 0.1],
    ])
    table, rows = read_all(path, schema="markets")
    assert table.unknown_columns == ["Số hộ", "Diện tích"]
    assert rows[0].values == {"market_code": "HL1", "name": "Hạ Long I", "tier": "1",
                              "tier_date": "2024-11-05", "central": "1"}
    assert rows[0].extra == {"Số hộ": "1200", "Diện tích": "2.5"}
    assert rows[1].values["tier_date"] == "2024-11-05 08:30:00" and rows[1].values["central"] == "0"
    assert rows[1].extra == {"Số hộ": "12", "Diện tích": "0.1"}
    assert all(not r.errors for r in rows)


def test_xlsx_title_rows_blank_rows_and_offset_columns_keep_excel_numbers(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "DANH SÁCH TIỂU THƯƠNG CHỢ HẠ LONG I"
    for column, text in zip("BCD", ["STT", "Mã sạp", "Tên chủ hộ"]):
        sheet[f"{column}3"] = text
    sheet["B4"], sheet["C4"], sheet["D4"] = "1", "A1", "Lan"
    sheet["C5"] = "   "  # blank after stripping
    sheet["B7"], sheet["C7"], sheet["D7"] = "2", "A2", "Minh"
    workbook.save(tmp_path / "s.xlsx")
    table, rows = read_all(tmp_path / "s.xlsx", schema="stalls")
    assert table.header_row == 3 and table.unknown_columns == ["STT"]
    assert [(r.number, r.values["stall_code"]) for r in rows] == [(4, "A1"), (7, "A2")]
    assert table.total == 4 and table.progress == 1.0


def test_xlsx_sheet_choice(tmp_path):
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    hidden.title = "Tra cứu"
    hidden.append(["Mã sạp", "Tên chủ hộ"])
    hidden.append(["HIDDEN", "x"])
    hidden.sheet_state = "hidden"
    for title, code in (("Chợ 1", "A1"), ("Chợ 2", "B1")):
        sheet = workbook.create_sheet(title)
        sheet.append(["Mã sạp", "Tên chủ hộ"])
        sheet.append([code, "Lan"])
    workbook.save(tmp_path / "s.xlsx")
    table, rows = read_all(tmp_path / "s.xlsx", schema="stalls")  # first *visible* sheet
    assert (table.sheet, rows[0].values["stall_code"]) == ("Chợ 1", "A1")
    table, rows = read_all(tmp_path / "s.xlsx", schema="stalls", sheet="cho 2")
    assert (table.sheet, rows[0].values["stall_code"]) == ("Chợ 2", "B1")
    with pytest.raises(NotFound, match="'Chợ 1', 'Chợ 2'"):
        read_table(tmp_path / "s.xlsx", sheet="Chợ 3")


ISOLATED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from market40.exceptions import Market40Error
from market40.tabular import read_table
try:
    with read_table(sys.argv[1]) as table:
        print("read", len(list(table)), "rows")
except Market40Error as exc:
    print(type(exc).__name__, exc)
"""


def read_isolated(path):
    """read_table in a child process capped at 2 GB, so that a guard regression
    fails this test rather than aborting (or swapping out) the whole test run."""
    env = dict(os.environ, PYTHONPATH=str(Path(market40.__file__).parent.parent))
    result = subprocess.run([sys.executable, "-c", ISOLATED, str(path)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
    return result.stdout


def test_xlsx_far_stray_cell_is_refused_not_allocated(tmp_path):
    # 17 billion cells to scan for this 5 KB file: stray cells, not a list
    workbook = openpyxl.Workbook()
    workbook.active.append(["Mã sạp", "Tên chủ hộ"])
    workbook.active["XFD1048576"] = " "
    workbook.save(tmp_path / "s.xlsx")
    assert read_isolated(tmp_path / "s.xlsx").startswith("InvalidFormat")
    with pytest.raises(InvalidFormat, match="XFD1048576.*Ctrl\\+End"):
        read_table(tmp_path / "s.xlsx", schema="stalls")


def test_xlsx_far_styled_empty_cell_is_fine(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Mã sạp", "Tên chủ hộ"])
    workbook.active.append(["A1", "Lan"])
    workbook.active["XFD1048576"].number_format = "@"  # formatting alone is not a cell
    workbook.save(tmp_path / "s.xlsx")
    _, rows = read_all(tmp_path / "s.xlsx", schema="stalls")
    assert len(rows) == 1


def replace_sheet_xml(source, target, sheet_data):
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                start, end = data.index(b"<sheetData"), data.index(b"</sheetData>") + len(b"</sheetData>")
                data = data[:start] + sheet_data + data[end:]
            zout.writestr(info, data)
    return target


@pytest.mark.parametrize("sheet_data, far", [
    # cells without r="" take the next position; a prefixed namespace; r not first
    (b'<sheetData><row><c t="inlineStr"><is><t>M\xc3\xa3 s\xe1\xba\xa1p</t></is></c></row>'
     b'<row r="1048576"><c><v>1</v></c></row><row r="2"><c r="XFD2"><v>1</v></c></row></sheetData>', True),
    (b'<sheetData><row r="1"><c s="0" r="A1" t="inlineStr"><is><t>M\xc3\xa3 s\xe1\xba\xa1p</t></is></c></row>'
     b'<row r="2"><c t="n" r="XFD1048576"><v>1</v></c></row></sheetData>', True),
    (b'<sheetData><row><c t="inlineStr"><is><t>M\xc3\xa3 s\xe1\xba\xa1p</t></is></c>'
     b'<c t="inlineStr"><is><t>Ch\xe1\xbb\xa7 h\xe1\xbb\x99</t></is></c></row>'
     b'<row><c><v>7</v></c><c t="inlineStr"><is><t>Lan</t></is></c></row></sheetData>', False),
])
def test_xlsx_extent_guard_on_irregular_sheets(tmp_path, sheet_data, far):
    base = write_xlsx(tmp_path / "base.xlsx", [["x"]])
    path = replace_sheet_xml(base, tmp_path / "s.xlsx", sheet_data)
    if far:
        assert "the limit is" in read_isolated(path)
    else:
        _, rows = read_all(path, schema="stalls")
        assert [(r.number, r.values) for r in rows] == [(2, {"stall_code": "7", "owner_name": "Lan"})]
        assert "leading zeros" in only_error(rows[0]).message


def test_max_cells_allows_the_import_target():
    assert 100_000 * 2 * len(STALL_COLUMNS) <= MAX_CELLS  # 100k stalls with room for extra columns


# --------------------------------------------------------------------------- header problems

def test_missing_required_columns_are_named_in_one_error(tmp_path):
    path = write_csv(tmp_path / "s.csv", [["Số điện thoại", "Ghi chú"], ["0912", "x"]])
    with pytest.raises(InvalidFormat) as caught:
        read_table(path, schema="stalls")
    assert caught.value.errors == [caught.value] and caught.value.value == ["stall_code", "owner_name"]
    assert "Mã sạp (stall_code)" in caught.value.message and "Tên chủ hộ (owner_name)" in caught.value.message
    with pytest.raises(InvalidFormat, match="Mã chợ.*Tên chợ.*Hạng"):
        read_table(path, schema="markets")


def test_duplicate_headers(tmp_path):
    path = write_csv(tmp_path / "s.csv", [["Mã sạp", "Tên chủ hộ", "SĐT", "Số điện thoại"], ["A1", "L", "1", "2"]])
    with pytest.raises(InvalidFormat, match=r"'SĐT' \(column C\) and 'Số điện thoại' \(column D\).*owner_phone"):
        read_table(path, schema="stalls")
    path = write_csv(tmp_path / "s.csv", [["Mã sạp", "Ghi chú", "GHI CHU"], ["A1", "x", "y"]])
    with pytest.raises(ValidationError) as caught:  # duplicate unknown column *and* a missing one
        read_table(path, schema="stalls")
    assert len(caught.value.errors) == 2
    path = write_csv(tmp_path / "s.csv", [["a", "a"], ["1", "2"]])
    with pytest.raises(InvalidFormat, match="duplicate"):
        read_table(path)


def test_unknown_columns_are_kept_and_reported(tmp_path):
    path = write_csv(tmp_path / "s.csv", [["STT", "Mã sạp", "Tên chủ hộ", "Ghi chú", "", ""],
                                          ["1", "A1", "Lan", "góc chợ", "", "ignored: no header"]])
    table, rows = read_all(path, schema="stalls")
    assert table.unknown_columns == ["STT", "Ghi chú"]
    assert table.header == ["STT", "Mã sạp", "Tên chủ hộ", "Ghi chú"]  # trailing empty columns dropped
    assert rows[0].extra == {"STT": "1", "Ghi chú": "góc chợ"}


def test_no_schema_keeps_headers(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["Ngày", "Số tiền"], ["2025-01-02", "150.000"]])
    table, rows = read_all(path)
    assert table.columns == {"Ngày": "Ngày", "Số tiền": "Số tiền"} and table.unknown_columns == []
    assert rows[0].values == {"Ngày": "2025-01-02", "Số tiền": "150.000"}


def test_empty_rows_are_skipped_and_numbers_match_excel(tmp_path):
    (tmp_path / "s.csv").write_text("Mã sạp,Tên chủ hộ\nA1,Lan\n,\n\n  ,  \nA2,Minh\n", encoding="utf-8")
    _, rows = read_all(tmp_path / "s.csv", schema="stalls")
    assert [(r.number, r.values["stall_code"]) for r in rows] == [(2, "A1"), (6, "A2")]
    path = write_xlsx(tmp_path / "s.xlsx", [["Mã sạp", "Tên chủ hộ"], ["A1", "Lan"], [None, None], [],
                                            ["A2", "Minh"]])
    _, rows = read_all(path, schema="stalls")
    assert [(r.number, r.values["stall_code"]) for r in rows] == [(2, "A1"), (5, "A2")]


def test_header_only_file_has_no_rows(tmp_path):
    path = write_csv(tmp_path / "s.csv", [["Mã sạp", "Tên chủ hộ"]])
    table, rows = read_all(path, schema="stalls")
    assert rows == [] and table.header_row == 1


# --------------------------------------------------------------------------- junk

def junk_files(tmp_path):
    rng = random.Random(3)
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER, ["A1", "Lan", "09", "00"]]).read_bytes()
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(200))
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    files = {
        "random.csv": bytes(rng.randrange(256) for _ in range(4096)),
        "random.xlsx": bytes(rng.randrange(256) for _ in range(4096)),
        "random.bin": bytes(rng.randrange(256) for _ in range(64)),
        "empty.csv": b"",
        "bom-only.csv": b"\xef\xbb\xbf",
        "blank-lines.csv": b"\r\n\r\n ,, \r\n",
        "photo.csv": png,
        "other.zip": other_zip.getvalue(),
        "other-named.xlsx": other_zip.getvalue(),
        "truncated.xlsx": good[: len(good) // 2],
        "text-named.xlsx": "Mã sạp,Tên chủ hộ\nA1,Lan\n".encode(),
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
        "nul.csv": b"M\x00a\x00,\x00b\x00\n",  # UTF-16 without its BOM
        "controls.csv": b"\x81\x01\x02\x03abc\n",  # neither UTF-8 nor plausible cp1258
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return files


def test_junk_files_raise_invalid_format(tmp_path):
    messages = {}
    for name in junk_files(tmp_path):
        with pytest.raises(InvalidFormat) as caught:
            with read_table(tmp_path / name, schema="stalls") as table:
                list(table)
        assert name in caught.value.message
        messages[name] = caught.value.message
    assert "empty" in messages["empty.csv"]
    assert "PNG" in messages["photo.csv"]
    assert "truncated" in messages["truncated.xlsx"]
    assert "not an Excel workbook" in messages["other-named.xlsx"]
    assert ".xls" in messages["old.xls"]
    assert "not a zip" in messages["text-named.xlsx"]


def test_corrupted_xlsx_never_escapes_as_another_exception(tmp_path):
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER] + [[f"A{i}", "Lan", "09", "00"] for i in range(50)])
    data = good.read_bytes()
    rng = random.Random(7)
    for attempt in range(40):
        damaged = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        path = tmp_path / f"d{attempt}.xlsx"
        path.write_bytes(bytes(damaged))
        try:
            with read_table(path, schema="stalls") as table:
                list(table)
        except Market40Error:
            pass


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(NotFound, match="nope.csv"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InvalidFormat, match="directory"):
        read_table(tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text_as_csv_raises_only_market40_errors(text):
    try:
        with read_table(io.BytesIO(text.encode()), schema="stalls") as table:
            for row in table:
                assert row.number > table.header_row
    except Market40Error:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from([None, "csv", "xlsx"]))
def test_arbitrary_bytes_raise_only_market40_errors(data, kind):
    try:
        with read_table(io.BytesIO(data), kind=kind) as table:
            list(table)
    except Market40Error:
        pass


# --------------------------------------------------------------------------- writing

@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil.example","bấm")', '\'=HYPERLINK("http://evil.example","bấm")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("-", "'-"),
    ("-5", "-5"),  # a plain number cannot call anything
    ("-1.234,5", "-1.234,5"),
    ("+84912345678", "+84912345678"),
    ("Bà Lan = chủ", "Bà Lan = chủ"),
    ("'=already", "'=already"),
    ("", ""),
    (None, ""),
])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected
    assert safe_cell(safe_cell(value)) == expected


def test_openpyxl_turns_equals_strings_into_formulas():
    # why the XLSX writers force text cells: this is openpyxl 3.1's behaviour
    assert Cell(openpyxl.Workbook().active, value="=1+1").data_type == "f"


EVIL = ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)", "+1+cmd", "-1+2", "=1\x07"]


def rejects_source(tmp_path):
    path = write_csv(tmp_path / "in.csv", [
        ["Mã sạp", "Tên chủ hộ", "Số điện thoại", "=cmd|'/C calc'!A0"],
        ["A1", EVIL[0], "912345678", EVIL[1]],
        ["A2", "Minh", "0912345679", EVIL[2]],
        ["A3", EVIL[3], "0912", "ok"],
    ], delimiter=";")
    table, rows = read_all(path, schema="stalls")
    problems = [
        (rows[0], ValidationError.combine([InvalidFormat("phone must start with 0", field="owner_phone"),
                                           InvalidLength("name too long", field="owner_name")])),
        (rows[1], "stall A2 already exists"),
        (rows[2], InvalidFormat(EVIL[4], field="owner_phone")),
    ]
    return table, problems


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_rejects_one_line_per_problem_and_reimportable(tmp_path, suffix):
    table, problems = rejects_source(tmp_path)
    out = tmp_path / f"rejects.{suffix}"
    assert write_rejects(out, problems) == 4
    back, rows = read_all(out, schema="stalls")
    assert back.unknown_columns == ["Dòng", "Cột", "Lý do", "Reason (English)", "'=cmd|'/C calc'!A0"]
    assert [(r.extra["Dòng"], r.extra["Cột"], r.values["stall_code"]) for r in rows] == [
        ("2", "Số điện thoại", "A1"), ("2", "Tên chủ hộ", "A1"), ("3", "", "A2"), ("4", "Số điện thoại", "A3")]
    assert rows[0].extra["Reason (English)"] == "phone must start with 0"
    assert rows[0].extra["Lý do"].startswith("số điện thoại")  # Vietnamese first (market40.messages)
    assert rows[2].extra["Lý do"] == rows[2].extra["Reason (English)"] == "stall A2 already exists"
    assert rows[0].values["owner_phone"] == "912345678"
    assert rows[0].values["owner_name"] == "'" + EVIL[0]  # neutralised, not lost
    if suffix == "csv":
        raw = out.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # so Excel reads the Vietnamese as UTF-8
        assert back.delimiter == ";"  # the board's own delimiter


def test_rejects_xlsx_never_holds_a_formula(tmp_path):
    table, problems = rejects_source(tmp_path)
    write_rejects(tmp_path / "r.xlsx", problems)
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert cells and all(cell.data_type != "f" for cell in cells)
    texts = [cell.value for cell in cells if isinstance(cell.value, str)]
    for evil in EVIL[:4]:
        assert "'" + evil in texts
    assert "'=1" in texts  # the bell character, illegal in XML, was dropped
    assert all(cell.number_format == "@" for cell in cells[4:] if cell.row > 1 and cell.column > 1)


def test_rejects_from_rows_built_by_hand(tmp_path):
    # a service that kept only number and values still gets a re-importable file
    rows = [(Row(number=7, values={"stall_code": "A7", "owner_name": "Lan", "account": "12"}),
             InvalidFormat("unknown bank", field="account")),
            (Row(number=9, values={"stall_code": "A9", "owner_name": "Minh", "account": "34"}), "duplicate")]
    assert write_rejects(tmp_path / "r.csv", rows) == 2
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()[:2] == [
        "Dòng,Cột,Lý do,Reason (English),Mã sạp,Tên chủ hộ,Số tài khoản",
        '7,Số tài khoản,"số tài khoản «» không đúng: chỉ gồm chữ số hoặc chữ cái không dấu (dấu cách, dấu gạch '
        'được bỏ qua), tối đa 19 ký tự",unknown bank,A7,Lan,12']
    table, back = read_all(tmp_path / "r.csv", schema="stalls")
    assert [r.values for r in back] == [row.values for row, _ in rows]


def test_rejects_without_rows(tmp_path):
    table, _ = rejects_source(tmp_path)
    assert write_rejects(tmp_path / "r.csv", [], table=table) == 0
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").startswith("Dòng;Cột;Lý do;Reason (English);Mã sạp")
    with pytest.raises(InvalidFormat, match="csv or .xlsx"):
        write_rejects(tmp_path / "r.pdf", [])


@pytest.mark.parametrize("schema", ["stalls", "markets"])
def test_template_xlsx_round_trip(tmp_path, schema):
    columns = SCHEMAS[schema]
    path = tmp_path / "template.xlsx"
    write_template(path, schema)
    table, rows = read_all(path, schema=schema)
    assert list(table.columns) == list(columns) and table.unknown_columns == []
    assert table.header == [column.header for column in columns.values()]
    assert [r.number for r in rows] == [2]
    assert rows[0].values == {name: column.example for name, column in columns.items()}
    assert rows[0].errors == []  # the example's phone and account are text cells

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[1] == "Hướng dẫn"
    sheet = workbook.worksheets[0]
    for index, (name, column) in enumerate(columns.items(), start=1):
        letter = openpyxl.utils.get_column_letter(index)
        expected = "@" if column.text else "General"
        assert sheet.column_dimensions[letter].number_format == expected, name
        assert sheet.cell(row=2, column=index).number_format == expected, name
    guide = " ".join(str(c.value) for row in workbook["Hướng dẫn"].iter_rows() for c in row if c.value)
    for column in columns.values():
        assert column.header in guide and column.vi in guide and column.en in guide
    assert all(c.data_type != "f" for ws in workbook for row in ws.iter_rows() for c in row)


def test_template_csv_round_trip(tmp_path):
    write_template(tmp_path / "t.csv", STALL_COLUMNS)
    assert (tmp_path / "t.csv").read_bytes().startswith("\ufeffMã chợ,Mã sạp,".encode())
    table, rows = read_all(tmp_path / "t.csv", schema="stalls")
    assert list(table.columns) == list(STALL_COLUMNS)
    assert rows[0].values["owner_phone"] == "0912345678"


def test_writers_accept_file_objects(tmp_path):
    buffer = io.BytesIO()
    write_template(buffer, "markets", kind="xlsx")
    table, rows = read_all(io.BytesIO(buffer.getvalue()), schema="markets")
    assert rows[0].values["market_code"] == "HL1"
    with pytest.raises(ValueError):
        write_template(io.BytesIO(), "markets")


# --------------------------------------------------------------------------- layering

def test_adapter_imports_no_delivery_or_database_layer():
    code = ("import sys, market40.tabular; "
            "bad = {'flask', 'click', 'web', 'cli', 'sqlmodel', 'sqlalchemy', 'openpyxl', 'python_calamine'}; "
            "print(sorted(bad & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"  # openpyxl loads only when an XLSX is written
