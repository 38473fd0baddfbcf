"""The streaming XLSX reader reads every cell as python-calamine does (the oracle).

market40 reads a sheet's XML with expat, one chunk at a time, so memory stays flat
however long the sheet is (issue #15). calamine, a well-kept Rust reader that loads
the whole sheet, was the reader before; here it is the independent implementation
every cell is compared with, as text after the one cell rule (``_xlsx_cell``),
including whether a text column's cell is refused.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market40 import tabular
from market40.exceptions import InvalidFormat

openpyxl = pytest.importorskip("openpyxl")
python_calamine = pytest.importorskip("python_calamine")


def _cells(texts_of_row) -> dict[int, tuple[str, bool]]:
    out = {}
    for column, cell in texts_of_row:
        text, _ = tabular._xlsx_cell(cell, False)
        if text:
            out[column] = (text, tabular._xlsx_cell(cell, True)[1] is None)
    return out


def calamine_grid(data: bytes, sheet: str | None = None) -> dict[int, dict]:
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        sheet_data = book.get_sheet_by_name(sheet or book.sheet_names[0])
        if sheet_data.start is None:
            return {}
        first = sheet_data.start[1]
        grid = {}
        for index, cells in enumerate(sheet_data.iter_rows()):
            row = _cells((first + j, c) for j, c in enumerate(cells))
            if row:
                grid[index + 1] = row
        return grid
    finally:
        book.close()


def stream_grid(data: bytes, sheet: str | None = None) -> dict[int, dict]:
    """What market40 reads: through expat, and through the fast path when the sheet is regular."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    sheets, shared, styles, workbook = tabular._workbook_parts(archive, "t.xlsx")
    _, part = tabular._pick_sheet(sheets, sheet, "t.xlsx")
    reader = tabular._SheetReader(tabular._SharedStrings.read(archive, shared),
                                  tabular._style_kinds(archive, styles), tabular._date1904(archive, workbook),
                                  "t.xlsx")
    grids = []
    paths = [tabular._sheet_rows]
    if tabular._sheet_extent(archive, part)[2]:
        paths.append(tabular._regular_rows)  # the fast path must agree with expat's
    for path in paths:
        grid = {}
        for number, cells in path(archive, part, reader):
            row = _cells(enumerate(cells))
            if row:
                assert number not in grid, f"row {number} read twice"
                grid[number] = row
        grids.append(grid)
    assert all(grid == grids[0] for grid in grids)
    return grids[0]


