"""market40.sniff: the one file sniffer, on the bytes people really send, through every importer.

Stall lists (and markets, census, fees: all through ``tabular.read_table``) and bank exports
(``tx import``) ask the same sniffer, so the same bytes give the same answer at both doors.
"""
import ast
import io
import unicodedata
import zipfile
from pathlib import Path

import pytest

from legacy_bytes import cp1258
from market40 import sniff
from market40.exceptions import InvalidFormat, Market40Error, NotFound
from market40.services.transfers import import_file
from market40.tabular import read_table
from market40.txstore import TransferStore

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["Nguyễn Thị Lựu", "Trần Văn Đức", "Phạm Thị Hằng", "Lê Ngọc Ánh"]
STALLS = "Mã sạp;Tên chủ hộ\r\n" + "".join(f"A{i};{name}\r\n" for i, name in enumerate(NAMES, 1))
#: a VietinBank-style export (";") whose contents carry Vietnamese names
BANK = ("STT;Số tài khoản;Mã giao dịch;Ngày giao dịch;Số tiền ghi nợ;Số tiền ghi có;Nội dung\r\n"
        + "".join(f"{i};0011000{i};FT{i};01/06/2025 08:0{i}:00;;{i}0.000;HL1 A{i} {name} chuyển tiền\r\n"
                  for i, name in enumerate(NAMES, 1)))

ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-sig": lambda text: text.encode("utf-8-sig"),  # Excel's "CSV UTF-8"
    "utf-16": lambda text: text.encode("utf-16"),  # Excel's "Unicode text": BOM, little-endian
    "cp1258": cp1258,  # "CSV (Comma delimited)" on a Vietnamese Windows
}


def sniffed(data: bytes, name: str = "f.csv", **options) -> sniff.Sniff:
    return sniff.sniff(io.BytesIO(data), name, **options)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_encoding_excel_writes(encoding):
    found = sniffed(ENCODINGS[encoding](STALLS))
    assert (found.kind, found.encoding, found.delimiter) == ("csv", encoding, ";")
    assert found.bom == {"utf-8-sig": 3, "utf-16": 2}.get(encoding, 0)
    # Windows-1258 writes the tone marks apart: the same names once composed
    assert unicodedata.normalize("NFC", found.sample) == STALLS


@pytest.mark.parametrize("text, delimiter", [
    ("a,b,c\n1,2,3\n", ","), ("a;b;c\n1;2;3\n", ";"), ("a\tb\tc\n1\t2\t3\n", "\t"),
    ('"Ngân hàng, ví";Tên\nVCB;Lan\n', ";"),  # commas inside quotes do not count
    ("sep=;\na;b\n", ";"), ("only one column\n", ","),
])
def test_delimiters(text, delimiter):
    assert sniffed(text.encode()).delimiter == delimiter


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, message", [
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b"\r\n \r\n", "the file is empty"),
    ("junk.csv", bytes(range(256)) * 4, "binary data: control character 0x00 at byte offset 0"),
    ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG image"),
    ("old.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), ".xls"),
    ("mixed.csv", "Tên\nLan".encode() + b"\x81\x8d\n", "not valid UTF-8, and it is not Windows-1258"),
])
def test_junk_is_refused_by_name_with_a_market40_error(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InvalidFormat) as caught:
        sniff.sniff_path(tmp_path / name)
    assert name in str(caught.value) and message in str(caught.value)