def saved(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_every_kind_of_cell_reads_as_calamine_reads_it():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Mã chợ", "Số tài khoản", "Ngày", "Giờ", "Số", "Cờ", "Công thức"])
    formats = ["dd/mm/yyyy", "yyyy-mm-dd hh:mm", "h:mm:ss", "[h]:mm", "0.00", "#,##0", "@", "mm:ss",
               '"Y: "0.00', "dd/mm/yy;@", "[$-409]d-mmm-yy", "0_);[Red](0)", "General", "m/d/yy h:mm AM/PM"]
    values = [0, 1, 1.5, 45996, 45996.75, 0.25, 123456789012345678, 0.1 + 0.2, -3, 60.5, 1e-7]
    for index, value in enumerate(values):
        for fmt in formats:
            if fmt == "[h]:mm" and abs(value) > 1e8:
                continue  # calamine fails on a duration past timedelta's range (see the next test)
            if value < 0 and tabular._number_format_kind(fmt) == tabular._DATE:
                continue  # calamine reads a negative date as midnight; market40 keeps the number
            sheet.append([f"C{index:02d}", "0012345678", dt.date(2026, 12, 3), dt.time(7, 30, 15),
                          value, index % 2 == 0, f"=E{sheet.max_row + 1}*2"])
            sheet.cell(sheet.max_row, 5).number_format = fmt
    sheet.append(["Nguyễn Thị Ánh", "  có khoảng trắng  ", dt.datetime(2026, 1, 2, 3, 4, 5), None, "=1/0",
                  True, "=\"chữ\""])
    sheet.cell(sheet.max_row + 3, 9, "xa ngoài")  # a gap, then a cell far to the right
    data = saved(book)
    assert stream_grid(data) == calamine_grid(data)


def test_a_date_no_calendar_holds_stays_a_number():
    assert tabular._excel_date(1.2e17, tabular._DURATION, False) == 1.2e17
    assert tabular._excel_date(1.2e17, tabular._DATE, False) == 1.2e17
    assert tabular._excel_date(46359, tabular._DATE, False) == dt.datetime(2026, 12, 3)
    assert tabular._excel_date(0.5, tabular._DATE, True) == dt.time(12)
    assert tabular._excel_date(-3, tabular._DATE, False) == -3


def _workbook(sheet_xml: str, *, shared: list[str] | None = None, styles: str | None = None,
              date1904: bool = False) -> bytes:
    """A hand-written workbook, to reach XML shapes openpyxl never writes."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>'))
        archive.writestr("_rels/.rels", (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>'))
        properties = '<workbookPr date1904="1"/>' if date1904 else ""
        archive.writestr("xl/workbook.xml", (
            f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}">{properties}'
            '<sheets><sheet name="Danh sách" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        targets = [("rId1", "worksheet", "worksheets/sheet1.xml")]
        if shared is not None:
            targets.append(("rId2", "sharedStrings", "sharedStrings.xml"))
            items = "".join(f"<si>{item}</si>" for item in shared)
            archive.writestr("xl/sharedStrings.xml", f'<?xml version="1.0"?><sst xmlns="{main}">{items}</sst>')
        if styles is not None:
            targets.append(("rId3", "styles", "styles.xml"))
            archive.writestr("xl/styles.xml", f'<?xml version="1.0"?><styleSheet xmlns="{main}">{styles}</styleSheet>')
        archive.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships">' + "".join(f'<Relationship Id="{i}" Type="{rel}/{k}" Target="{t}"/>'
                                        for i, k, t in targets) + '</Relationships>'))
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml.replace("MAIN", main))
    return buffer.getvalue()


STYLES = ('<numFmts count="3"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
          '<numFmt numFmtId="165" formatCode="[hh]:mm"/><numFmt numFmtId="166" formatCode="&quot;d&quot;0"/>'
          '</numFmts><cellXfs count="6"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/>'
          '<xf numFmtId="166"/><xf numFmtId="14"/><xf numFmtId="46"/></cellXfs>')


SHARED = ["Chợ Bến Thành", "<r><t xml:space=\"preserve\">Rich </t></r><r><rPr><b/></rPr><t xml:space=\"preserve\">text </t></r>",
          "<t>Tô</t><rPh sb=\"0\" eb=\"1\"><t>to</t></rPh>", "<t/>", "<t>0012345678</t>"]
SHARED = [s if s.startswith("<") else f"<t>{s}</t>" for s in SHARED]
HAND_WRITTEN = (
    '<?xml version="1.0"?><x:worksheet xmlns:x="MAIN"><x:sheetData>'
    '<x:row r="2"><x:c r="B2" t="s"><x:v>0</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c>'
    '<x:c t="s"><x:v>2</x:v></x:c><x:c t="s"><x:v>3</x:v></x:c><x:c r="G2" t="s"><x:v>4</x:v></x:c></x:row>'
    '<x:row><x:c t="inlineStr"><x:is><x:t>nội dòng</x:t></x:is></x:c>'
    '<x:c t="inlineStr"><x:is><x:r><x:t>a</x:t></x:r><x:r><x:t>b</x:t></x:r></x:is></x:c>'
    '<x:c t="b"><x:v>1</x:v></x:c><x:c t="b"><x:v>0</x:v></x:c><x:c t="e"><x:v>#N/A</x:v></x:c>'
    '<x:c t="str"><x:f>A1</x:f><x:v>từ công thức</x:v></x:c></x:row>'
    '<x:row r="5"><x:c r="A5" s="1"><x:v>46359</x:v></x:c><x:c r="B5" s="2"><x:v>1.75</x:v></x:c>'
    '<x:c r="C5" s="3"><x:v>12</x:v></x:c><x:c r="D5" s="4"><x:v>0.5</x:v></x:c>'
    '<x:c r="E5" s="5"><x:v>2.5</x:v></x:c><x:c r="F5" s="1"><x:v>45996.999999</x:v></x:c>'
    '<x:c r="G5"><x:v>1.23456789012345E+20</x:v></x:c><x:c r="H5" s="1"/><x:c r="I5"><x:v></x:v></x:c>'
    '<x:c r="J5" s="9"><x:v>7</x:v></x:c></x:row>'
    '<x:row r="9"><x:c r="AA9"><x:v>-0.000001</x:v></x:c></x:row>'
    '</x:sheetData></x:worksheet>')
# The same cells as most writers put them: no prefix, every cell and row numbered (the fast path),
# plus entities, a shared formula and a cell of each odd shape the fast path hands to expat.
REGULAR = (
    '<?xml version="1.0"?><worksheet xmlns="MAIN"><sheetData>'
    '<row r="2"><c r="B2" t="s"><v>0</v></c><c r="C2" t="s"><v>1</v></c>'
    '<c r="D2" t="s"><v>2</v></c><c r="E2" t="s"><v>3</v></c><c r="G2" t="s"><v>4</v></c></row>'
    '<row r="3"><c r="A3" t="inlineStr"><is><t>nội dòng &amp; &lt;b&gt; &#7841;&#x1EA1;</t></is></c>'
    '<c r="B3" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c>'
    '<c r="C3" t="b"><v>1</v></c><c r="D3" t="b"><v>0</v></c><c r="E3" t="e"><v>#N/A</v></c>'
    '<c r="F3" t="str"><f>A1</f><v>từ công thức</v></c>'
    '<c r="G3" t="inlineStr"><is><t xml:space="preserve"> cách </t></is></c>'
    '<c r="H3" t="inlineStr"><is><t>Tô</t><rPh sb="0" eb="1"><t>to</t></rPh></is></c>'
    '<c r="I3"><f t="shared" ref="I3:I4" si="0">A1*2</f><v>4</v></c>'
    '<c r="J3" t="inlineStr"><is><t>dòng\r\nmới\rnữa&#13;</t></is></c></row>'
    '<row r="5"><c r="A5" s="1"><v>46359</v></c><c r="B5" s="2"><v>1.75</v></c>'
    '<c r="C5" s="3"><v>12</v></c><c r="D5" s="4"><v>0.5</v></c>'
    '<c r="E5" s="5"><v>2.5</v></c><c r="F5" s="1"><v>45996.999999</v></c>'
    '<c r="G5"><v>1.23456789012345E+20</v></c><c r="H5" s="1"/><c r="I5"><v></v></c>'
    '<c r="J5" s="9"><v>7</v></c><c r="K5" s="1" t="n"><f t="shared" si="0"/><v>46000</v></c></row>'
    '<row r="9"><c r="AA9"><v>-0.000001</v></c></row>'
    '</sheetData></worksheet>')


@pytest.mark.parametrize("sheet", [HAND_WRITTEN, REGULAR], ids=["prefixed, unnumbered", "regular"])
@pytest.mark.parametrize("date1904", [False, True])
def test_hand_written_shapes_read_as_calamine_reads_them(sheet, date1904):
    data = _workbook(sheet, shared=SHARED, styles=STYLES, date1904=date1904)
    assert stream_grid(data) == calamine_grid(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(
    st.none(), st.text(max_size=12), st.booleans(),
    st.integers(min_value=-10**17, max_value=10**17),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.times()), max_size=6), max_size=8))
def test_random_sheets_read_as_calamine_reads_them(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append([tabular._clean_cell(v) if isinstance(v, str) else v for v in row])
    data = saved(book)
    assert stream_grid(data) == calamine_grid(data)


def test_the_fast_path_reads_regular_sheets():
    assert tabular._sheet_extent(zipfile.ZipFile(io.BytesIO(_workbook(REGULAR, shared=SHARED))), 
                                 "xl/worksheets/sheet1.xml")[2]
    assert not tabular._sheet_extent(zipfile.ZipFile(io.BytesIO(_workbook(HAND_WRITTEN, shared=SHARED))),
                                     "xl/worksheets/sheet1.xml")[2]


def test_a_cell_pointing_past_the_shared_strings_is_refused_with_its_row():
    sheet = ('<?xml version="1.0"?><worksheet xmlns="MAIN"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
             '<c r="B1" t="s"><v>1</v></c></row><row r="7"><c r="A7" t="s"><v>5</v></c></row></sheetData></worksheet>')
    data = _workbook(sheet, shared=["<t>Mã chợ</t>", "<t>Mã sạp</t>"])
    with pytest.raises(InvalidFormat, match="row 7"):
        with tabular.read_table(io.BytesIO(data), kind="xlsx") as table:
            list(table)


def test_broken_sheet_xml_is_an_invalid_file_not_a_crash():
    sheet = '<?xml version="1.0"?><worksheet xmlns="MAIN"><sheetData><row r="1"><c r="A1"><v>1</v></row>'
    data = _workbook(sheet)
    with pytest.raises(InvalidFormat, match="not a valid XLSX"):
        with tabular.read_table(io.BytesIO(data), kind="xlsx") as table:
            list(table)


@pytest.mark.parametrize("code, kind", [
    ("dd/mm/yyyy", tabular._DATE), ("h:mm AM/PM", tabular._DATE), ("[h]:mm:ss", tabular._DURATION),
    ("[mm]", tabular._DURATION), ('"Y: "0.00', 0), ("#,##0\\ [$₫-42A]", 0), ("0_);[Red](0)", 0),
    ("#,##0*y", 0), ("[Red][h]", tabular._DURATION), ("[>=100][Magenta].00", 0), ("General", 0),
    ("0;dd/mm/yyyy", 0), ("[$-42A]dd/mm/yyyy", tabular._DATE),
])
def test_number_formats_that_are_dates(code, kind):
    assert tabular._number_format_kind(code) == kind