def test_an_xlsx_renamed_csv_is_a_workbook_where_workbooks_are_read(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(xlsx_bytes())
    assert sniff.sniff_path(path).kind == "xlsx"
    with pytest.raises(InvalidFormat, match=r"list\.csv: this is an XLSX workbook"):
        sniff.sniff_path(path, accept=("csv",))


def test_json_lines_only_where_they_are_read():
    data = b'\xef\xbb\xbf{"gateway": "VCB"}\n'
    assert sniffed(data, accept=("csv", "xlsx", "jsonl")).kind == "jsonl"
    assert sniffed(data).kind == "csv"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(NotFound, match="nope.csv"):
        sniff.sniff_path(tmp_path / "nope.csv")
    with pytest.raises(InvalidFormat, match="directory"):
        sniff.sniff_path(tmp_path)


def test_head_only_sniff_leaves_the_rest_to_the_reader():
    data = ("a,b\n" + "x,y\n" * 20_000).encode() + b"\xff\n"
    assert sniffed(data, whole=False).encoding == "utf-8"
    assert sniffed(data).encoding == "cp1258"  # the whole file: one byte further on changes the answer


def test_transcode_to_utf8_keeps_lines_and_composes(tmp_path):
    path, out = tmp_path / "in.csv", tmp_path / "out.csv"
    path.write_bytes(cp1258(BANK))
    sniff.transcode_to_utf8(path, sniff.sniff_path(path), out)
    assert out.read_bytes() == BANK.encode("utf-8")


# --- the same bytes through both importers --------------------------------------------------

@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_stall_lists_and_bank_exports_read_the_same_bytes_alike(tmp_path, encoding):
    stalls, bank = tmp_path / f"stalls-{encoding}.csv", tmp_path / f"bank-{encoding}.csv"
    stalls.write_bytes(ENCODINGS[encoding](STALLS))
    bank.write_bytes(ENCODINGS[encoding](BANK))
    with read_table(stalls, schema="stalls") as table:
        assert [row.values["owner_name"] for row in table] == NAMES
        assert (table.encoding, table.delimiter) == (encoding, ";")
    with TransferStore(tmp_path / "t.duckdb") as store:
        result = import_file(store, bank)
        assert (result.layout, result.inserted, result.invalid) == ("vietinbank", len(NAMES), 0)
        contents = sorted(t.content for t in store.transfers())
        assert contents == sorted(f"HL1 A{i} {name} chuyển tiền" for i, name in enumerate(NAMES, 1))
        again = import_file(store, bank)
        assert again.already_imported  # the original file's fingerprint, not the UTF-8 copy's
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([stalls.name, bank.name, "t.duckdb"])


@pytest.mark.parametrize("name, data, message", [
    ("empty.csv", b"", "the file is empty"),
    ("junk.csv", bytes(range(256)) * 4, "binary data: control character 0x00 at byte offset 0"),
    ("old.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), ".xls"),
])
def test_both_importers_refuse_junk_in_the_same_words(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(Market40Error) as stall_error:
        read_table(path, schema="stalls")
    with TransferStore(":memory:") as store, pytest.raises(Market40Error) as bank_error:
        import_file(store, path)
    assert message in str(stall_error.value) and message in str(bank_error.value)
    assert name in str(stall_error.value) and name in str(bank_error.value)


def test_no_other_module_decides_encodings():
    """Byte-order marks and code pages are named in market40/sniff.py only."""
    words = ("BOM_UTF", "cp1258", "utf-16", "\\xef\\xbb\\xbf")
    for path in sorted((ROOT / "market40").rglob("*.py")):
        if path.name == "sniff.py" or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        code = [node for node in ast.walk(tree) if isinstance(node, (ast.Attribute, ast.Constant))]
        for node in code:
            text = node.attr if isinstance(node, ast.Attribute) else node.value
            if isinstance(text, bytes):
                text = repr(text)
            if isinstance(text, str) and len(text) < 40:
                assert not any(w.lower() in text.lower() for w in words), f"{path.relative_to(ROOT)}: {text!r}"


@pytest.mark.parametrize("encoding", ["utf-16", "cp1258"])
def test_a_bad_row_in_a_transcoded_export_keeps_its_line_number(tmp_path, encoding):
    text = BANK.replace("01/06/2025 08:03:00", "31/06/2025 08:03:00")  # the third row, line 4
    plain, coded = tmp_path / "plain.csv", tmp_path / f"coded-{encoding}.csv"
    plain.write_bytes(text.encode("utf-8"))
    coded.write_bytes(ENCODINGS[encoding](text))
    lines = []
    for path in (plain, coded):
        with TransferStore(":memory:") as store:
            result = import_file(store, path, partial=False)
        assert result.invalid == 1 and not result.written
        lines.append([(p.get("line"), p.get("tx_id")) for p in result.problems])
    assert lines[0] == lines[1] == [(4, "FT3")]
